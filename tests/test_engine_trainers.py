"""core.engine.trainers: one interface, in a thread and in a worker process (the server's):
same results as in-process, streaming, cancel, crashes."""
import multiprocessing
import os
import signal
import threading
import time

import pytest

from core import device as device_mod
from core import engine
from core.engine.run import new_run
from core.engine.trainers import TRAINERS, ProcessTrainer, ThreadTrainer
from core.experiments.gradient_descent import Config
from tests.engine_support import Control, FakeConfig, fake


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = engine.Registry(workers=1, cache_dir=tmp_path_factory.mktemp("cache"), mode="process")
    yield reg
    reg.shutdown()
    assert not any(t.is_alive() for t in reg._threads)


def trainer_pids() -> list[int]:
    return [p.pid for p in multiprocessing.active_children() if p.name == "lab-trainer"]


# --- the interface ---------------------------------------------------------------------------

def test_the_worker_modes_name_the_trainers():
    assert TRAINERS["thread"] is ThreadTrainer and TRAINERS["process"] is ProcessTrainer
    assert sorted(TRAINERS) == ["process", "ray", "thread"]  # ray: tests/test_ray.py
    for trainer in (ThreadTrainer, ProcessTrainer):
        assert all(callable(getattr(trainer, name)) for name in ("warm_up", "train", "stop"))
    with pytest.raises(ValueError, match="mode must be one of thread, process, ray; got 'gpu'"):
        engine.Registry(workers=1, mode="gpu")


def test_the_thread_trainer_trains_in_the_calling_thread():
    trainer = ThreadTrainer()
    assert trainer.device is None
    trainer.warm_up(lambda: False)
    assert trainer.device == device_mod.describe()
    ctl, kept = Control(), []
    run = new_run(fake(ctl), FakeConfig(steps=2))
    trainer.train(run, keep=kept.append)
    assert ctl.threads == [threading.current_thread()]
    assert kept == [run] and run.status == "done" and run.wait(0)
    assert run.summary == engine.run_sync(fake(Control()), FakeConfig(steps=2)).summary
    trainer.stop()


def test_the_process_trainer_trains_in_its_child_and_reports_its_device():
    trainer = ProcessTrainer()
    try:
        trainer.warm_up(lambda: False)
        # the child's own report ("ready"), not a guess of this process
        assert trainer.device == device_mod.describe()
        assert trainer.proc.pid in trainer_pids() and trainer.proc.pid != os.getpid()
        kept: list[tuple[str, bool]] = []
        run = new_run("gradient_descent", Config(steps=300, seed=5), device="not yet known")
        trainer.train(run, keep=lambda r: kept.append((r.status, r.wait(0))))
        assert run.status == "done", run.error
        assert kept == [("done", False)] and run.wait(0)  # kept before its waiters woke
        assert run.device == device_mod.describe()  # where the child trained
        assert run.metrics["train_loss"][0][-1] == 300
        assert run.summary == engine.run_sync("gradient_descent",
                                              Config(steps=300, seed=5)).summary
    finally:
        trainer.stop()
    assert not trainer.proc.is_alive()


# --- the server's registry, with worker processes --------------------------------------------

def test_a_run_in_a_process_streams_and_matches_the_in_process_result(registry):
    run = registry.start("gradient_descent", Config(steps=1500, seed=2))
    seen_running_with_points = False
    while not run.wait(0.05):
        view = run.view()
        seen_running_with_points |= view.status == "running" and bool(view.metrics)
    assert run.status == "done", run.error
    assert seen_running_with_points, "no metrics arrived before the run ended"
    assert run.snapshots["boundary"]["prob"].shape[0] > 1
    assert run.summary == engine.run_sync("gradient_descent", Config(steps=1500, seed=2)).summary
    assert run.device == device_mod.describe()


def test_cancel_reaches_the_process(registry):
    run = registry.start("gradient_descent", Config(steps=20000, seed=8))
    while not run.view().metrics:
        time.sleep(0.05)
    run.cancel()
    assert run.wait(30)
    assert run.status == "cancelled"
    assert run.step < 20000


def test_divergence_is_reported_from_the_process(registry):
    run = registry.start("gradient_descent", Config(optimizer="sgd", lr=10.0, steps=300))
    assert run.wait(60)
    assert run.status == "diverged" and "learning rate" in run.error


def test_a_killed_process_fails_its_run_alone_and_is_replaced(registry):
    run = registry.start("gradient_descent", Config(steps=20000, seed=9))
    while not run.view().metrics:
        time.sleep(0.05)
    worker_pids = trainer_pids()
    assert worker_pids
    for pid in worker_pids:
        os.kill(pid, signal.SIGKILL)
    assert run.wait(30)
    assert run.status == "failed" and "training process died" in run.error
    after = registry.start("gradient_descent", Config(steps=200, seed=9))
    assert after.wait(120)
    assert after.status == "done"
    assert not set(trainer_pids()) & set(worker_pids)  # a new child trained it
