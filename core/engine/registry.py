"""The registry: every session's runs, one process-wide queue, a bounded pool of workers.

`Registry.start(experiment, config)` returns a `Run` at once. The same experiment and
config give the same Run, from any session, so nothing trains twice; finished runs stay
in memory (least recently used, bounded) and on disk (`core.engine.cache`), so a revisit
draws at once, even after a restart. Each worker thread owns one trainer
(`core.engine.trainers`): in the server a child process per worker, so that training
does not share the server's GIL; in threads with `mode="thread"`. Workers never call
Streamlit; pages read a consistent copy of a Run with `Run.view()`.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict, deque
from typing import Any

from core import cost
from core import device as device_mod
from core.engine.cache import DiskCache
from core.engine.run import ACTIVE, CANCELLED, FINISHED, Run, new_run
from core.engine.trainers import TRAINERS, Trainer
from core.experiments import Experiment

log = logging.getLogger(__name__)


class QueueFull(RuntimeError):
    """The shared queue is full: no new run can wait for a worker now."""


class SessionBusy(RuntimeError):
    """One visitor (session) asked for more new runs than its cap allows at once."""


class TooLong(RuntimeError):
    """The configuration would hold a worker longer than the server allows for one run
    (`core.cost`); `message` names the setting to lower."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def default_max_per_session() -> int:
    """LAB_MAX_RUNS_PER_SESSION: runs one visitor may have queued or training (6: a
    little more than the most any page starts at once, the data page's five)."""
    text = os.environ.get("LAB_MAX_RUNS_PER_SESSION", "").strip()
    return max(1, int(text)) if text.isdigit() else 6


def session_of(owner: str) -> str:
    """Owners are page slots named `<session>:<slot>`."""
    return owner.split(":", 1)[0]


class Registry:
    """Process-wide: every session's runs, a bounded queue, a bounded pool of workers."""

    def __init__(self, workers: int | None = None, cache_dir: str | None = None,
                 max_queue: int = 16, max_runs_in_memory: int = 64,
                 max_cache_bytes: int | None = None, mode: str = "thread",
                 max_per_session: int | None = None, max_run_seconds: float | None = None):
        if mode not in TRAINERS:
            raise ValueError(f"mode must be one of {', '.join(TRAINERS)}; got {mode!r}")
        self.mode = mode
        self.device = device_mod.describe()
        if mode == "ray":
            # Ray is optional: imported only here
            from core.engine.ray_trainer import cluster_cpus, describe as describe_cluster
            self.device = describe_cluster()
            if workers is None and not os.environ.get("LAB_WORKERS"):
                workers = cluster_cpus()  # one run in flight per CPU there
        self.workers = workers or device_mod.default_workers()
        self.max_queue = max_queue
        self.max_per_session = max_per_session or default_max_per_session()
        # the longest run (estimated seconds) this registry trains; 0: no bound
        self.max_run_seconds = (cost.max_run_seconds() if max_run_seconds is None
                                else max_run_seconds)
        self.max_runs_in_memory = max_runs_in_memory
        self.disk = DiskCache(cache_dir, max_cache_bytes)
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._owners: dict[Run, set[str]] = {}  # the page slots watching each run
        self._queue: deque[Run] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.trainings_started = 0  # how many times a worker began training (tests)
        with self._lock:  # start the workers now: they warm torch up while pages load
            self._ensure_workers_locked()

    # --- starting and finding runs -----------------------------------------------
    def start(self, experiment: str | Experiment, config: Any | None = None,
              owner: str | None = None, force: bool = False) -> Run:
        queued = new_run(experiment, config, scheduler=self, device=self.device)
        key = queued.key
        with self._lock:
            if self._stopping:
                raise RuntimeError("the Lab is shutting down; no new runs start")
            run = self._runs.get(key)
            # a cancelled run that has not noticed yet is still 'running': not reusable
            reusable = run is not None and (run.status in FINISHED or (
                run.status in ACTIVE and not run.cancelled))
            if reusable and not force:
                self._runs.move_to_end(key)
            else:
                if run is not None and run.status in ACTIVE:  # force: replace a live one
                    self._cancel_locked(run)
                run = None if force else self._load_locked(queued)
                if force:
                    self.disk.delete(key)
                if run is None:
                    too_long = cost.check(queued.experiment, queued.config,
                                          self.max_run_seconds)
                    if too_long is not None:
                        raise TooLong(too_long)
                    if len(self._queue) >= self.max_queue:
                        raise QueueFull(f"{len(self._queue)} runs are already waiting; "
                                        "cancel one or try again when one has finished.")
                    if owner is not None:
                        self._check_session_cap_locked(owner)
                    run = queued
                    self._queue.append(run)
                    self._ensure_workers_locked()
                    self._wake.notify()
                replaced = self._runs.get(key)
                if replaced is not None and replaced is not run:
                    self._owners.pop(replaced, None)
                self._runs[key] = run
                self._trim_memory_locked()
            if owner is not None:
                self._owners.setdefault(run, set()).add(owner)
            return run

    def _check_session_cap_locked(self, owner: str) -> None:
        """Refuse a new run when this visitor's other page slots already hold the cap
        (the slot asking is about to let go of its own previous run)."""
        session = session_of(owner)
        held = [r for r, owners in self._owners.items() if r.status in ACTIVE and
                any(session_of(o) == session and o != owner for o in owners)]
        if len(held) >= self.max_per_session:
            raise SessionBusy(
                f"You already have {len(held)} runs queued or training (at most "
                f"{self.max_per_session} at once, so that one visitor cannot fill the "
                "queue): cancel one or wait until one has finished.")

    def session_runs(self, session: str) -> list[Run]:
        """The runs queued or training that some page slot of `session` watches."""
        with self._lock:
            return [r for r, owners in self._owners.items() if r.status in ACTIVE and
                    any(session_of(o) == session for o in owners)]

    def withdraw(self, run: Run, session: str) -> bool:
        """`session` lets go of `run` (its Cancel button): the run stops only when no
        other session watches it. True when it was cancelled."""
        with self._lock:
            owners = self._owners.get(run, set())
            owners.difference_update({o for o in owners if session_of(o) == session})
            if not owners and run.status in ACTIVE:
                self._cancel_locked(run)
                return True
            return False

    def _load_locked(self, queued: Run) -> Run | None:
        record = self.disk.load(queued.key)
        if record is None:
            return None
        return Run.from_record(queued.experiment, queued.config, queued.key, record,
                               device=self.device, scheduler=self)

    def get(self, key: str) -> Run | None:
        with self._lock:
            return self._runs.get(key)

    def active_runs(self) -> list[Run]:
        with self._lock:
            return [r for r in self._runs.values() if r.status in ACTIVE]

    def queue_position(self, run: Run) -> int | None:
        with self._lock:
            try:
                return self._queue.index(run) + 1
            except ValueError:
                return None

    def owners(self, run: Run) -> frozenset[str]:
        """The page slots that watch `run`."""
        with self._lock:
            return frozenset(self._owners.get(run, ()))

    # --- ending runs ---------------------------------------------------------------
    def cancel(self, run: Run) -> None:
        with self._lock:
            self._cancel_locked(run)

    def _cancel_locked(self, run: Run) -> None:
        run.request_cancel()
        if run in self._queue:
            self._queue.remove(run)
            run.finish(CANCELLED, error="Cancelled before it started.")

    def release(self, run: Run, owner: str) -> None:
        """`owner` no longer watches `run`; a run nobody watches stops training."""
        with self._lock:
            owners = self._owners.get(run, set())
            owners.discard(owner)
            if not owners and run.status in ACTIVE:
                self._cancel_locked(run)

    def _trim_memory_locked(self) -> None:
        ended = [k for k, r in self._runs.items() if r.status not in ACTIVE]
        while len(self._runs) > self.max_runs_in_memory and ended:
            self._owners.pop(self._runs.pop(ended.pop(0)), None)

    # --- workers -------------------------------------------------------------------
    def _ensure_workers_locked(self) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        if not self._threads:
            # Stop and join the workers before the interpreter tears threads down: a
            # thread still inside torch at exit aborts the process (exit 134).
            threading._register_atexit(self.shutdown)  # type: ignore[attr-defined]
        while len(self._threads) < self.workers:
            t = threading.Thread(target=self._work, name=f"lab-worker-{len(self._threads)}")
            self._threads.append(t)
            t.start()

    def _work(self) -> None:
        """A worker thread: one trainer, which trains the queue's runs one at a time."""
        trainer: Trainer = TRAINERS[self.mode]()
        try:
            trainer.warm_up(lambda: self._stopping)
            while True:
                with self._lock:
                    while not self._queue and not self._stopping:
                        self._wake.wait()
                    if self._stopping:
                        return
                    run = self._queue.popleft()
                    self.trainings_started += 1
                trainer.train(run, keep=self._store)
                with self._lock:
                    self._trim_memory_locked()
        finally:
            trainer.stop()

    def _store(self, run: Run) -> None:
        record = run.to_record()
        metrics, snapshots = record.pop("metrics"), record.pop("snapshots")
        try:
            self.disk.save(run.key, record, metrics, snapshots)
        except Exception:  # a full disk must not fail the run itself
            log.exception("could not cache run %s", run.key)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every run, stop the workers and join them."""
        with self._lock:
            self._stopping = True
            for run in list(self._queue):
                self._cancel_locked(run)
            for run in self._runs.values():
                run.request_cancel()
            self._wake.notify_all()
            threads = list(self._threads)
        for t in threads:
            if t is not threading.current_thread():
                t.join(timeout)


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The one registry of this process (the server's pages all share it)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry(mode=device_mod.worker_mode())
        return _default


def reset_default_registry() -> None:
    """Shut the process's registry down and forget it (tests)."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.shutdown()
        _default = None
