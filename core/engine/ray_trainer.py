"""Training on a Ray cluster (`LAB_BACKEND=ray`): a trainer that follows a run's board.

`RayTrainer` has the trainer interface of `core.engine.trainers`. Its `train(run)` finds
or creates the run's board on the cluster (`core.ray_board`: a detached actor named by
the run key, so two replicas asking for one configuration get one board and one
training), joins it, and copies what the board holds onto the local `run` about five
times a second: the total, the logs, the snapshots, and at last how the run ended. A
cancel leaves the board (the training stops only when no replica watches it any more);
a board or worker that dies fails this run alone.

Where the cluster is: `LAB_RAY_ADDRESS` (e.g. `ray://head:10001` or `auto`), else a
local Ray started in this process with `LAB_RAY_CPUS` CPUs (default: all of them).
Every node must be able to import the Lab (`core`): the same image, or the same
checkout at the same path; this process hands its own path to the workers.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from core import params
from core.engine.run import CANCELLED, FAILED, Keep, Run

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]  # the folder that holds `core`
POLL_EVERY = 0.2    # seconds between two polls of a board
CALL_TIMEOUT = 120.0  # a board that does not answer a call for this long fails the run
_CONNECT_LOCK = threading.Lock()

# which board instance each run key was streamed from, in this process (tests, bench)
boards_followed: dict[str, list[str]] = {}


def installed() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def connect() -> None:
    """Connect to the cluster once per process (LAB_RAY_ADDRESS, else a local Ray)."""
    try:
        import ray
    except ImportError as err:
        raise RuntimeError("LAB_BACKEND=ray needs Ray: pip install -r "
                           "requirements-scale.txt") from err

    with _CONNECT_LOCK:
        if ray.is_initialized():
            return
        # A local Ray's raylet is killed (PR_SET_PDEATHSIG) when the THREAD that started
        # it ends, and a Streamlit script thread ends after every rerun. So Ray is started
        # from a thread of its own that lives as long as the process.
        failed: list[BaseException] = []
        ready = threading.Event()

        def hold() -> None:
            try:
                _init(ray)
            except BaseException as err:  # handed to the caller
                failed.append(err)
                return
            finally:
                ready.set()
            threading.Event().wait()  # keep the thread (and so the raylet) alive

        threading.Thread(target=hold, name="lab-ray", daemon=True).start()
        ready.wait()
        if failed:
            raise failed[0]


def _init(ray: Any) -> None:
    from core.ray_board import NAMESPACE

    env = {"PYTHONPATH": str(ROOT), "LAB_BACKEND": "ray"}
    for name in ("LAB_DEVICE",):  # what the workers must see as this process does
        if os.environ.get(name):
            env[name] = os.environ[name]
    options: dict[str, Any] = {"namespace": NAMESPACE, "log_to_driver": False,
                               "runtime_env": {"env_vars": env}}
    address = os.environ.get("LAB_RAY_ADDRESS", "").strip()
    if address:
        ray.init(address=address, **options)
    else:
        _loopback_only()
        ray.init(num_cpus=local_cpus(), include_dashboard=False, **options)


def _loopback_only() -> None:
    """A local Ray talks to itself over 127.0.0.1 only. Left alone, Ray gives its
    processes the machine's network address, so that other nodes could join; a local
    Ray has no other nodes. Ray's own switch for a single-node Ray is the environment
    variable below (read when ray is imported, and by every process Ray starts)."""
    from ray._private import ray_constants

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def local_cpus() -> int:
    """LAB_RAY_CPUS: the CPUs a local Ray offers (default: this machine's)."""
    text = os.environ.get("LAB_RAY_CPUS", "").strip()
    if text:
        if not text.isdigit() or not 1 <= int(text) <= 1024:
            raise ValueError(f"LAB_RAY_CPUS must be an integer in [1, 1024]; got {text!r}.")
        return int(text)
    return os.cpu_count() or 1


def cluster_cpus() -> int:
    """How many runs the cluster trains at once (its CPUs), connecting first."""
    import ray

    connect()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def describe() -> str:
    """Where runs train, for the sidebar: the cluster and its CPUs."""
    address = os.environ.get("LAB_RAY_ADDRESS", "").strip()
    where = f"Ray cluster at {address}" if address else "local Ray"
    return f"{where}, {cluster_cpus()} CPUs"


class RayTrainer:
    """Trains each run on the Ray cluster, through the run's board (module docstring)."""

    def __init__(self) -> None:
        self.device: str | None = None

    def warm_up(self, stopping: Callable[[], bool]) -> None:
        try:
            connect()
        except Exception:  # train() reports it on the first run
            log.exception("could not connect to Ray")

    def train(self, run: Run, keep: Keep | None = None) -> None:
        import ray

        run.mark_running()
        watcher = uuid.uuid4().hex
        try:
            connect()
            board = self._join(run, watcher)
            status, error, summary = self._follow(run, board, watcher)
        except (ray.exceptions.RayError, ConnectionError, RuntimeError) as err:
            status, summary = FAILED, None
            error = f"The Ray backend lost this run ({type(err).__name__}: {err})."
        run.finish(status, error=error, summary=summary, keep=keep)

    @staticmethod
    def _join(run: Run, watcher: str) -> Any:
        """The run's board (created with the run's training unless it exists), joined."""
        import ray
        from core.ray_board import NAMESPACE, RemoteBoard, board_name

        for attempt in range(2):
            board = RemoteBoard.options(
                name=board_name(run.key), namespace=NAMESPACE, lifetime="detached",
                get_if_exists=True).remote(run.experiment.name, params.as_dict(run.config),
                                           run.key)
            try:
                instance = ray.get(board.join.remote(watcher), timeout=CALL_TIMEOUT)
            except ray.exceptions.RayActorError:
                if attempt:  # the board we found was exiting; a new one is made once
                    raise
                continue
            boards_followed.setdefault(run.key, []).append(instance)
            return board
        raise AssertionError("unreachable")

    @staticmethod
    def _follow(run: Run, board: Any, watcher: str) -> tuple[str, str | None, Any]:
        """Copy the board onto `run` until the run ends or this replica cancels it."""
        import ray

        since, versions = 0, {}
        while True:
            if run.cancelled:
                board.leave.remote(watcher)  # the training goes on if others watch it
                return CANCELLED, "Cancelled.", None
            news = ray.get(board.poll.remote(since, versions), timeout=CALL_TIMEOUT)
            if news["device"] and not run.device.startswith("Ray"):
                run.set_device(f"Ray worker, {news['device']}")
            if news["total"] is not None:
                run.set_total(news["total"])
            for step, values in news["logs"]:
                run.record(step, values)
            since += len(news["logs"])
            for name, (version, value) in news["snaps"].items():
                versions[name] = version
                run.snapshot(name, value)
            if news["end"] is not None:
                ray.get(board.leave.remote(watcher), timeout=CALL_TIMEOUT)
                board.linger.remote()
                return tuple(news["end"])  # type: ignore[return-value]
            time.sleep(POLL_EVERY)

    def stop(self) -> None:
        pass  # the connection is the process's; `ray.shutdown()` ends a local Ray
