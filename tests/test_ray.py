"""The Ray backend (LAB_BACKEND=ray) on a local Ray with 2 CPUs: a run trains on the
cluster and streams back as a local one does, two registries (two replicas) share one
training, a cancel in one replica leaves the other's run training, a killed board or
worker fails its run alone, and a sweep's parts fan out as Ray tasks with the same result.

Ray is optional (requirements-scale.txt): without it these tests skip, except under
REQUIRE_RAY=1 (CI installs Ray and sets it), where they fail.
"""
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core import device as device_mod
from core import engine, experiments, fanout, params
from core.engine import ray_trainer
from core.engine.run import CANCELLED, DONE, FAILED, RUNNING

GD = experiments.get("gradient_descent")


def gd_config(steps: int, seed: int = 0):
    return params.build(GD.Config, {**GD.small, "steps": steps, "seed": seed})


def long_config(seed: int):
    """A run that takes tens of seconds (it is cancelled or killed long before)."""
    return params.build(GD.Config, {"steps": 20000, "seed": seed})


def test_lab_backend_names_ray_or_local_and_nothing_else(monkeypatch):
    monkeypatch.setenv("LAB_BACKEND", "ray")
    assert device_mod.worker_mode() == "ray"
    monkeypatch.setenv("LAB_BACKEND", "local")
    monkeypatch.setenv("LAB_WORKER_MODE", "thread")
    assert device_mod.worker_mode() == "thread"
    monkeypatch.setenv("LAB_BACKEND", "spark")
    with pytest.raises(ValueError, match="LAB_BACKEND must be one of local, ray; got 'spark'"):
        device_mod.worker_mode()
    monkeypatch.setenv("LAB_RAY_CPUS", "0")
    with pytest.raises(ValueError, match=r"LAB_RAY_CPUS must be an integer in \[1, 1024\]"):
        ray_trainer.local_cpus()


def test_without_ray_the_backend_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    assert not ray_trainer.installed()
    with pytest.raises(RuntimeError, match="requirements-scale.txt"):
        ray_trainer.connect()


# --- on a local Ray -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster():
    if not ray_trainer.installed():
        if os.environ.get("REQUIRE_RAY") == "1":
            pytest.fail("REQUIRE_RAY=1 but Ray is not installed (pip install -r "
                        "requirements-scale.txt)")
        pytest.skip("Ray is not installed (pip install -r requirements-scale.txt)")
    import ray

    old = os.environ.get("LAB_RAY_CPUS")
    os.environ["LAB_RAY_CPUS"] = "2"
    ray_trainer.connect()
    yield ray
    ray.shutdown()
    if old is None:
        os.environ.pop("LAB_RAY_CPUS", None)
    else:
        os.environ["LAB_RAY_CPUS"] = old


@pytest.fixture
def replicas(ray_cluster, tmp_path):
    """Two registries on the Ray backend, each with its own disk cache (so that neither
    finds the other's result on disk and both must go to the cluster)."""
    made = [engine.Registry(mode="ray", cache_dir=tmp_path / f"cache{i}") for i in (1, 2)]
    yield made
    for registry in made:
        registry.shutdown()


def wait_for(predicate, timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def board_exists(ray, key: str) -> bool:
    from core.ray_board import NAMESPACE, board_name
    try:
        ray.get_actor(board_name(key), namespace=NAMESPACE)
    except ValueError:
        return False
    return True


def test_a_run_on_ray_streams_and_ends_with_the_same_numbers_as_here(replicas):
    registry = replicas[0]
    assert registry.workers == 2  # one run in flight per CPU of the cluster
    assert registry.device == "local Ray, 2 CPUs"
    config = gd_config(4000)
    run = registry.start(GD, config)
    seen_running = wait_for(lambda: run.status == RUNNING and 0 < run.step < 3999, 60)
    assert run.wait(120), "the run did not end"
    assert seen_running, "no step arrived while the run trained: nothing streamed"
    assert run.status == DONE, run.error
    assert run.device.startswith("Ray worker")
    here = engine.run_sync(GD, config)
    assert run.summary == here.summary
    assert run.metrics == here.metrics
    assert sorted(run.snapshots) == sorted(here.snapshots)
    for name, value in here.snapshots.items():
        ours = run.snapshots[name]
        if isinstance(value, dict):
            for k in value:
                np.testing.assert_array_equal(ours[k], value[k])
        else:
            np.testing.assert_array_equal(ours, value)
    assert registry.disk.load(run.key) is not None, "the result did not land in the cache"


def test_two_replicas_that_start_one_configuration_share_one_training(replicas):
    config = gd_config(1500, seed=11)
    first, second = (registry.start(GD, config) for registry in replicas)
    assert first is not second  # two registries, two local runs...
    assert first.wait(120) and second.wait(120)
    assert first.status == second.status == DONE, (first.error, second.error)
    followed = ray_trainer.boards_followed[first.key]
    assert len(followed) == 2 and followed[0] == followed[1]  # ...one board, one training
    assert first.summary == second.summary and first.metrics == second.metrics
    for registry, run in zip(replicas, (first, second)):
        assert registry.disk.load(run.key) is not None


def test_replicas_that_share_a_cache_folder_serve_a_finished_run_from_it(ray_cluster,
                                                                       tmp_path):
    shared = tmp_path / "shared-cache"
    first, second = (engine.Registry(mode="ray", cache_dir=shared) for _ in range(2))
    try:
        config = gd_config(800, seed=19)
        trained = first.start(GD, config)
        assert trained.wait(120) and trained.status == DONE, trained.error
        served = second.start(GD, config)
        assert served.from_cache and served.status == DONE  # from the folder, not Ray
        assert served.summary == trained.summary
        assert len(ray_trainer.boards_followed[trained.key]) == 1
    finally:
        first.shutdown()
        second.shutdown()


def test_a_cancel_in_one_replica_leaves_the_other_training(replicas, ray_cluster):
    config = long_config(12)
    mine, theirs = (registry.start(GD, config) for registry in replicas)
    assert wait_for(lambda: mine.step > 0 and theirs.step > 0, 60), "the run never streamed"
    replicas[0].cancel(mine)
    assert mine.wait(10) and mine.status == CANCELLED
    step = theirs.step
    assert wait_for(lambda: theirs.step > step + 100, 30), "the other replica's run stopped"
    assert theirs.status == RUNNING
    replicas[1].cancel(theirs)  # now nobody watches: the training stops, the board goes
    assert theirs.wait(10) and theirs.status == CANCELLED
    assert wait_for(lambda: not board_exists(ray_cluster, theirs.key), 30), \
        "the board of a run nobody watches did not go away"


def test_a_killed_board_fails_its_run_alone_and_the_next_run_trains(replicas, ray_cluster):
    from core.ray_board import NAMESPACE, board_name
    registry = replicas[0]
    doomed = registry.start(GD, long_config(13))
    bystander = registry.start(GD, gd_config(3000, seed=14))
    assert wait_for(lambda: doomed.step > 0, 60), "the run never streamed"
    ray_cluster.kill(ray_cluster.get_actor(board_name(doomed.key), namespace=NAMESPACE))
    assert doomed.wait(30) and doomed.status == FAILED
    assert "Ray" in doomed.error
    assert bystander.wait(120) and bystander.status == DONE, bystander.error
    after = registry.start(GD, gd_config(300, seed=15))
    assert after.wait(120) and after.status == DONE, after.error


def training_worker_pids(task: bytes = b"train_on_board") -> list[int]:
    """Ray names a worker process after the task it runs (`ray::train_on_board`), and
    `ray::IDLE` once it is idle."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::" + task):
                pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker through /proc")
def test_a_killed_training_worker_fails_its_run_with_a_message(replicas):
    registry = replicas[0]
    run = registry.start(GD, long_config(16))
    assert wait_for(lambda: run.step > 0 and training_worker_pids(), 60)
    for pid in training_worker_pids():
        os.kill(pid, signal.SIGKILL)
    assert run.wait(60), "a run whose worker died never ended"
    assert run.status == FAILED and "died" in run.error, run.error
    after = registry.start(GD, gd_config(300, seed=17))
    assert after.wait(120) and after.status == DONE, after.error


def test_a_sweep_fans_out_as_ray_tasks_with_the_same_result(replicas, monkeypatch):
    dd = experiments.get("double_descent")
    config = params.build(dd.Config, {**dd.small, "train_sizes": [3, 200, 600]})
    here = engine.run_sync(dd, config)
    monkeypatch.setenv("LAB_BACKEND", "ray")
    assert fanout.on_ray()
    from core.experiments.double_descent import fit_sizes, groups
    sizes = list(config.train_sizes)
    assert len(groups(sizes)) >= 2, "the sweep must have parts to fan out"
    parts = [(config, [sizes[i] for i in g]) for g in groups(sizes)]
    landed = [r["test_loss"] for results in fanout.in_order(fit_sizes, parts)
              for r in results]
    assert landed == here.summary["test_loss"]
    on_cluster = replicas[0].start(dd, config)  # the training task fans out itself
    assert on_cluster.wait(180) and on_cluster.status == DONE, on_cluster.error
    assert on_cluster.summary == here.summary


def test_a_cancelled_sweep_stops_its_parts_and_ends_cancelled(replicas):
    assert Path("/proc").is_dir()
    dd = experiments.get("double_descent")
    config = params.build(dd.Config, {"n_features": 1000, "sparsity": 0.99, "steps": 5000,
                                      "train_sizes": [3, 2000, 4000]})  # minutes of parts
    registry = replicas[0]
    run = registry.start(dd, config)
    assert wait_for(lambda: run.status == RUNNING, 30)
    assert wait_for(lambda: training_worker_pids(b"_one_thread_part"), 30), \
        "the sweep's parts never started as Ray tasks"
    registry.cancel(run)
    assert run.wait(30), "a cancelled sweep kept its worker"
    assert run.status == CANCELLED
    assert registry.disk.load(run.key) is None
    assert wait_for(lambda: not training_worker_pids(b"_one_thread_part"), 30), \
        "the sweep's parts went on training after the cancel"


def test_a_page_trains_on_ray_and_draws_as_it_does_here(ray_cluster, tmp_path, monkeypatch):
    from tests.apptest_support import open_page, run_until_ended
    monkeypatch.setenv("LAB_BACKEND", "ray")
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    engine.reset_default_registry()
    try:
        at = open_page("views/gradient_descent.py")
        run_until_ended(at)
        assert "Done" in at.success[0].value
        assert len(at.get("vega_lite_chart")) == 5  # loss, accuracy, boundary, embedding, grads
        assert float(at.metric[3].value.rstrip("%")) >= 95.0
        assert any("Training on **local Ray, 2 CPUs**" in c.value for c in at.sidebar.caption)
        assert engine.default_registry().mode == "ray"
    finally:
        engine.reset_default_registry()
