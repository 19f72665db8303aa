"""What lives on the Ray cluster for one run: a board (a named actor) and its training task.

Kept free of torch and of the rest of `core` at import time: the board is a small actor
that only holds what the run has reported, so its process must not pay for torch.

- `RunBoard`, one per run key, named `run:<key>` in the `lab` namespace and detached, so
  that every replica that asks for the same run finds the same board
  (`get_if_exists`). The board starts the run's training task itself, once, so the task
  belongs to the board and outlives the replica that asked first. It keeps the run's
  total, its logs (in order), its latest snapshots (each with a version), and how it
  ended. Replicas `join`, `poll` what is new, and `leave`; once nobody watches, the
  board asks the training to stop, and after the run has ended and the last watcher has
  left (or nobody has polled for `ORPHAN_SECONDS`) the board exits and frees its name.
- `train_on_board`, the training task: it trains through `core.engine.run.execute`,
  exactly as a local worker does, and pushes what the run reports to the board about
  four times a second. The answer to each push says whether to stop.
"""
from __future__ import annotations

import functools
import threading
import time
from typing import Any

import ray

NAMESPACE = "lab"
PUSH_EVERY = 0.25     # seconds between two pushes of logs to the board
GRACE_SECONDS = 5.0   # an ended run's board waits this long for a late watcher
ORPHAN_SECONDS = 120.0  # no poll for this long: every replica watching it is gone


def board_name(key: str) -> str:
    return f"run:{key}"


class RunBoard:
    """The shared state of one run on the cluster (see the module docstring)."""

    def __init__(self, experiment: str, values: dict[str, Any], key: str):
        self._lock = threading.Lock()
        self._logs: list[tuple[int, dict[str, float]]] = []
        self._snaps: dict[str, tuple[int, Any]] = {}
        self._version = 0
        self._total: int | None = None
        self._device: str | None = None
        self._end: tuple[str, str | None, Any] | None = None
        self._ended_at: float | None = None
        self._watchers: set[str] = set()
        self._stop = False
        self._lingering = False
        self._last_poll = time.monotonic()
        self.instance = f"{key[:12]}-{time.time_ns()}"  # tells two trainings apart (tests)
        me = ray.get_runtime_context().current_actor
        # max_retries=0: a worker that dies mid-run fails the run; it is not trained twice
        self._task = train_on_board.options(max_retries=0).remote(me, experiment, values, key)

    # --- what a replica's trainer calls -------------------------------------------
    def join(self, watcher: str) -> str:
        with self._lock:
            self._watchers.add(watcher)
            self._last_poll = time.monotonic()
        return self.instance

    def poll(self, since: int, versions: dict[str, int]) -> dict[str, Any]:
        """What is new after log `since` and the snapshot versions the caller holds."""
        self._check_task()
        with self._lock:
            self._last_poll = time.monotonic()
            return {"total": self._total, "device": self._device,
                    "logs": self._logs[since:],
                    "snaps": {name: (v, value) for name, (v, value) in self._snaps.items()
                              if versions.get(name, -1) < v},
                    "end": self._end}

    def leave(self, watcher: str) -> int:
        """`watcher` stops watching; with nobody left the training is asked to stop.
        Returns how many still watch."""
        with self._lock:
            self._watchers.discard(watcher)
            if not self._watchers and self._end is None:
                self._stop = True
            return len(self._watchers)

    # --- what the training task calls -----------------------------------------------
    def started(self, device: str) -> None:
        with self._lock:
            self._device = device

    def push(self, total: int | None, logs: list, snaps: dict[str, Any]) -> bool:
        """Append what the run reported; True when the run should stop."""
        with self._lock:
            if total is not None:
                self._total = total
            self._logs.extend(logs)
            for name, value in snaps.items():
                self._version += 1
                self._snaps[name] = (self._version, value)
            orphaned = time.monotonic() - self._last_poll > ORPHAN_SECONDS
            return self._stop or orphaned

    def end(self, status: str, error: str | None, summary: Any) -> None:
        with self._lock:
            if self._end is None:
                self._end = (status, error, summary)
                self._ended_at = time.monotonic()

    def linger(self) -> None:
        """Called once the run has ended (by its training task, and by a watcher that
        leaves after the end, in case the task died): wait until the last watcher has
        left (or is gone), then exit, freeing the board's name."""
        with self._lock:
            if self._lingering:
                return
            self._lingering = True
        while True:
            time.sleep(0.5)
            self._check_task()
            with self._lock:
                idle = time.monotonic() - self._last_poll > ORPHAN_SECONDS
                done = (not self._watchers and self._ended_at is not None
                        and time.monotonic() - self._ended_at > GRACE_SECONDS)
                if idle or done:
                    break
        ray.actor.exit_actor()

    def _check_task(self) -> None:
        """A training task that died without saying how the run ended fails the run."""
        with self._lock:
            if self._end is not None:
                return
        ready, _ = ray.wait([self._task], timeout=0)
        if not ready:
            return
        try:
            ray.get(ready[0])
        except Exception as err:  # the worker died, or the task was cancelled
            self.end("failed", "The Ray worker training this run died "
                     f"({type(err).__name__}: {err}).", None)


def train_on_board(board: Any, experiment: str, values: dict[str, Any], key: str) -> None:
    """The training task (a Ray task of one CPU): train the run here, pushing to `board`."""
    from core import device as device_mod
    from core import experiments, params
    from core.engine.run import execute

    exp = experiments.get(experiment)
    device = device_mod.describe()
    ray.get(board.started.remote(device))
    run = _pushing_run_class()(board, exp, params.build(exp.Config, values), key, device)
    try:
        execute(run)
        run.push()
        ray.get(board.end.remote(run.status, run.error, run.summary))
    finally:
        board.linger.remote()


@functools.lru_cache(maxsize=1)
def _pushing_run_class() -> type:
    from core.engine.run import Run  # imported in the training task only (torch)

    class PushingRun(Run):
        """A Run whose reports also go to the board, in batches."""

        def __init__(self, board: Any, *args: Any, **kwargs: Any):
            super().__init__(*args, cancel_event=threading.Event(), **kwargs)
            self.board = board
            self._pending_logs: list = []
            self._pending_snaps: dict[str, Any] = {}
            self._pending_total: int | None = None
            self._last_push = 0.0

        @property
        def cancelled(self) -> bool:
            """Asks the board now and then, so that a run waiting on something other
            than its own logs (a sweep's parts, core.fanout) still hears of a cancel."""
            if not self._cancel.is_set() and time.monotonic() - self._last_push >= PUSH_EVERY:
                self.push()
            return self._cancel.is_set()

        def set_total(self, total: int) -> None:
            super().set_total(total)
            self._pending_total = int(total)
            self.push()

        def record(self, step: int, values: dict[str, float]) -> None:
            super().record(step, values)
            self._pending_logs.append((int(step), values))
            if time.monotonic() - self._last_push >= PUSH_EVERY:
                self.push()

        def snapshot(self, name: str, value: Any) -> None:
            super().snapshot(name, value)
            self._pending_snaps[name] = self.snapshots[name]
            if time.monotonic() - self._last_push >= PUSH_EVERY:
                self.push()

        def push(self) -> None:
            logs, snaps, total = self._pending_logs, self._pending_snaps, self._pending_total
            self._pending_logs, self._pending_snaps, self._pending_total = [], {}, None
            self._last_push = time.monotonic()
            if ray.get(self.board.push.remote(total, logs, snaps)):
                self.request_cancel()

    return PushingRun


RemoteBoard = ray.remote(num_cpus=0, max_concurrency=8)(RunBoard)
train_on_board = ray.remote(num_cpus=1)(train_on_board)
