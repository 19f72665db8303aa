"""Several visitors in one server (AppTest sessions share the process's registry): one
visitor's Cancel drops only that visitor's claim, and a visitor over the per-session cap
or facing a full queue is told so on the page, with a way to retry, never an exception."""
from __future__ import annotations

import time

from core import engine
from tests.apptest_support import fresh_registry, open_page  # noqa: F401

LONG = {"steps": "20000", "seed": "7"}


def panel_infos(at) -> list[str]:
    return [i.value for i in at.info]


def test_one_visitors_cancel_leaves_the_run_training_for_another():
    alice = open_page("views/gradient_descent.py", query=LONG)
    bob = open_page("views/gradient_descent.py", query=LONG)
    (run,) = engine.default_registry().active_runs()  # one training for both
    bob.button(key="gd.cancel").click().run()
    assert any("another visitor" in text for text in panel_infos(bob))
    assert not run.cancelled and run.status in engine.ACTIVE
    for _ in range(2):  # bob's later reruns do not claim it again
        bob.run()
    assert {o.split(":")[0] for o in engine.default_registry().owners(run)} == \
        {alice.session_state["lab.session"]}
    alice.run()
    assert not any("another visitor" in text for text in panel_infos(alice))
    # the last visitor's cancel stops it
    alice.button(key="gd.cancel").click().run()
    deadline = time.monotonic() + 30
    while run.status in engine.ACTIVE:
        assert time.monotonic() < deadline, "the run was not cancelled"
        time.sleep(0.2)
    assert run.status == engine.CANCELLED
    bob.button(key="gd.watch").click().run()  # bob can look again: it ended meanwhile
    assert not bob.exception


def test_a_visitor_over_the_cap_is_told_so_and_can_retry(monkeypatch):
    monkeypatch.setenv("LAB_MAX_RUNS_PER_SESSION", "1")
    engine.reset_default_registry()
    # the grokking page starts two runs (with and without weight decay): the second one
    # is over a cap of one
    at = open_page("views/grokking.py", query={"steps": "20000"})
    warnings = [w.value for w in at.warning if "cannot start now" in w.value]
    assert len(warnings) == 1 and "at most 1 at once" in warnings[0]
    assert not at.exception
    assert at.button(key="gk0.retry").label == "Try again"
    for run in engine.default_registry().active_runs():
        run.cancel()


def test_a_full_queue_is_reported_with_a_retry_button(monkeypatch):
    registry = engine.default_registry()
    monkeypatch.setattr(registry, "max_queue", 0)  # every new run finds the queue full
    at = open_page("views/hopfield.py", query={"trials": "3"})
    warnings = [w.value for w in at.warning if "cannot start now" in w.value]
    assert warnings and "already waiting" in warnings[0]
    assert not at.exception
    at.button(key="hop.retry").click().run()
    assert not at.exception
