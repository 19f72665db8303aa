"""The run engine: experiments train in background worker threads while pages read.

`Registry.start(experiment, config)` returns a `Run` at once. The same experiment
and config give the same Run, from any session, so nothing trains twice; finished
runs stay in memory (least recently used, bounded) and on disk (`core.cache`), so a
revisit draws at once, even after a restart.

Workers are threads, not processes: the models are small, a thread starts a run in
milliseconds, and snapshots need no copying between processes. Workers never call
Streamlit; pages read a consistent copy of a Run with `Run.view()`.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
import traceback
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable


from core import cache as cache_mod
from core import device as device_mod
from core import params
from core.experiments import Experiment, get as get_experiment

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED, DIVERGED = (
    "queued", "running", "done", "failed", "cancelled", "diverged")
ACTIVE = (QUEUED, RUNNING)
FINISHED = (DONE, DIVERGED)  # deterministic outcomes: kept and cached


class Cancelled(Exception):
    """Raised inside a run by `Run.log` once the run has been cancelled."""


class Diverged(Exception):
    """Raised inside a run by `Run.log` when a logged number is NaN or infinite."""


class QueueFull(RuntimeError):
    pass


@dataclass(frozen=True)
class RunView:
    """A consistent copy of a Run, safe to read while the run goes on."""

    key: str
    experiment: str
    config: Any
    status: str
    step: int
    total: int | None
    elapsed: float
    device: str
    error: str | None
    summary: dict[str, Any] | None
    metrics: dict[str, tuple[list[int], list[float]]]
    snapshots: dict[str, Any]
    queue_position: int | None
    from_cache: bool

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def progress(self) -> float:
        if self.status in FINISHED:
            return 1.0
        return min(1.0, self.step / self.total) if self.total else 0.0


def _to_numpy(value: Any) -> Any:
    if hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    return value


class Run:
    """One training of one experiment+config. The experiment reports through it:
    `log(step, **scalars)`, `snapshot(name, value)`, `set_total(n)`, `cancelled`."""

    def __init__(self, experiment: Experiment, config: Any, key: str, device: str):
        self.experiment = experiment
        self.config = config
        self.key = key
        self.device = device
        self.status = QUEUED
        self.step = 0
        self.total: int | None = None
        self.error: str | None = None
        self.summary: dict[str, Any] | None = None
        self.metrics: dict[str, tuple[list[int], list[float]]] = {}
        self.snapshots: dict[str, Any] = {}
        self.created = time.monotonic()
        self.started: float | None = None
        self.ended: float | None = None
        self.stored_elapsed: float | None = None
        self.from_cache = False
        self.owners: set[str] = set()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._registry: Registry | None = None

    # --- what an experiment calls -------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def set_total(self, total: int) -> None:
        with self._lock:
            self.total = int(total)

    def log(self, step: int, **scalars: float) -> None:
        """Record scalars at a step. Raises Cancelled or Diverged to end the run early."""
        if self._cancel.is_set():
            raise Cancelled()
        values = {name: float(v) for name, v in scalars.items()}
        self.record(step, values)
        bad = [name for name, v in values.items() if not math.isfinite(v)]
        if bad:
            raise Diverged(f"'{bad[0]}' became {values[bad[0]]} at step {step}")

    def record(self, step: int, values: dict[str, float]) -> None:
        """Append logged values (no checks: `log` checks; a worker process's logs land here)."""
        with self._lock:
            self.step = int(step)
            for name, value in values.items():
                steps, vals = self.metrics.setdefault(name, ([], []))
                steps.append(int(step))
                vals.append(value)

    def snapshot(self, name: str, value: Any) -> None:
        """Keep the latest value of something to draw (arrays, tensors, or a dict of them)."""
        value = _to_numpy(value)
        with self._lock:
            self.snapshots[name] = value

    # --- what a page calls --------------------------------------------------------
    def view(self) -> RunView:
        with self._lock:
            metrics = {k: (list(s), list(v)) for k, (s, v) in self.metrics.items()}
            snapshots = dict(self.snapshots)
            status, step, total = self.status, self.step, self.total
            error, summary = self.error, self.summary
        return RunView(key=self.key, experiment=self.experiment.name, config=self.config,
                       status=status, step=step, total=total, elapsed=self.elapsed,
                       device=self.device, error=error, summary=summary, metrics=metrics,
                       snapshots=snapshots, queue_position=self.queue_position(),
                       from_cache=self.from_cache)

    @property
    def elapsed(self) -> float:
        if self.stored_elapsed is not None:
            return self.stored_elapsed
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def queue_position(self) -> int | None:
        """1 for the next run to start, None when not queued."""
        return self._registry.queue_position(self) if self._registry else None

    def cancel(self) -> None:
        if self._registry:
            self._registry.cancel(self)
        else:
            self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run has ended (tests and the CLI only; pages never block)."""
        return self._finished.wait(timeout)

    def _end(self, status: str, error: str | None = None,
             summary: dict[str, Any] | None = None, wake: bool = True) -> None:
        with self._lock:
            self.status, self.error, self.summary = status, error, summary
            self.ended = time.monotonic()
        if wake:
            self._finished.set()


def execute(run: Run, keep: Callable[[Run], None] | None = None) -> None:
    """Train one run in the calling thread and record how it ended. Never raises.

    `keep(run)` is called on a finished run before anyone waiting on it is woken, so a
    caller of `Run.wait()` finds the run already stored.
    """
    device = device_mod.choose()
    device_mod.prepare_worker(device)
    with run._lock:
        run.status = RUNNING
        run.started = time.monotonic()
    try:
        summary = run.experiment.run(run.config, run)
        if not isinstance(summary, dict):
            raise TypeError(f"{run.experiment.name}.run() must return a dict summary, "
                            f"not {type(summary).__name__}")
        json.dumps(summary)  # a summary must be JSON; fail here, not in the cache
        if summary.get("diverged"):  # the experiment judged it (e.g. the loss blew up)
            reason = summary.get("diverged_reason") or "the loss blew up"
            run._end(DIVERGED, error=f"Training diverged: {reason}. "
                                     f"{run.experiment.diverge_hint}", summary=summary,
                     wake=False)
        else:
            run._end(DONE, summary=summary, wake=False)
    except Cancelled:
        run._end(CANCELLED, error="Cancelled.", wake=False)
    except Diverged as err:
        hint = run.experiment.diverge_hint
        run._end(DIVERGED, error=f"Training diverged: {err}. {hint}",
                 summary={"diverged": True, "steps_done": run.step, "reason": str(err)},
                 wake=False)
    except Exception as err:  # one failed run must not take down another
        log.error("run %s (%s) failed:\n%s", run.key, run.experiment.name,
                  traceback.format_exc())
        run._end(FAILED, error=f"{type(err).__name__}: {err}", wake=False)
    try:
        if keep is not None and run.status in FINISHED:
            keep(run)
    finally:
        run._finished.set()


def run_sync(experiment: str | Experiment, config: Any | None = None) -> Run:
    """Train in the calling thread through the same code path (CLI and tests)."""
    exp = get_experiment(experiment) if isinstance(experiment, str) else experiment
    config = params.validate(config if config is not None else exp.Config())
    run = Run(exp, config, params.cache_key(exp.name, exp.version, config),
              device_mod.describe())
    execute(run)
    return run


class Registry:
    """Process-wide: every session's runs, a bounded queue, a bounded pool of workers."""

    def __init__(self, workers: int | None = None, cache_dir: str | None = None,
                 max_queue: int = 16, max_runs_in_memory: int = 64,
                 max_cache_bytes: int | None = None, mode: str = "thread"):
        if mode not in ("thread", "process"):
            raise ValueError(f"mode must be 'thread' or 'process'; got {mode!r}")
        self.mode = mode
        self.workers = workers or device_mod.default_workers()
        self.max_queue = max_queue
        self.max_runs_in_memory = max_runs_in_memory
        self.disk = cache_mod.DiskCache(cache_dir, max_cache_bytes)
        self.device = device_mod.describe()
        self._runs: OrderedDict[str, Run] = OrderedDict()
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
        exp = get_experiment(experiment) if isinstance(experiment, str) else experiment
        config = params.validate(config if config is not None else exp.Config())
        key = params.cache_key(exp.name, exp.version, config)
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
                run = None if force else self._load_locked(exp, config, key)
                if force:
                    self.disk.delete(key)
                if run is None:
                    if len(self._queue) >= self.max_queue:
                        raise QueueFull(f"{len(self._queue)} runs are already waiting; "
                                        "cancel one or try again when one has finished.")
                    run = Run(exp, config, key, self.device)
                    run._registry = self
                    self._queue.append(run)
                    self._ensure_workers_locked()
                    self._wake.notify()
                self._runs[key] = run
                self._trim_memory_locked()
            if owner is not None:
                run.owners.add(owner)
            return run

    def _load_locked(self, exp: Experiment, config: Any, key: str) -> Run | None:
        record = self.disk.load(key)
        if record is None:
            return None
        run = Run(exp, config, key, record.get("device", self.device))
        run._registry = self
        run.metrics = record["metrics"]
        run.snapshots = record["snapshots"]
        run.status, run.summary, run.error = record["status"], record["summary"], record["error"]
        run.step, run.total = record["step"], record["total"]
        run.stored_elapsed = record["elapsed"]
        run.from_cache = True
        run._finished.set()
        return run

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

    # --- ending runs ---------------------------------------------------------------
    def cancel(self, run: Run) -> None:
        with self._lock:
            self._cancel_locked(run)

    def _cancel_locked(self, run: Run) -> None:
        run._cancel.set()
        if run in self._queue:
            self._queue.remove(run)
            run._end(CANCELLED, error="Cancelled before it started.")

    def release(self, run: Run, owner: str) -> None:
        """`owner` no longer watches `run`; a run nobody watches stops training."""
        with self._lock:
            run.owners.discard(owner)
            if not run.owners and run.status in ACTIVE:
                self._cancel_locked(run)

    def _trim_memory_locked(self) -> None:
        ended = [k for k, r in self._runs.items() if r.status not in ACTIVE]
        while len(self._runs) > self.max_runs_in_memory and ended:
            del self._runs[ended.pop(0)]

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
        if self.mode == "process":
            from core.workers import ProcessWorker  # starts a process that warms itself up
            worker = ProcessWorker()
            worker.wait_ready(lambda: self._stopping)
            train = worker.execute
        else:
            worker = None
            train = execute
            try:
                device_mod.warm_up()
            except Exception:  # a failed warm-up only costs the first run its speed
                log.exception("warm-up failed")
        try:
            while True:
                with self._lock:
                    while not self._queue and not self._stopping:
                        self._wake.wait()
                    if self._stopping:
                        return
                    run = self._queue.popleft()
                    self.trainings_started += 1
                train(run, keep=self._store)
                with self._lock:
                    self._trim_memory_locked()
        finally:
            if worker is not None:
                worker.stop()

    def _store(self, run: Run) -> None:
        view = run.view()
        meta = {"experiment": run.experiment.name, "version": run.experiment.version,
                "config": params.as_dict(run.config), "status": view.status,
                "summary": view.summary, "error": view.error, "step": view.step,
                "total": view.total, "elapsed": view.elapsed, "device": view.device}
        try:
            self.disk.save(run.key, meta, view.metrics, view.snapshots)
        except Exception:  # a full disk must not fail the run itself
            log.exception("could not cache run %s", run.key)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every run, stop the workers and join them."""
        with self._lock:
            self._stopping = True
            for run in list(self._queue):
                self._cancel_locked(run)
            for run in self._runs.values():
                run._cancel.set()
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
