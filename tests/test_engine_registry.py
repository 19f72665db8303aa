"""core.engine.registry: start, dedup, queue, owners, caches and ends of runs, and the
worker pool, on fake experiments (tests/engine_support.py)."""
from __future__ import annotations

import math
import os
import threading
import time

import numpy as np
import pytest

from core import device as device_mod
from core import engine, params
from core.engine.cache import DiskCache
from tests.engine_support import HINT, WAIT, Control, FakeConfig, fake, key_of, wait_until


class Lab:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.registries: list[engine.Registry] = []
        self.controls: list[Control] = []

    def registry(self, **kwargs) -> engine.Registry:
        kwargs.setdefault("workers", 1)
        kwargs.setdefault("cache_dir", self.tmp_path / "cache")
        registry = engine.Registry(**kwargs)
        self.registries.append(registry)
        return registry

    def control(self, **kwargs) -> Control:
        ctl = Control(**kwargs)
        self.controls.append(ctl)
        return ctl


@pytest.fixture
def lab(tmp_path):
    lab = Lab(tmp_path)
    try:
        yield lab
    finally:  # open every gate so that no thread hangs, then stop the workers
        for ctl in lab.controls:
            ctl.gate.set()
        for registry in lab.registries:
            registry.shutdown()


# --- starting, sharing and finishing -------------------------------------------------------

def test_concurrent_identical_starts_share_one_run_and_train_once(lab):
    registry = lab.registry(workers=2)
    ctl = lab.control(block=True)
    exp = fake(ctl)
    n = 12
    barrier = threading.Barrier(n)
    got: list[engine.Run] = []
    got_lock = threading.Lock()

    def start():
        barrier.wait(WAIT)
        run = registry.start(exp, FakeConfig())
        with got_lock:
            got.append(run)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert len(got) == n
    assert len({id(run) for run in got}) == 1
    run = got[0]
    ctl.gate.set()
    assert run.wait(WAIT)
    assert run.status == "done"
    assert registry.start(exp, FakeConfig()) is run  # finished: reused, not retrained
    assert ctl.calls == 1
    assert registry.trainings_started == 1


def test_different_configs_train_separately(tmp_registry):
    ctl = Control()
    exp = fake(ctl)
    a = tmp_registry.start(exp, FakeConfig(tag="a"))
    b = tmp_registry.start(exp, FakeConfig(tag="b", steps=4))
    assert a is not b and a.key != b.key
    assert a.wait(WAIT) and b.wait(WAIT)
    assert (a.summary, b.summary) == ({"final_loss": 1 / 3, "tag": "a"},
                                      {"final_loss": 0.25, "tag": "b"})
    assert sorted(ctl.tags) == ["a", "b"]
    assert tmp_registry.trainings_started == 2
    assert tmp_registry.get(a.key) is a and tmp_registry.get(b.key) is b


def test_wait_then_done_with_summary_metrics_and_snapshots(tmp_registry):
    ctl = Control()
    run = tmp_registry.start(fake(ctl), FakeConfig(steps=4))
    assert run.wait(WAIT) is True
    view = run.view()
    assert view.status == "done" and not view.active and view.error is None
    assert view.summary == {"final_loss": 0.25, "tag": "a"}
    assert (view.step, view.total, view.progress) == (4, 4, 1.0)
    assert view.metrics == {"loss": ([1, 2, 3, 4], [1.0, 0.5, 1 / 3, 0.25])}
    assert view.snapshots["w"].dtype == np.float32
    np.testing.assert_array_equal(view.snapshots["w"], np.full((2, 3), 4.0))
    assert view.snapshots["extra"]["labels"].tolist() == [0, 1, 2]
    assert isinstance(view.snapshots["extra"]["t"], np.ndarray)  # a tensor became numpy
    assert view.snapshots["extra"]["t"].tolist() == [1.0, 1.0]
    assert view.queue_position is None and view.from_cache is False
    assert view.experiment == "fake" and view.elapsed > 0
    time.sleep(0.02)
    assert run.view().elapsed == view.elapsed  # an ended run's clock has stopped


def test_view_while_running_shows_progress(lab):
    registry = lab.registry()
    ctl = lab.control(block=True)
    run = registry.start(fake(ctl), FakeConfig(steps=4))
    assert ctl.started.wait(WAIT)
    view = run.view()
    assert (view.status, view.step, view.total, view.progress) == ("running", 1, 4, 0.25)
    assert view.active and view.metrics == {"loss": ([1], [1.0])}
    assert registry.active_runs() == [run]
    ctl.gate.set()
    assert run.wait(WAIT) and run.status == "done"
    assert registry.active_runs() == []


def test_start_validates_the_config(tmp_registry):
    with pytest.raises(params.ParamError, match="'steps' must be an integer in"):
        tmp_registry.start(fake(Control()), FakeConfig(steps=0))
    assert tmp_registry.trainings_started == 0
    run = tmp_registry.start(fake(Control()))  # no config: the defaults
    assert run.config == FakeConfig()
    assert run.wait(WAIT) and run.status == "done"


# --- cancelling --------------------------------------------------------------------------

def test_cancel_a_running_run_then_a_later_start_trains_again(lab):
    registry = lab.registry()
    ctl = lab.control(block=True)
    exp = fake(ctl)
    run = registry.start(exp, FakeConfig())
    assert ctl.started.wait(WAIT)
    run.cancel()
    assert run.wait(WAIT)
    assert (run.status, run.error) == ("cancelled", "Cancelled.")
    assert registry.disk.load(run.key) is None  # a cancelled run is not cached
    ctl.gate.set()
    again = registry.start(exp, FakeConfig())
    assert again is not run
    assert again.wait(WAIT) and again.status == "done"
    assert ctl.calls == 2 and registry.trainings_started == 2


def test_start_right_after_cancel_does_not_return_the_dying_run(lab):
    """The cancelled run has not noticed yet (it is still 'running')."""
    registry = lab.registry()
    ctl = lab.control(block=True, cooperative=False)
    exp = fake(ctl)
    run = registry.start(exp, FakeConfig())
    assert ctl.started.wait(WAIT)
    registry.cancel(run)
    assert run.status == "running"
    again = registry.start(exp, FakeConfig())
    assert again is not run
    assert registry.get(run.key) is again
    ctl.gate.set()
    assert run.wait(WAIT) and again.wait(WAIT)
    assert (run.status, again.status) == ("cancelled", "done")
    assert ctl.calls == 2
    assert registry.get(run.key) is again


def test_cancel_a_queued_run(lab):
    registry = lab.registry(workers=1)
    ctl = lab.control(block=True)
    exp = fake(ctl)
    a = registry.start(exp, FakeConfig(tag="a"))
    assert ctl.started.wait(WAIT)
    b = registry.start(exp, FakeConfig(tag="b"))
    c = registry.start(exp, FakeConfig(tag="c"))
    assert (a.queue_position(), b.queue_position(), c.queue_position()) == (None, 1, 2)
    assert (b.view().queue_position, b.view().status) == (1, "queued")
    b.cancel()
    assert b.wait(0)
    assert (b.status, b.error) == ("cancelled", "Cancelled before it started.")
    assert b.queue_position() is None and c.queue_position() == 1
    ctl.gate.set()
    assert a.wait(WAIT) and c.wait(WAIT)
    assert (a.status, c.status) == ("done", "done")
    assert ctl.tags == ["a", "c"]
    assert registry.trainings_started == 2


def test_release_by_the_last_owner_cancels_but_another_owner_keeps_it(lab):
    registry = lab.registry(workers=1)
    ctl = lab.control(block=True)
    exp = fake(ctl)
    alone = registry.start(exp, FakeConfig(tag="a"), owner="s1")
    assert ctl.started.wait(WAIT)
    registry.release(alone, "s1")
    assert alone.wait(WAIT)
    assert alone.status == "cancelled"

    shared = registry.start(exp, FakeConfig(tag="b"), owner="s1")
    assert registry.start(exp, FakeConfig(tag="b"), owner="s2") is shared
    assert registry.owners(shared) == {"s1", "s2"}
    wait_until(lambda: shared.status == "running", "the shared run started")
    registry.release(shared, "s1")
    assert not shared.cancelled and registry.owners(shared) == {"s2"}
    ctl.gate.set()
    assert shared.wait(WAIT)
    assert shared.status == "done"
    registry.release(shared, "s2")  # a finished run stays finished
    assert shared.status == "done" and registry.get(shared.key) is shared


def test_a_rerun_is_watched_only_by_the_slot_that_started_it(lab):
    registry = lab.registry(workers=1)
    ctl = lab.control()
    exp = fake(ctl)
    first = registry.start(exp, FakeConfig(), owner="s1")
    assert registry.start(exp, FakeConfig(), owner="s2") is first
    assert first.wait(WAIT) and registry.owners(first) == {"s1", "s2"}
    ctl.gate.clear()  # the rerun waits at the gate
    again = registry.start(exp, FakeConfig(), owner="s3", force=True)
    assert again is not first
    assert (registry.owners(again), registry.owners(first)) == ({"s3"}, frozenset())
    wait_until(lambda: again.status == "running", "the rerun started")
    registry.release(first, "s1")  # the replaced run's slot lets go: the rerun goes on
    assert not again.cancelled
    registry.release(again, "s3")  # its own slot lets go: nobody watches it
    assert again.wait(WAIT)
    assert (again.status, first.status) == ("cancelled", "done")


# --- failures and divergence -----------------------------------------------------------------

def test_a_raising_run_fails_with_a_message_while_another_finishes(lab):
    registry = lab.registry(workers=1)

    def boom(config, report):
        raise ValueError("the data has 0 rows")

    bad_ctl, good_ctl = Control(), Control()
    bad = registry.start(fake(bad_ctl, "bad", finish=boom), FakeConfig())
    good = registry.start(fake(good_ctl, "good"), FakeConfig())
    assert bad.wait(WAIT) and good.wait(WAIT)
    assert (bad.status, bad.error) == ("failed", "ValueError: the data has 0 rows")
    assert bad.summary is None
    assert (good.status, good.summary) == ("done", {"final_loss": 1 / 3, "tag": "a"})
    assert registry.disk.load(bad.key) is None
    again = registry.start(fake(bad_ctl, "bad", finish=boom), FakeConfig())
    assert again is not bad  # a failed run is retried on the next start
    assert again.wait(WAIT) and again.status == "failed"
    assert bad_ctl.calls == 2


def test_a_nan_loss_ends_diverged_with_the_hint(lab):
    registry = lab.registry()

    def blow_up(config, report):
        report.log(config.steps + 1, loss=float("nan"))
        return {"never": "reached"}

    ctl = Control()
    exp = fake(ctl, finish=blow_up)
    run = registry.start(exp, FakeConfig(steps=3))
    assert run.wait(WAIT)
    assert run.status == "diverged"
    assert run.error == f"Training diverged: 'loss' became nan at step 4. {HINT}"
    assert run.summary["diverged"] is True and run.summary["steps_done"] == 4
    steps, losses = run.metrics["loss"]
    assert steps == [1, 2, 3, 4] and math.isnan(losses[-1])
    assert registry.start(exp, FakeConfig(steps=3)) is run  # a deterministic outcome: kept
    registry.shutdown()

    later = lab.registry()  # and cached on disk
    cached = later.start(exp, FakeConfig(steps=3))
    assert cached.from_cache and cached.status == "diverged" and cached.error == run.error
    assert cached.summary == run.summary
    assert ctl.calls == 1 and later.trainings_started == 0


def test_a_summary_that_says_diverged_ends_diverged(tmp_registry):
    def judged(config, report):
        return {"diverged": True, "diverged_reason": "the loss rose from 0.7 to 90",
                "steps_done": config.steps}

    run = tmp_registry.start(fake(Control(), finish=judged), FakeConfig())
    assert run.wait(WAIT)
    assert run.status == "diverged"
    assert run.error == f"Training diverged: the loss rose from 0.7 to 90. {HINT}"
    assert run.summary == {"diverged": True, "diverged_reason": "the loss rose from 0.7 to 90",
                           "steps_done": 3}


def test_a_non_json_summary_fails(tmp_registry):
    run = tmp_registry.start(fake(Control(), finish=lambda c, r: {"model": object()}),
                             FakeConfig())
    assert run.wait(WAIT)
    assert run.status == "failed"
    assert run.error.startswith("TypeError: ") and "JSON serializable" in run.error
    assert tmp_registry.disk.load(run.key) is None


# --- the caches ------------------------------------------------------------------------------

def test_a_new_registry_on_the_same_folder_returns_the_finished_run_at_once(lab):
    first = lab.registry()
    ctl = Control()
    exp = fake(ctl)
    run = first.start(exp, FakeConfig(steps=4))
    assert run.wait(WAIT) and run.status == "done"
    first.shutdown()  # a restart of the server

    second = lab.registry()
    cached = second.start(exp, FakeConfig(steps=4))
    assert cached.wait(0)
    view, before = cached.view(), run.view()
    assert (view.status, view.from_cache) == ("done", True)
    assert view.summary == before.summary
    assert view.metrics == before.metrics
    assert (view.step, view.total, view.progress) == (4, 4, 1.0)
    assert view.elapsed == before.elapsed
    np.testing.assert_array_equal(view.snapshots["w"], before.snapshots["w"])
    assert view.snapshots["w"].dtype == np.float32
    assert view.snapshots["extra"]["labels"].tolist() == [0, 1, 2]
    assert view.snapshots["extra"]["step"] == 4
    assert second.trainings_started == 0 and ctl.calls == 1
    assert second.start(exp, FakeConfig(steps=4)) is cached
    # another version of the experiment's code does not reuse the result
    newer = second.start(fake(ctl, version=2), FakeConfig(steps=4))
    assert newer.wait(WAIT) and not newer.from_cache and ctl.calls == 2


def test_a_corrupt_disk_entry_is_recomputed(lab):
    first = lab.registry()
    ctl = Control()
    exp = fake(ctl)
    run = first.start(exp, FakeConfig())
    assert run.wait(WAIT)
    first.shutdown()
    npz = lab.tmp_path / "cache" / f"{run.key}.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))

    second = lab.registry()
    again = second.start(exp, FakeConfig())
    assert not again.from_cache
    assert again.wait(WAIT) and again.status == "done"
    assert ctl.calls == 2 and second.trainings_started == 1
    second.shutdown()  # the worker has stored the new result
    assert DiskCache(lab.tmp_path / "cache").load(run.key)["summary"] == again.summary


def test_memory_keeps_only_the_most_recently_used_finished_runs(lab):
    registry = lab.registry(workers=1, max_runs_in_memory=2)
    ctl = Control()
    exp = fake(ctl)
    done = {}
    for tag in ("a", "b", "c"):
        done[tag] = registry.start(exp, FakeConfig(tag=tag))
        assert done[tag].wait(WAIT)
    assert registry.get(done["a"].key) is None
    assert registry.get(done["b"].key) is done["b"]
    assert registry.get(done["c"].key) is done["c"]
    back = registry.start(exp, FakeConfig(tag="a"))  # from disk, not retrained
    assert back.from_cache and back.status == "done"
    assert ctl.calls == 3 and registry.trainings_started == 3
    assert registry.get(done["b"].key) is None  # now the least recently used
    assert registry.get(back.key) is back and registry.get(done["c"].key) is done["c"]


def test_queue_full(lab):
    registry = lab.registry(workers=1, max_queue=2)
    ctl = lab.control(block=True)
    exp = fake(ctl)
    running = registry.start(exp, FakeConfig(tag="a"))
    assert ctl.started.wait(WAIT)
    b = registry.start(exp, FakeConfig(tag="b"))
    registry.start(exp, FakeConfig(tag="c"))
    with pytest.raises(engine.QueueFull, match="2 runs are already waiting; cancel one"):
        registry.start(exp, FakeConfig(tag="d"))
    assert registry.get(key_of(exp, FakeConfig(tag="d"))) is None
    assert registry.start(exp, FakeConfig(tag="b")) is b  # an existing run is not refused
    b.cancel()
    d = registry.start(exp, FakeConfig(tag="d"))  # room again
    assert d.queue_position() == 2
    ctl.gate.set()
    assert running.wait(WAIT) and d.wait(WAIT)
    assert ctl.tags == ["a", "c", "d"]


def test_force_retrains_a_finished_config(tmp_registry):
    ctl = Control()
    exp = fake(ctl)
    run = tmp_registry.start(exp, FakeConfig())
    assert run.wait(WAIT) and run.status == "done"
    again = tmp_registry.start(exp, FakeConfig(), force=True)
    assert again is not run and not again.from_cache
    assert again.wait(WAIT) and again.status == "done"
    assert ctl.calls == 2 and tmp_registry.trainings_started == 2
    assert tmp_registry.start(exp, FakeConfig()) is again


# --- shutting down ---------------------------------------------------------------------------

def test_shutdown_cancels_runs_and_joins_the_workers(lab):
    registry = lab.registry(workers=1)
    ctl = lab.control(block=True)
    exp = fake(ctl)
    running = registry.start(exp, FakeConfig(tag="a"))
    assert ctl.started.wait(WAIT)
    queued = registry.start(exp, FakeConfig(tag="b"))
    workers = list(registry._threads)
    assert workers and all(t.is_alive() for t in workers)
    registry.shutdown(timeout=WAIT)
    assert not any(t.is_alive() for t in workers)
    assert (running.status, queued.status) == ("cancelled", "cancelled")
    assert ctl.calls == 1
    with pytest.raises(RuntimeError, match="shutting down"):
        registry.start(exp, FakeConfig(tag="c"))


# --- workers from the environment ------------------------------------------------------------

def test_default_workers_honours_lab_workers(monkeypatch):
    monkeypatch.setenv("LAB_WORKERS", "3")
    assert device_mod.default_workers() == 3
    monkeypatch.setenv("LAB_WORKERS", " 64 ")
    assert device_mod.default_workers() == 64


@pytest.mark.parametrize("text", ["0", "65", "-1", "two", "1.5"])
def test_default_workers_refuses_a_bad_lab_workers(monkeypatch, text):
    monkeypatch.setenv("LAB_WORKERS", text)
    with pytest.raises(ValueError, match=r"LAB_WORKERS must be an integer in \[1, 64\]; got"):
        device_mod.default_workers()


def test_default_workers_from_the_cpu_count(monkeypatch):
    monkeypatch.delenv("LAB_WORKERS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert device_mod.default_workers() == 4
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert device_mod.default_workers() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert device_mod.default_workers() == 1


# --- one visitor's share: the session cap, and cancel as withdrawing a claim ----------------

def test_a_session_cannot_hold_more_new_runs_than_its_cap(lab):
    registry = lab.registry(max_per_session=2, max_queue=16)
    ctl = lab.control(block=True)
    exp = fake(ctl)
    first = registry.start(exp, FakeConfig(tag="a"), owner="s1:page1")
    second = registry.start(exp, FakeConfig(tag="b"), owner="s1:page2")
    with pytest.raises(engine.SessionBusy, match="at most 2 at once"):
        registry.start(exp, FakeConfig(tag="c"), owner="s1:page3")
    # the slot that asks may replace its own run (it lets go of the old one next) ...
    replacing = registry.start(exp, FakeConfig(tag="d"), owner="s1:page2")
    registry.release(second, "s1:page2")
    assert replacing.status == "queued" and second.cancelled
    # ... another visitor is not held back, and a run someone else started costs nothing
    other = registry.start(exp, FakeConfig(tag="c"), owner="s2:page1")
    assert registry.start(exp, FakeConfig(tag="c"), owner="s1:page3") is other
    assert {r.config.tag for r in registry.session_runs("s1")} == {"a", "c", "d"}
    ctl.gate.set()
    for run in (first, replacing, other):
        assert run.wait(WAIT) and run.status == "done"
    assert registry.session_runs("s1") == []
    # finished runs free the cap
    assert registry.start(exp, FakeConfig(tag="e"), owner="s1:page4").wait(WAIT)


def test_cancel_from_one_session_leaves_a_run_another_session_watches(lab):
    registry = lab.registry()
    ctl = lab.control(block=True)
    exp = fake(ctl)
    run = registry.start(exp, FakeConfig(), owner="alice:page")
    assert registry.start(exp, FakeConfig(), owner="bob:page") is run
    assert registry.start(exp, FakeConfig(), owner="bob:other") is run
    assert registry.withdraw(run, "bob") is False  # alice still watches it
    assert not run.cancelled and registry.owners(run) == {"alice:page"}
    assert registry.withdraw(run, "alice") is True  # nobody left: it stops
    assert run.cancelled
    ctl.gate.set()
    assert run.wait(WAIT) and run.status == "cancelled"


def test_worker_mode_auto_trains_in_threads_on_a_small_host(monkeypatch):
    monkeypatch.delenv("LAB_BACKEND", raising=False)
    monkeypatch.delenv("LAB_WORKER_MODE", raising=False)
    # Community Cloud's smallest box: two worker processes importing torch would not fit
    monkeypatch.setattr(device_mod, "memory_limit", lambda: 690 * 2**20)
    assert device_mod.worker_mode() == "thread"
    monkeypatch.setattr(device_mod, "memory_limit", lambda: 16 * 2**30)
    assert device_mod.worker_mode() == "process"
    monkeypatch.setattr(device_mod, "memory_limit", lambda: None)  # unknown: processes
    assert device_mod.worker_mode() == "process"
    monkeypatch.setenv("LAB_WORKER_MODE", "process")  # stated: no guessing
    monkeypatch.setattr(device_mod, "memory_limit", lambda: 690 * 2**20)
    assert device_mod.worker_mode() == "process"
    monkeypatch.setenv("LAB_WORKER_MODE", "fork")
    with pytest.raises(ValueError, match="LAB_WORKER_MODE must be auto, process or thread"):
        device_mod.worker_mode()


def test_memory_limit_reads_this_machine():
    limit = device_mod.memory_limit()
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert limit is not None and 0 < limit <= total
