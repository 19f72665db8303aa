"""One run: what an experiment reports through, what a page reads, and how it trains.

The bottom of the engine's chain (run <- trainers <- registry): this module knows
neither the trainers nor the registry. A `Run` is the whole state of one training of
one experiment+config; everything that changes it goes through its methods:

- the experiment reports: `log(step, **scalars)`, `snapshot(name, value)`,
  `set_total(n)`, and reads `cancelled`;
- a trainer drives it: `mark_running()`, then `finish(status, error, summary, keep)`
  once, and, for a trainer that trains elsewhere (a child process), `record(step,
  values)` / `snapshot` / `set_total` / `set_device` with what arrives from there;
- whoever schedules it (the registry) hands itself over at construction as the run's
  `scheduler` (queue position, cancel), ends a queued run with `finish`, and asks a
  running one to stop with `request_cancel()`;
- the disk cache round-trips it with `to_record()` / `Run.from_record(...)`;
- a page reads a consistent copy with `view()`; tests and the CLI block on `wait()`.

`execute(run, keep)` trains a run in the calling thread; `run_sync(experiment, config)`
builds a run and executes it (tests, the CLI and the benchmarks).
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from core import device as device_mod
from core import params
from core.experiments import Experiment, get as get_experiment

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED, DIVERGED = (
    "queued", "running", "done", "failed", "cancelled", "diverged")
ACTIVE = (QUEUED, RUNNING)
FINISHED = (DONE, DIVERGED)  # deterministic outcomes: kept and cached
ENDED = (DONE, FAILED, CANCELLED, DIVERGED)

Keep = Callable[["Run"], None]  # stores a finished run before its waiters wake


class Cancelled(Exception):
    """Raised inside a run by `Run.log` once the run has been cancelled."""


class Diverged(Exception):
    """Raised inside a run by `Run.log` when a logged number is NaN or infinite."""


class Scheduler(Protocol):
    """What a run asks of whoever queued it (the registry)."""

    def queue_position(self, run: Run) -> int | None: ...

    def cancel(self, run: Run) -> None: ...


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
    """One training of one experiment+config (see the module docstring for who calls
    what). `cancel_event` lets a run in another process share its parent's cancel
    flag (any object with `set()` and `is_set()`); `scheduler` answers
    `queue_position()` and `cancel()` for a queued run."""

    def __init__(self, experiment: Experiment, config: Any, key: str, device: str,
                 cancel_event: Any | None = None, scheduler: Scheduler | None = None):
        self.experiment = experiment
        self.config = config
        self.key = key
        self._device = device
        self._status = QUEUED
        self._step = 0
        self._total: int | None = None
        self._error: str | None = None
        self._summary: dict[str, Any] | None = None
        self._metrics: dict[str, tuple[list[int], list[float]]] = {}
        self._snapshots: dict[str, Any] = {}
        self._started: float | None = None
        self._ended: float | None = None
        self._stored_elapsed: float | None = None
        self._from_cache = False
        self._lock = threading.Lock()
        self._cancel = cancel_event if cancel_event is not None else threading.Event()
        self._ended_event = threading.Event()
        self._scheduler = scheduler

    # --- what an experiment calls -------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def set_total(self, total: int) -> None:
        with self._lock:
            self._total = int(total)

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
            self._step = int(step)
            for name, value in values.items():
                steps, vals = self._metrics.setdefault(name, ([], []))
                steps.append(int(step))
                vals.append(value)

    def snapshot(self, name: str, value: Any) -> None:
        """Keep the latest value of something to draw (arrays, tensors, or a dict of them)."""
        value = _to_numpy(value)
        with self._lock:
            self._snapshots[name] = value

    # --- what a trainer calls -------------------------------------------------------
    def mark_running(self) -> None:
        """The run has left the queue and begins to train now."""
        with self._lock:
            self._status = RUNNING
            self._started = time.monotonic()

    def set_device(self, device: str) -> None:
        """Where it trains, as a trainer that trains elsewhere learns it."""
        with self._lock:
            self._device = device

    def finish(self, status: str, error: str | None = None,
               summary: dict[str, Any] | None = None, keep: Keep | None = None) -> None:
        """Record how the run ended, `keep(run)` it when its outcome is deterministic
        (so that a caller of `wait()` finds it already stored), then wake its waiters."""
        if status not in ENDED:
            raise ValueError(f"a run ends {', '.join(ENDED)}; not {status!r}")
        with self._lock:
            self._status, self._error, self._summary = status, error, summary
            self._ended = time.monotonic()
        try:
            if keep is not None and status in FINISHED:
                keep(self)
        finally:
            self._ended_event.set()

    # --- what a scheduler calls ---------------------------------------------------
    def request_cancel(self) -> None:
        """Ask the training to stop: its next `log` raises Cancelled."""
        self._cancel.set()

    # --- what a page, a test or the CLI reads -------------------------------------
    @property
    def status(self) -> str:
        return self._status

    @property
    def step(self) -> int:
        return self._step

    @property
    def total(self) -> int | None:
        return self._total

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def summary(self) -> dict[str, Any] | None:
        return self._summary

    @property
    def device(self) -> str:
        return self._device

    @property
    def from_cache(self) -> bool:
        return self._from_cache

    @property
    def metrics(self) -> dict[str, tuple[list[int], list[float]]]:
        """A copy of the curves so far."""
        with self._lock:
            return {k: (list(s), list(v)) for k, (s, v) in self._metrics.items()}

    @property
    def snapshots(self) -> dict[str, Any]:
        """A copy of the latest snapshots (the arrays themselves are shared, not copied)."""
        with self._lock:
            return dict(self._snapshots)

    def view(self) -> RunView:
        with self._lock:
            metrics = {k: (list(s), list(v)) for k, (s, v) in self._metrics.items()}
            snapshots = dict(self._snapshots)
            status, step, total = self._status, self._step, self._total
            error, summary, device = self._error, self._summary, self._device
        return RunView(key=self.key, experiment=self.experiment.name, config=self.config,
                       status=status, step=step, total=total, elapsed=self.elapsed,
                       device=device, error=error, summary=summary, metrics=metrics,
                       snapshots=snapshots, queue_position=self.queue_position(),
                       from_cache=self._from_cache)

    @property
    def elapsed(self) -> float:
        if self._stored_elapsed is not None:
            return self._stored_elapsed
        if self._started is None:
            return 0.0
        return (self._ended or time.monotonic()) - self._started

    def queue_position(self) -> int | None:
        """1 for the next run to start, None when not queued."""
        if self._scheduler is None or self._status != QUEUED:
            return None
        return self._scheduler.queue_position(self)

    def cancel(self) -> None:
        """Stop the run: a queued one at once, a running one at its next `log`."""
        if self._scheduler is not None:
            self._scheduler.cancel(self)
        else:
            self.request_cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run has ended (tests and the CLI only; pages never block)."""
        return self._ended_event.wait(timeout)

    # --- the disk cache ---------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        """What the disk cache stores of a finished run: JSON fields plus `metrics` and
        `snapshots` (the arrays), the shape `DiskCache.load` gives back."""
        view = self.view()
        return {"experiment": self.experiment.name, "version": self.experiment.version,
                "config": params.as_dict(self.config), "status": view.status,
                "summary": view.summary, "error": view.error, "step": view.step,
                "total": view.total, "elapsed": view.elapsed, "device": view.device,
                "metrics": view.metrics, "snapshots": view.snapshots}

    @classmethod
    def from_record(cls, experiment: Experiment, config: Any, key: str,
                    record: dict[str, Any], device: str,
                    scheduler: Scheduler | None = None) -> Run:
        """A finished run as the disk cache stored it (`device`: when it names none)."""
        run = cls(experiment, config, key, record.get("device") or device,
                  scheduler=scheduler)
        run._metrics = {name: (list(s), list(v)) for name, (s, v) in record["metrics"].items()}
        run._snapshots = dict(record["snapshots"])
        run._step, run._total = record["step"], record["total"]
        run._stored_elapsed = record["elapsed"]
        run._from_cache = True
        run._status, run._error, run._summary = (record["status"], record["error"],
                                                 record["summary"])
        run._ended_event.set()
        return run


def _outcome(run: Run) -> tuple[str, str | None, dict[str, Any] | None]:
    """Train `run` and say how it ended: (status, error, summary)."""
    exp = run.experiment
    try:
        summary = exp.run(run.config, run)
        if not isinstance(summary, dict):
            raise TypeError(f"{exp.name}.run() must return a dict summary, "
                            f"not {type(summary).__name__}")
        json.dumps(summary)  # a summary must be JSON; fail here, not in the cache
    except Cancelled:
        return CANCELLED, "Cancelled.", None
    except Diverged as err:
        return (DIVERGED, f"Training diverged: {err}. {exp.diverge_hint}",
                {"diverged": True, "steps_done": run.step, "reason": str(err)})
    except Exception as err:  # one failed run must not take down another
        if run.cancelled:  # e.g. it stopped early and then tripped over a partial result
            return CANCELLED, "Cancelled.", None
        log.error("run %s (%s) failed:\n%s", run.key, exp.name, traceback.format_exc())
        return FAILED, f"{type(err).__name__}: {err}", None
    if run.cancelled:  # it noticed the cancel and returned early: not a result to keep
        return CANCELLED, "Cancelled.", None
    if summary.get("diverged"):  # the experiment judged it (e.g. the loss blew up)
        reason = summary.get("diverged_reason") or "the loss blew up"
        return DIVERGED, f"Training diverged: {reason}. {exp.diverge_hint}", summary
    return DONE, None, summary


def execute(run: Run, keep: Keep | None = None) -> None:
    """Train one run in the calling thread and record how it ended.

    An exception inside the experiment fails the run and does not propagate. Only an
    interruption of the calling thread itself (KeyboardInterrupt, SystemExit) does, after
    the run has been ended as cancelled. `keep(run)` is called on a finished run before
    anyone waiting on it is woken, so a caller of `Run.wait()` finds the run stored.
    """
    device_mod.prepare_worker(device_mod.choose())
    run.mark_running()
    try:
        status, error, summary = _outcome(run)
    except BaseException:
        run.request_cancel()
        run.finish(CANCELLED, error="Interrupted.")
        raise
    run.finish(status, error=error, summary=summary, keep=keep)


def new_run(experiment: str | Experiment, config: Any | None = None,
            scheduler: Scheduler | None = None, device: str | None = None) -> Run:
    """A queued run of `experiment` (a name or the Experiment) with `config` validated
    (None: the defaults). Raises params.ParamError for a value out of its bounds."""
    exp = get_experiment(experiment) if isinstance(experiment, str) else experiment
    config = params.validate(config if config is not None else exp.Config())
    return Run(exp, config, params.cache_key(exp.name, exp.version, config),
               device if device is not None else device_mod.describe(), scheduler=scheduler)


def run_sync(experiment: str | Experiment, config: Any | None = None,
             progress: Callable[[RunView], None] | None = None,
             every: float = 0.5) -> Run:
    """Train in the calling thread through the same code path as the server's workers
    (tests, the CLI and the benchmarks), and return the ended run.

    `progress(view)` is called from a watcher thread every `every` seconds while the run
    trains, and once more after it has ended. A KeyboardInterrupt in the calling thread
    cancels the run and propagates (the CLI exits 130).
    """
    run = new_run(experiment, config)
    watcher = None
    if progress is not None:
        def watch() -> None:
            while not run.wait(every):
                progress(run.view())
            progress(run.view())
        watcher = threading.Thread(target=watch, name="lab-progress", daemon=True)
        watcher.start()
    try:
        execute(run)
    finally:
        if watcher is not None:
            watcher.join(max(1.0, 4 * every))
    return run
