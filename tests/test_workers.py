"""The server's worker processes: same results as in-process, streaming, cancel, crashes."""
import os
import signal
import time

import pytest

from core import runs
from core.experiments.gradient_descent import Config


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = runs.Registry(workers=1, cache_dir=tmp_path_factory.mktemp("cache"), mode="process")
    yield reg
    reg.shutdown()
    assert not any(t.is_alive() for t in reg._threads)


def test_a_run_in_a_process_streams_and_matches_the_in_process_result(registry):
    run = registry.start("gradient_descent", Config(steps=1500, seed=2))
    seen_running_with_points = False
    while not run.wait(0.05):
        view = run.view()
        seen_running_with_points |= view.status == "running" and bool(view.metrics)
    assert run.status == "done", run.error
    assert seen_running_with_points, "no metrics arrived before the run ended"
    assert run.snapshots["boundary"]["prob"].shape[0] > 1
    assert run.summary == runs.run_sync("gradient_descent", Config(steps=1500, seed=2)).summary
    assert run.device.startswith("CPU") or run.device.startswith("GPU")


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
    worker_pids = [p.pid for p in __import__("multiprocessing").active_children()
                   if p.name == "lab-trainer"]
    assert worker_pids
    for pid in worker_pids:
        os.kill(pid, signal.SIGKILL)
    assert run.wait(30)
    assert run.status == "failed" and "training process died" in run.error
    after = registry.start("gradient_descent", Config(steps=200, seed=9))
    assert after.wait(120)
    assert after.status == "done"
