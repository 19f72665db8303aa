"""A classroom against one server: health latency while ten sessions work, and memory.

  (a) GET /_stcore/health every 0.2 s, median and p95, while ten Chromium sessions each
      start a different configuration (gradient_descent, 300 steps, ten seeds) on a
      server with two workers, until every page shows its result.     goal p95 <= 100 ms
      Beside it, the same figures from the same server idle (the baseline).
  (b) resident memory (RSS) of the server and its worker processes together, after one
      session has visited every page of the Lab with its defaults and each page's runs
      have finished.                    goal <= 690 MB (Community Cloud's smallest box)

The server is warmed up first (one visit, one finished run), as a classroom meets a
running server. Read from /proc, so Linux only.

In (a) the ten Chromium sessions run on this machine, but as if on the visitors' own:
the bench and the browsers it starts get the lowest CPU share, and the health probes
come from a process of their own at the normal share. The lowest share is the nice of
their autogroups set to 19. A plain `nice` on Chromium does nothing against the server,
which sits in an autogroup of its own, and Chromium starts sessions (so autogroups) of
its own: before 2026-12-06 only the bench's autogroup was set, so the ten renderers
still took their full share. --browsers-here gives them the same share as the server
and probes from a thread of the bench: that measures this machine's stalls under ten
renderers as much as the server.

Run: python bench/visitors.py [--memory-only | --health-only] [--browsers-here]
     (LAB_WORKER_MODE=thread for thread mode)
"""
from __future__ import annotations

import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, CHROMIUM_ARGS, IDLE, Server  # noqa: E402
from core import catalog  # noqa: E402

HEALTH_GOAL_MS = 100.0
RSS_GOAL_MB = 690.0
DONE = "/Done: |cannot start now|failed/"


def health(url: str, seconds: float | None = None, stop: threading.Event | None = None,
           out=None):
    """(time.time(), latency in ms) of GET /_stcore/health every 0.2 s, for `seconds` or
    until `stop`; each also written to `out` as it comes (a prober that is killed)."""
    times = []
    end = time.monotonic() + (seconds or 1e9)
    while time.monotonic() < end and not (stop and stop.is_set()):
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as reply:
                reply.read()
            times.append((time.time(), (time.perf_counter() - started) * 1000))
        except OSError:
            times.append((time.time(), 10_000.0))
        if out is not None:
            out.write(f"{times[-1][0]} {times[-1][1]}\n")
        time.sleep(0.2)
    return times


PROBE = ("import sys; sys.path.insert(0, sys.argv[1]); from bench.visitors import health; "
         "health(sys.argv[2], out=open(sys.argv[3], 'w', buffering=1))")


class Prober:
    """`health` in a process of its own (its own session, so its own autogroup)."""

    def __init__(self, url: str, path: Path):
        import subprocess
        self.path = path
        self.proc = subprocess.Popen([sys.executable, "-c", PROBE, str(ROOT), url, str(path)],
                                     start_new_session=True)

    def stop(self) -> list[tuple[float, float]]:
        self.proc.terminate()
        self.proc.wait(10)
        return [(float(t), float(ms)) for t, ms in
                (line.split() for line in self.path.read_text().splitlines() if line.strip())]


def describe(probes: list[tuple[float, float]]) -> str:
    times = [ms for _, ms in probes]
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 20 else max(times)
    return f"median {statistics.median(times):6.1f} ms, p95 {p95:6.1f} ms ({len(times)} probes)"


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def set_autogroup_nice(nice: int) -> int:
    """Set the nice of this process's autogroup and of its Chromium's (Chromium and its
    helpers start sessions of their own; the server, also our child, is left alone);
    how many processes' autogroups were written."""
    done = 0
    for pid in process_tree(os.getpid()):
        try:
            if pid == os.getpid() or "chrom" in os.readlink(f"/proc/{pid}/exe"):
                Path(f"/proc/{pid}/autogroup").write_text(str(nice))
                done += 1
        except OSError:  # gone meanwhile
            pass
    return done


def _kb(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int) -> float:
    """RSS of `pid` and all its descendants, in MB: a page of a shared library counts
    once in every process that maps it."""
    return sum(_kb(f"/proc/{p}/status", "VmRSS") for p in process_tree(pid)) / 1024


def pss_mb(pid: int) -> float:
    """PSS of `pid` and all its descendants, in MB: each shared page is split between
    the processes that map it (libtorch's pages are one copy in memory, whichever number
    of workers maps them), so the sum is the memory the tree really holds."""
    return sum(_kb(f"/proc/{p}/smaps_rollup", "Pss") for p in process_tree(pid)) / 1024


def rss_mb_of(pid: int) -> float:
    """RSS of `pid` alone, in MB."""
    return _kb(f"/proc/{pid}/status", "VmRSS") / 1024


def wait_text(page, pattern: str, timeout_s: float) -> None:
    page.wait_for_function(f"() => {pattern}.test(document.body.innerText)",
                           timeout=timeout_s * 1000, polling=1000)


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-only", action="store_true", help="only (b)")
    parser.add_argument("--health-only", action="store_true", help="only (a)")
    parser.add_argument("--browsers-here", action="store_true",
                        help="Chromium at the server's CPU share, probes from a thread of "
                             "the bench (see above)")
    args = parser.parse_args()
    # `timeout` and Ctrl-C stop the bench through its `finally`, which stops the server
    # (started in a session of its own, it would otherwise go on training)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp(prefix="lab-bench-visitors-"))
    server = Server(tmp / "cache", workers=2,
                    mode=os.environ.get("LAB_WORKER_MODE", "process") or "process")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            first = browser.new_context().new_page()
            first.goto(f"{server.url}/gradient_descent?steps=30")
            wait_text(first, "/Done: 30 steps/", 180)
            first.context.close()
            if not args.memory_only:
                print("(a) /_stcore/health, idle server:      ", describe(health(server.url, 10)))
                stop = threading.Event()
                times: list[tuple[float, float]] = []
                poller = threading.Thread(target=lambda: times.extend(health(server.url, stop=stop)))
                prober = None
                if not args.browsers_here:
                    print(f"    lowest CPU share for this bench and its Chromium "
                          f"({set_autogroup_nice(19)} processes)")
                    prober = Prober(server.url, tmp / "probes.txt")
                else:
                    poller.start()
                started, started_wall = time.monotonic(), time.time()
                pages = []
                for i in range(10):
                    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
                    page.goto(f"{server.url}/gradient_descent?steps=300&seed={700 + i}",
                              wait_until="commit")
                    pages.append(page)
                for i, page in enumerate(pages):
                    wait_text(page, DONE, 300)
                    print(f"    visitor {i}: result shown at {time.monotonic() - started:.1f} s",
                          flush=True)
                took = time.monotonic() - started
                stop.set()
                if prober is not None:
                    times = prober.stop()
                    set_autogroup_nice(0)
                else:
                    poller.join()
                p95 = statistics.quantiles([ms for _, ms in times], n=20)[-1]
                print("(a) /_stcore/health, ten sessions work:", describe(times),
                      f"goal p95 <= {HEALTH_GOAL_MS:.0f} ms:", "met" if p95 <= HEALTH_GOAL_MS
                      else "NOT met")
                print(f"    all ten results shown after {took:.1f} s")
                slow = sorted(times, key=lambda probe: -probe[1])[:8]
                print("    slowest probes (s after the first visitor came: ms):",
                      ", ".join(f"{t - started_wall:.1f}: {ms:.0f}" for t, ms in sorted(slow)))
                for page in pages:
                    page.context.close()

            if args.health_only:
                return
            print(f"(b) RSS after the warm-up: {rss_mb(server.proc.pid):.0f} MB")
            page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
            for info in catalog.PAGES:
                page.goto(f"{server.url}/{info.name}")
                page.wait_for_selector(IDLE, timeout=120_000)
                page.wait_for_timeout(2000)
                end = time.monotonic() + 300
                while time.monotonic() < end:  # until nothing trains or waits
                    text = page.locator('[data-testid="stMain"]').inner_text()
                    if "Training on" not in text and "in the queue" not in text \
                            and "on their way" not in text:
                        break
                    time.sleep(1)
                print(f"    after {info.name:18s} RSS {rss_mb(server.proc.pid):6.0f} MB, "
                      f"PSS {pss_mb(server.proc.pid):6.0f} MB")
            total = rss_mb(server.proc.pid)
            own = rss_mb_of(server.proc.pid)
            print(f"    the server process alone: {own:.0f} MB; its workers and helpers: "
                  f"{total - own:.0f} MB")
            pss = pss_mb(server.proc.pid)
            print(f"(b) server + workers after every page: RSS {total:.0f} MB, PSS {pss:.0f} "
                  f"MB  goal <= {RSS_GOAL_MB:.0f} MB:",
                  "met" if pss <= RSS_GOAL_MB else "NOT met", "(PSS)")
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
