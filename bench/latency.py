"""Latency of the live app, measured in a real Chromium against a server it starts itself.

  (a) warm server, NEW configuration: navigation -> progress bar shown, and
      navigation -> first chart (first streamed point) shown.       goal <= 1 s
  (b) revisit of a finished configuration in a fresh page: navigation -> all 5 charts
      shown and the script idle.                                    goal <= 0.5 s
  (c) GET /_stcore/health, median and p95, while two runs train (two pages open).
                                                                    goal <= 100 ms
  (d) steps/s of a run training in the server with its page open and streaming, vs the
      same config trained through the engine (`execute`, as run_sync does) in this
      process with no server running. Tells whether the worker thread starves under a
      live page. Also: the same kind of run trained by the server with no page open
      (steps/elapsed from its cached record). (a), (b), (d) use one server, stopped
      before the 'alone' figure so nothing else trains; (c) starts a second one.

  (e) in-app navigation (the sidebar's link, no page load) from the home page to a page
      whose default configuration has finished: click -> all 5 charts shown and the
      script idle.                                                  goal <= 1 s

Times in (a) and (b) are taken in the page (performance.now(), from the start of the
navigation), so they include the page load and the websocket handshake. (a') and (b')
time the same two things inside an already open page, from changing a control (the
seed) to what the user waits for: no page load.

Run: python bench/latency.py [--reps N]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]
PAGE = "/gradient_descent"
CHART = '[data-testid="stVegaLiteChart"]'
PROGRESS = '[data-testid="stProgress"]'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
N_CHARTS = 5
# the most steps the page accepts (a larger value is refused with a warning, and the
# page trains its default 1,000 steps instead): ~20 s here, (d) reads progress over 10 s
LONG_STEPS = 20000
PROGRESS_RE = re.compile(r"step ([\d,]+) of ([\d,]+) · ([\d.]+) s")

# Records, in the page, when each milestone was first seen (ms since navigation start).
WATCH_JS = r"""
(() => {
  window.__seen = {};
  const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const drawn = el => visible(el) && el.querySelector('canvas, svg') !== null;
  function check() {
    const now = performance.now(), s = window.__seen;
    if (!document.body) return;
    if (s.app === undefined && document.querySelector('[data-testid="stApp"]')) s.app = now;
    if (s.title === undefined) {
      const h = document.querySelector('h1');
      if (h && visible(h)) s.title = now;
    }
    if (s.charts5 === undefined && document.querySelectorAll('%(chart)s').length >= %(n)d &&
        [...document.querySelectorAll('%(chart)s')].filter(drawn).length >= %(n)d) s.charts5 = now;
    if (s.progress === undefined) {
      const p = document.querySelector('%(progress)s');
      if (p && visible(p)) s.progress = now;
    }
    const charts = [...document.querySelectorAll('%(chart)s')].filter(drawn);
    s.nth = s.nth || [];
    while (s.nth.length < charts.length) s.nth.push(now);
    if (s.chart === undefined && charts.length > 0) s.chart = now;
    if (s.done === undefined && [...document.querySelectorAll('[data-testid="stAlert"]')]
          .some(a => a.textContent.includes('Done:'))) s.done = now;
    if (s.running === undefined && document.querySelector('[data-testid="stApp"][data-test-script-state="running"]')) s.running = now;
    if (s.running !== undefined && s.idle === undefined && document.querySelector('%(idle)s')) s.idle = now;
    if (s.full === undefined && charts.length >= %(n)d && s.done !== undefined &&
        document.querySelector('%(idle)s')) s.full = now;
  }
  new MutationObserver(check).observe(document, {subtree: true, childList: true,
                                                 attributes: true, characterData: true});
  setInterval(check, 5);
})();
""" % {"progress": PROGRESS, "chart": CHART, "idle": IDLE, "n": N_CHARTS}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Server:
    def __init__(self, cache_dir: str, workers: int = 2):
        self.cache_dir = cache_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(cache_dir).parent / f"server-{self.port}.log"
        env = dict(os.environ, LAB_CACHE_DIR=cache_dir, LAB_WORKERS=str(workers))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py",
             "--server.port", str(self.port), "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_healthy(self, timeout: float = 90) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return time.monotonic() - t0
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the server was not healthy within {timeout} s")

    def stop(self) -> None:
        """Stop the server's whole process group: SIGTERM, then SIGKILL."""
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        except ProcessLookupError:
            pass


def health_latencies(url: str, n: int, spacing: float, budget: float) -> list[float]:
    """Seconds per GET /_stcore/health, `n` requests `spacing` apart, within `budget` s."""
    out, end = [], time.monotonic() + budget
    for _ in range(n):
        if time.monotonic() > end:
            break
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as r:
            assert r.read().strip() == b"ok"
        out.append(time.perf_counter() - t0)
        time.sleep(spacing)
    return out


def open_page(context, url: str, wait_for: str | None, timeout_s: float = 60):
    """A fresh page (a new Streamlit session) at `url`; returns (page, seen-times in s)."""
    page = context.new_page()
    page.goto(url, wait_until="commit")
    if wait_for:
        page.wait_for_function(f"() => window.__seen && window.__seen.{wait_for} !== undefined",
                               timeout=timeout_s * 1000, polling=20)
    return page


def seen(page) -> dict[str, float]:
    raw = page.evaluate("() => window.__seen")
    return {k: [x / 1000 for x in v] if isinstance(v, list) else v / 1000
            for k, v in raw.items()}


def progress(page) -> tuple[int, int, float] | None:
    """(step, total, elapsed s) from the page's progress text, or None when none is shown."""
    loc = page.locator(PROGRESS)
    if loc.count() == 0:
        return None
    m = PROGRESS_RE.search(loc.first.inner_text())
    if not m:
        return None
    return int(m[1].replace(",", "")), int(m[2].replace(",", "")), float(m[3])


def sample_progress(page, seconds: float) -> list[tuple[int, int, float]]:
    """Progress readings, one each time the shown elapsed time changes, for `seconds`
    or until the run ends (the first reading taken once training has started)."""
    readings: list[tuple[int, int, float]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        reading = progress(page)
        if reading and (not readings or reading[2] > readings[-1][2]):
            readings.append(reading)
        elif reading is None and readings:
            break  # the run ended: its progress bar is gone
        page.wait_for_timeout(250)
    return readings


def wait_cached(server: Server, seed: int, timeout_s: float) -> dict:
    """The cached record (its JSON) of the finished run with this seed."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        for path in Path(server.cache_dir).glob("*.json"):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being written
            if record.get("config", {}).get("seed") == seed:
                return record
        time.sleep(0.5)
    raise RuntimeError(f"the run with seed {seed} was not cached within {timeout_s} s")


def engine_rate(query: dict[str, str], warm_s: float, span_s: float) -> float:
    """Steps/s of `query`'s config trained through the engine in this process alone,
    sampled like the page: (step, elapsed) at two times, then cancelled."""
    import torch

    from core import engine, params
    from core.experiments import get as get_experiment

    torch.set_num_threads(1)
    exp = get_experiment("gradient_descent")
    config, warnings = params.from_query(exp.Config, query)
    assert not warnings, warnings
    config = params.validate(config)
    run = engine.Run(exp, config, params.cache_key(exp.name, exp.version, config), "bench")
    thread = threading.Thread(target=engine.execute, args=(run,))
    thread.start()
    try:
        time.sleep(warm_s)
        v1 = run.view()
        time.sleep(span_s)
        v2 = run.view()
    finally:
        run.cancel()
        thread.join(30)
    return (v2.step - v1.step) / (v2.elapsed - v1.elapsed)


SEED_INPUT = '[data-testid="stNumberInput"]'
FIRST_POINT_JS = """() => { const p = document.querySelector('%s');
  return p !== null && /step [1-9]/.test(p.innerText); }""" % PROGRESS
SUCCESS = '[data-testid="stAlertContentSuccess"]'


def in_page(context, base: str, reps: int) -> tuple[list[float], list[float]]:
    """In an open page: type a new seed (a new run) and time the first streamed point
    (the progress bar showing a step > 0); then type the previous, finished seed back and
    time its full render (its own 'Done' line, 5 charts, script idle). No page load in
    either figure: this is what a user waits for after changing a control."""
    page = open_page(context, f"{base}?steps=3000&seed=4000", "full", timeout_s=120)
    box = page.locator(SEED_INPUT).filter(has_text="Seed").locator("input")
    firsts, revisits = [], []
    previous, previous_text = 4000, page.locator(SUCCESS).inner_text()
    for i in range(reps):
        seed = 4001 + i
        box.fill(str(seed))
        t0 = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(FIRST_POINT_JS, timeout=120_000, polling=10)
        firsts.append(time.perf_counter() - t0)
        page.wait_for_function(
            "() => !document.querySelector('%s') && document.querySelector('%s')"
            % (PROGRESS, SUCCESS), timeout=120_000, polling=20)
        text = page.locator(SUCCESS).inner_text()
        box.fill(str(previous))
        t0 = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(
            """([want, chart, idle, n]) => {
                 const s = document.querySelector('%s');
                 return s && s.innerText === want && document.querySelector(idle) &&
                        document.querySelectorAll(chart).length >= n; }""" % SUCCESS,
            arg=[previous_text, CHART, IDLE, N_CHARTS], timeout=60_000, polling=10)
        revisits.append(time.perf_counter() - t0)
        print(f"    rep {i + 1}: new seed {seed} -> first point {firsts[-1]:.2f} s; "
              f"back to seed {previous} -> full render {revisits[-1]:.2f} s")
        # next round: go forward to this round's seed again, then come back to it
        box.fill(str(seed))
        box.press("Enter")
        page.wait_for_function(
            "([want]) => { const s = document.querySelector('%s'); return s && "
            "s.innerText === want; }" % SUCCESS, arg=[text], timeout=60_000, polling=20)
        previous, previous_text = seed, text
    page.close()
    return firsts, revisits


def in_app_navigation(context, server: Server, reps: int) -> list[float]:
    """From the home page, click the sidebar's link to the page (its defaults finished in
    the warm-up) and time, in the page, the click -> 5 charts drawn, 'Done', idle."""
    page = open_page(context, server.url + "/", None)
    page.wait_for_selector(IDLE, timeout=60_000)
    link = page.locator('[data-testid="stSidebarNav"] a', has_text="Gradient descent")
    home = page.locator('[data-testid="stSidebarNav"] a').first
    times = []
    for i in range(reps):
        page.wait_for_selector(IDLE, timeout=60_000)
        page.wait_for_timeout(500)
        t0 = page.evaluate("() => { window.__seen = {}; return performance.now(); }")
        link.click()
        page.wait_for_function("() => window.__seen.full !== undefined", timeout=60_000,
                               polling=10)
        t = page.evaluate("() => window.__seen.full") - t0
        times.append(t / 1000)
        nth = ", ".join(f"{(x - t0) / 1000:.2f}" for x in page.evaluate("() => window.__seen.nth"))
        marks = page.evaluate("() => [window.__seen.running, window.__seen.idle]")
        run_s = ", ".join(f"{(x - t0) / 1000:.2f}" if x else "-" for x in marks)
        print(f"    rep {i + 1}: script ran [{run_s}] s, charts drawn at [{nth}] s, "
              f"all done {t / 1000:.2f} s")
        home.click()
        page.wait_for_url(re.compile(r"/$"), timeout=30_000)
    page.close()
    return times


def start_server(tmp: str, name: str) -> tuple[Server, float]:
    cache_dir = os.path.join(tmp, name)
    os.makedirs(cache_dir)
    server = Server(cache_dir, workers=2)
    try:
        return server, server.wait_healthy()
    except BaseException:
        server.stop()
        raise


def warm_up(context, server: Server) -> None:
    """First visit: imports, the registry, the worker threads, torch in the server."""
    t0 = time.perf_counter()
    page = open_page(context, server.url + PAGE, "full", timeout_s=120)
    print(f"  warm-up: first visit (default config, trains 1000 steps) fully drawn after "
          f"{seen(page)['full']:.2f} s in-page, {time.perf_counter() - t0:.2f} s wall")
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of (a) and (b)")
    parser.add_argument("--only-e", action="store_true",
                        help="only the warm-up and (e), in-app navigation (about 40 s)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    tmp = tempfile.mkdtemp(prefix="lab-bench-")
    results: dict[str, str] = {}
    servers: list[Server] = []
    pw = browser = None
    try:
        print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus "
              "(other work on the machine slows every figure)")
        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script(WATCH_JS)

        # Server 1: (a), (b), (d). The run (d) leaves training ends with the server, so
        # the 'alone' figure has no server beside it and (c) starts from a clean one.
        server, startup = start_server(tmp, "cache1")
        servers.append(server)
        print(f"server 1 on {server.url} healthy after {startup:.1f} s (LAB_WORKERS=2)")
        warm_up(context, server)
        base = server.url + PAGE
        if args.only_e:
            navs = in_app_navigation(context, server, args.reps)
            print(f"(e) median {statistics.median(navs):.2f} s  goal <= 1 s")
            return
        idle = health_latencies(server.url, 40, 0.02, 10)
        print(f"  health, idle server: median {statistics.median(idle) * 1e3:.1f} ms, "
              f"p95 {pct(idle, 0.95) * 1e3:.1f} ms ({len(idle)} requests)")

        # (a) a new configuration on the warm server
        print("\n(a) new configuration (steps=3000, fresh seed), navigation ->")
        firsts, bars, fin_urls = [], [], []
        for i in range(args.reps):
            url = f"{base}?steps=3000&seed={1001 + i}"
            page = open_page(context, url, "chart")
            s = seen(page)
            page.wait_for_function("() => window.__seen.full !== undefined",
                                   timeout=120_000, polling=50)  # let it finish
            s_done = seen(page)
            page.close()
            firsts.append(s["chart"])
            if "progress" in s:
                bars.append(s["progress"])
            fin_urls.append(url)
            print(f"    rep {i + 1}: page title {s.get('title', float('nan')):.2f} s, progress "
                  f"bar {s.get('progress', float('nan')):.2f} s, first chart {s['chart']:.2f} s"
                  f"; done and drawn {s_done['full']:.2f} s")
        first = statistics.median(firsts)
        bar = statistics.median(bars) if bars else float("nan")
        print(f"    median: progress bar {bar:.2f} s; first chart {first:.2f} s  "
              f"goal <= 1 s  {verdict(first <= 1.0)}")
        results["a_bar"] = f"{bar:.2f} s"
        results["a_chart"] = f"{first:.2f} s"

        # (b) revisit of a finished configuration in a fresh page
        print("\n(b) revisit of a finished configuration, navigation -> 5 charts + idle")
        fulls = []
        for i in range(args.reps):
            page = open_page(context, fin_urls[i % len(fin_urls)], "full")
            s = seen(page)
            page.close()
            fulls.append(s["full"])
            nth = ", ".join(f"{t:.2f}" for t in s.get("nth", []))
            print(f"    rep {i + 1}: app shell {s['app']:.2f} s, page title {s['title']:.2f} s, "
                  f"charts drawn at [{nth}] s, idle {s['full']:.2f} s")
        full = statistics.median(fulls)
        print(f"    median: {full:.2f} s  goal <= 0.5 s  {verdict(full <= 0.5)}")
        results["b"] = f"{full:.2f} s"

        # (e) in-app navigation to a finished configuration
        print("\n(e) in-app navigation (sidebar link) from home to a finished configuration")
        navs = in_app_navigation(context, server, args.reps)
        nav = statistics.median(navs)
        print(f"    median: {nav:.2f} s  goal <= 1 s  {verdict(nav <= 1.0)}")
        results["e"] = f"{nav:.2f} s"

        # (a') and (b') inside an open page, after changing a control
        print("\n(a') and (b') in an open page: change the seed, then change it back")
        firsts, revisits = in_page(context, base, args.reps)
        first_in, revisit_in = statistics.median(firsts), statistics.median(revisits)
        print(f"    median: new run -> first point {first_in:.2f} s  goal <= 1 s  "
              f"{verdict(first_in <= 1.0)}; revisit -> full render {revisit_in:.2f} s  "
              f"goal <= 0.5 s  {verdict(revisit_in <= 0.5)}")
        results["a_in"] = f"{first_in:.2f} s"
        results["b_in"] = f"{revisit_in:.2f} s"

        # (d) steps/s with one page open and streaming
        print(f"\n(d) steps/s of one run (steps={LONG_STEPS}) with its page open and streaming")
        query = {"steps": str(LONG_STEPS), "seed": "3001"}
        # First the same kind of run trained by the server with no page open: start it
        # from a page, close the page at once, read steps/elapsed from its cached record.
        # It goes first, while nothing else trains.
        quiet_steps = 8000
        page = open_page(context, f"{base}?steps={quiet_steps}&seed=3002", "progress")
        page.close()
        quiet = wait_cached(server, 3002, timeout_s=120)
        quiet_rate = quiet["step"] / quiet["elapsed"]
        page = open_page(context, f"{base}?steps={LONG_STEPS}&seed=3001", "chart")
        readings = sample_progress(page, seconds=10.0)
        page.close()
        if len(readings) < 2:
            raise RuntimeError("could not read the progress text twice while the run "
                               f"trained: {readings}")
        p1, p2 = readings[0], readings[-1]
        live_rate = (p2[0] - p1[0]) / (p2[2] - p1[2])
        server.stop()
        alone_rate = engine_rate(query, 2.0, 8.0)
        print(f"    server, page open : {live_rate:7.0f} steps/s "
              f"(step {p1[0]:,} at {p1[2]:.1f} s -> {p2[0]:,} at {p2[2]:.1f} s)")
        print(f"    server, no page   : {quiet_rate:7.0f} steps/s "
              f"(steps={quiet_steps}: {quiet['step']:,} steps in {quiet['elapsed']:.1f} s, "
              "page closed after the run started)")
        print(f"    engine, alone     : {alone_rate:7.0f} steps/s (this process, no server)")
        print(f"    ratio page open / alone: {live_rate / alone_rate:.2f}; "
              f"no page / alone: {quiet_rate / alone_rate:.2f}")
        results["d_live"] = f"{live_rate:.0f}"
        results["d_quiet"] = f"{quiet_rate:.0f}"
        results["d_alone"] = f"{alone_rate:.0f} steps/s"

        # Server 2: (c) health while two runs train, two pages open
        server, startup = start_server(tmp, "cache2")
        servers.append(server)
        print(f"\nserver 2 on {server.url} healthy after {startup:.1f} s")
        warm_up(context, server)
        base = server.url + PAGE
        print(f"(c) GET /_stcore/health while two runs train (steps={LONG_STEPS}, 2 pages)")
        pages = [open_page(context, f"{base}?steps={LONG_STEPS}&seed={2001 + i}", "chart")
                 for i in range(2)]
        before = [progress(p) for p in pages]
        lat = health_latencies(server.url, 200, 0.05, 30)
        after = [progress(p) for p in pages]
        print(f"    progress bars: steps before {[b and b[0] for b in before]}, "
              f"after {[a and a[0] for a in after]}")
        if not all(before) or not all(after):
            print("    WARNING: a progress bar was missing: the runs may not both have trained")
        med, p95 = statistics.median(lat), pct(lat, 0.95)
        print(f"    {len(lat)} requests: median {med * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms, "
              f"max {max(lat) * 1e3:.1f} ms  goal p95 <= 100 ms  {verdict(p95 <= 0.1)}")
        results["c"] = f"median {med * 1e3:.0f} ms, p95 {p95 * 1e3:.0f} ms"
        for p in pages:
            p.close()

        print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
        print("summary")
        print(f"  (a) new config -> progress bar     {results['a_bar']:>24}")
        print(f"  (a) new config -> first chart      {results['a_chart']:>24}   goal <= 1 s")
        print(f"  (b) revisit -> full render         {results['b']:>24}   goal <= 0.5 s")
        print(f"  (a') in page: new run -> 1st point {results['a_in']:>24}   goal <= 1 s")
        print(f"  (b') in page: revisit -> rendered  {results['b_in']:>24}   goal <= 0.5 s")
        print(f"  (e) in-app navigation -> rendered {results['e']:>24}   goal <= 1 s")
        print(f"  (c) health, 2 runs training       {results['c']:>25}   goal p95 <= 100 ms")
        print(f"  (d) steps/s page open / no page / alone "
              f"{' / '.join([results['d_live'], results['d_quiet'], results['d_alone']]):>19}")
    finally:
        if browser is not None:
            browser.close()
        if pw is not None:
            pw.stop()
        for server in servers:
            server.stop()
        print(f"(servers stopped; logs in {tmp})")


if __name__ == "__main__":
    main()
