"""Does a presenter's → key reach the server? A diagnostic for talk mode, not a test.

It opens the gradient-descent page in talk mode in Chromium (a new seed each time, so
that the defaults train), waits until that run has ended, then presses → and expects
"step 1 of 4". A second → follows 0.3 to 1.2 s later, while the new step's run starts,
and must show "step 2 of 4". For each press it prints the websocket frames that the
browser sent. A press that works sends a rerun request of about 500–600 bytes within
0.1 s.

Found on 2026-12-06: 3 of 42 first presses were lost, each pressed just after the
default run had ended. None of the 39 second presses was lost.
- In one, the storyboard's callback never ran on the server (a temporary trace).
- In another, the browser sent no frame at all for the press (frames logged as here).
So Streamlit's frontend dropped the key; the server never got it.

Run: .venv/bin/python scripts/talk_keys.py [trials]   (about 5 s a trial)
"""
from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import Server, browser_page, wait_idle  # noqa: E402


def main(trials: int) -> None:
    server = Server(Path(tempfile.mkdtemp(prefix="lab-talk-keys-")) / "cache", workers=1)
    lost = 0
    try:
        with browser_page() as page:
            sent: list[tuple[float, int]] = []
            page.on("websocket", lambda ws: ws.on(
                "framesent", lambda payload: sent.append((time.time(), len(payload)))))

            def press(step: int) -> tuple[bool, list]:
                """Press →, wait up to 15 s for "step `step` of 4"; the frames sent."""
                at = time.time()
                page.keyboard.press("ArrowRight")
                try:
                    page.wait_for_function(
                        f"() => /step {step} of 4/.test(document.body.innerText)",
                        timeout=15_000)
                    shown = True
                except Exception:
                    shown = False
                frames = [(round(t - at, 2), size) for t, size in sent if 0 <= t - at < 1]
                return shown, frames

            for trial in range(trials):
                page.goto(f"{server.url}/gradient_descent?talk=1&seed={950 + trial}")
                page.wait_for_function(
                    "() => document.body.innerText.includes('4 steps to show')",
                    timeout=60_000)
                page.wait_for_selector('[data-testid="stAlertContentSuccess"]',
                                       timeout=90_000)
                wait_idle(page)
                shown, frames = press(1)
                report = f"trial {trial}: first → {'shown' if shown else 'LOST'}, frames {frames}"
                if shown:
                    delay = (0.3, 0.6, 0.9, 1.2)[trial % 4]
                    time.sleep(delay)
                    shown, frames = press(2)
                    report += (f"; second → {delay} s later "
                               f"{'shown' if shown else 'LOST'}, frames {frames}")
                lost += not shown
                print(report, flush=True)
    finally:
        server.stop()
    print(f"{lost} of {trials} trials lost a press")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 12)
