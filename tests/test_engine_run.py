"""core.engine.run: a Run's public API, execute() and run_sync() (fake experiments)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from core import engine, params
from core.engine.cache import DiskCache
from core.engine.run import new_run
from tests.engine_support import HINT, WAIT, Control, FakeConfig, fake, key_of


def test_run_sync_trains_in_the_calling_thread():
    ctl = Control()
    run = engine.run_sync(fake(ctl), FakeConfig(steps=2))
    assert ctl.threads == [threading.current_thread()]
    assert run.status == "done" and run.summary == {"final_loss": 0.5, "tag": "a"}
    assert run.metrics == {"loss": ([1, 2], [1.0, 0.5])}
    assert run.key == key_of(fake(ctl), FakeConfig(steps=2))
    assert run.wait(0)  # ended, and its waiters woken

    def boom(config, report):
        raise KeyError("x")

    failed = engine.run_sync(fake(Control(), finish=boom))
    assert (failed.status, failed.error) == ("failed", "KeyError: 'x'")
    with pytest.raises(params.ParamError, match="'lr'"):
        engine.run_sync(fake(Control()), FakeConfig(lr=20.0))


def test_run_sync_reports_progress_from_a_watcher_until_the_end():
    ctl = Control(block=True)
    seen: list[engine.RunView] = []
    threads: set[threading.Thread] = set()

    def progress(view):
        threads.add(threading.current_thread())
        seen.append(view)
        if len(seen) == 2:
            ctl.gate.set()  # the run waits at its gate until the watcher has looked twice

    run = engine.run_sync(fake(ctl), FakeConfig(steps=4), progress=progress, every=0.01)
    assert run.status == "done"
    assert len(seen) >= 3 and threading.current_thread() not in threads
    assert [v.status for v in seen[:2]] == ["running", "running"]
    assert (seen[0].step, seen[0].total) == (1, 4)  # it waited at the gate after step 1
    assert [v.status for v in seen[2:]].count("done") == 1 and seen[-1].status == "done"
    assert (seen[-1].step, seen[-1].progress) == (4, 1.0)


def test_an_interrupt_ends_the_run_cancelled_and_propagates():
    def interrupted(config, report):
        raise KeyboardInterrupt

    seen: list[engine.RunView] = []
    run = new_run(fake(Control(), finish=interrupted), FakeConfig())
    with pytest.raises(KeyboardInterrupt):
        engine.execute(run)
    assert run.wait(0) and run.cancelled
    assert (run.status, run.error, run.summary) == ("cancelled", "Interrupted.", None)
    with pytest.raises(KeyboardInterrupt):  # run_sync's watcher still says how it ended
        engine.run_sync(fake(Control(), finish=interrupted), progress=seen.append,
                        every=0.01)
    assert seen and seen[-1].status == "cancelled"


def test_keep_sees_a_finished_run_before_its_waiters_wake():
    kept: list[tuple[str, bool]] = []

    def keep(run):
        kept.append((run.status, run.wait(0)))

    run = new_run(fake(Control()), FakeConfig())
    engine.execute(run, keep=keep)
    assert kept == [("done", False)] and run.wait(0)

    def boom(config, report):
        raise ValueError("no")

    failed = new_run(fake(Control(), finish=boom), FakeConfig())
    engine.execute(failed, keep=keep)
    assert failed.status == "failed" and len(kept) == 1  # a failed run is not kept


def test_a_run_without_a_scheduler_cancels_itself():
    ctl = Control(block=True)
    run = new_run(fake(ctl), FakeConfig())
    assert run.queue_position() is None and not run.cancelled
    worker = threading.Thread(target=engine.execute, args=(run,))
    worker.start()
    assert ctl.started.wait(WAIT)
    assert run.status == "running"
    run.cancel()
    assert run.cancelled and run.wait(WAIT)
    worker.join(WAIT)
    assert (run.status, run.error) == ("cancelled", "Cancelled.")
    assert run.metrics == {"loss": ([1], [1.0])}


@pytest.mark.parametrize("ending", ["returns", "raises"])
def test_a_run_that_stops_early_on_a_cancel_ends_cancelled_and_is_not_kept(ending):
    """An experiment may notice a cancel itself (a sweep whose parts train elsewhere,
    core.fanout) and return what it has, or trip over its partial result: either way
    the run ends cancelled, and nothing is kept."""
    ctl = Control(block=True, cooperative=False)

    def finish(config, report):
        if ending == "raises":
            raise IndexError("a partial sweep")
        return {"final_loss": 0.5}

    run = new_run(fake(ctl, finish=finish), FakeConfig(steps=1))  # no log after the gate
    kept = []
    worker = threading.Thread(target=engine.execute, args=(run, kept.append))
    worker.start()
    assert ctl.started.wait(WAIT)
    run.request_cancel()
    ctl.gate.set()
    worker.join(WAIT)
    assert (run.status, run.error, run.summary) == ("cancelled", "Cancelled.", None)
    assert kept == []


def test_log_refuses_after_a_cancel_and_flags_nan():
    run = new_run(fake(Control()), FakeConfig())
    run.log(1, loss=0.5)
    with pytest.raises(engine.Diverged, match="'loss' became inf at step 2"):
        run.log(2, loss=float("inf"))
    run.request_cancel()
    with pytest.raises(engine.Cancelled):
        run.log(3, loss=0.25)
    assert run.metrics["loss"] == ([1, 2], [0.5, float("inf")])  # the cancel logged nothing


def test_finish_accepts_only_an_end():
    run = new_run(fake(Control()), FakeConfig())
    for status in ("queued", "running", "finished"):
        with pytest.raises(ValueError, match="a run ends done, failed, cancelled, diverged"):
            run.finish(status)
    assert run.status == "queued" and not run.wait(0)


def test_a_record_round_trips_through_the_disk_cache(tmp_path):
    exp = fake(Control())
    run = new_run(exp, FakeConfig(steps=4))
    engine.execute(run)
    record = run.to_record()
    assert record["config"] == params.as_dict(FakeConfig(steps=4))
    assert (record["experiment"], record["version"], record["status"]) == ("fake", 1, "done")
    disk = DiskCache(tmp_path)
    metrics, snapshots = record.pop("metrics"), record.pop("snapshots")
    disk.save(run.key, record, metrics, snapshots)
    back = engine.Run.from_record(exp, run.config, run.key, disk.load(run.key), device="?")
    view, before = back.view(), run.view()
    assert back.wait(0) and back.from_cache and not before.from_cache
    assert (view.status, view.summary, view.error) == (before.status, before.summary, None)
    assert (view.step, view.total, view.elapsed) == (before.step, before.total, before.elapsed)
    assert view.metrics == before.metrics and view.device == before.device != "?"
    np.testing.assert_array_equal(view.snapshots["w"], before.snapshots["w"])
    assert view.snapshots["extra"]["labels"].tolist() == [0, 1, 2]


def test_a_diverging_run_names_the_setting_to_lower():
    def blow_up(config, report):
        report.log(2, loss=float("nan"))

    run = engine.run_sync(fake(Control(), finish=blow_up), FakeConfig(steps=1))
    assert run.status == "diverged"
    assert run.error == f"Training diverged: 'loss' became nan at step 2. {HINT}"
    assert run.summary == {"diverged": True, "steps_done": 2,
                           "reason": "'loss' became nan at step 2"}


def test_the_statuses():
    assert engine.ACTIVE == ("queued", "running")
    assert engine.FINISHED == ("done", "diverged")  # deterministic: kept and cached
    assert {engine.QUEUED, engine.RUNNING, engine.DONE, engine.FAILED, engine.CANCELLED,
            engine.DIVERGED} == {"queued", "running", "done", "failed", "cancelled",
                                 "diverged"}
