"""Trainers: where a run trains. One small interface, two implementations.

A trainer trains one run at a time, and each worker thread of the registry owns one:

    class Trainer:
        device: str | None            # where it trains, once known
        def warm_up(self, stopping)   # get ready (import torch, pay one-time costs);
                                      # return early once stopping() is true
        def train(self, run, keep)    # train `run` to its end, then run.finish(..., keep)
        def stop(self)                # release what it holds (a process, a connection)

`train` has the contract of `core.engine.run.execute`: it never raises for a failing
experiment; it calls `run.mark_running()` when training begins and `run.finish(status,
error, summary, keep=keep)` exactly once at the end; while the run trains it makes the
run's logs and snapshots visible on `run` (a page reads them there), and it stops
early once `run.cancelled` is true.

- `ThreadTrainer` trains in the calling thread, through `execute` itself (what tests,
  the CLI, and `LAB_WORKER_MODE=thread` use).
- `ProcessTrainer` trains in a spawned child process that runs the same `execute` and
  streams what the run reports back over a pipe; a cancel is a shared event; a child
  that dies fails its run alone and is restarted for the next one. The server uses it
  so that training does not share the server's GIL.

- `RayTrainer` (`core.engine.ray_trainer`, with `LAB_BACKEND=ray`) trains on a Ray
  cluster: the run's board there streams it to every replica that watches it.

Another backend plugs in the same way: a class with these three methods, listed in
`TRAINERS` under the name `core.device.worker_mode()` returns.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import types
from typing import Any, Callable, Protocol

from core import device as device_mod
from core import params
from core.engine.run import FAILED, Keep, Run, execute

log = logging.getLogger(__name__)


class Trainer(Protocol):
    """Trains one run at a time (see the module docstring)."""

    device: str | None

    def warm_up(self, stopping: Callable[[], bool]) -> None: ...

    def train(self, run: Run, keep: Keep | None = None) -> None: ...

    def stop(self) -> None: ...


class ThreadTrainer:
    """Trains in the thread that calls `train`."""

    def __init__(self) -> None:
        self.device: str | None = None

    def warm_up(self, stopping: Callable[[], bool]) -> None:
        try:
            device_mod.warm_up()
        except Exception:  # a failed warm-up only costs the first run its speed
            log.exception("warm-up failed")
        self.device = device_mod.describe()

    def train(self, run: Run, keep: Keep | None = None) -> None:
        execute(run, keep)

    def stop(self) -> None:
        pass


# --- training in a child process -------------------------------------------------------

_CTX = mp.get_context("spawn")
_START_LOCK = threading.Lock()


class _StreamingRun(Run):
    """A Run (in the child) whose logs and snapshots also go to the parent."""

    def __init__(self, conn: Any, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.conn = conn

    def set_total(self, total: int) -> None:
        super().set_total(total)
        self.conn.send(("total", int(total)))

    def record(self, step: int, values: dict[str, float]) -> None:
        super().record(step, values)
        self.conn.send(("log", int(step), values))

    def snapshot(self, name: str, value: Any) -> None:
        super().snapshot(name, value)
        self.conn.send(("snap", name, self.snapshots[name]))


def _child_main(conn: Any, cancel: Any) -> None:
    """The worker process: warm up, then train whatever the parent sends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    try:  # training is background work: the server and its pages come first for the CPU
        os.nice(10)
    except (AttributeError, OSError):
        pass
    from core import experiments

    device_mod.prepare_worker(device_mod.choose())
    try:
        device_mod.warm_up()
    except Exception:
        pass
    conn.send(("ready", device_mod.describe()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        _, name, values = message
        try:
            exp = experiments.get(name)
            run = _StreamingRun(conn, exp, params.build(exp.Config, values), "",
                                device_mod.describe(), cancel_event=cancel)
            execute(run)
            conn.send(("end", run.status, run.error, run.summary))
        except Exception as err:  # e.g. the pipe broke; report what we can
            try:
                conn.send(("end", FAILED, f"{type(err).__name__}: {err}", None))
            except OSError:
                return


class ProcessTrainer:
    """Trains in a spawned child process (one run at a time), streaming back over a pipe."""

    def __init__(self) -> None:
        self.device: str | None = None
        self._start()

    def _start(self) -> None:
        self.device = None
        self.cancel = _CTX.Event()
        self.conn, child = _CTX.Pipe()
        self.proc = _CTX.Process(target=_child_main, args=(child, self.cancel),
                                 name="lab-trainer", daemon=True)
        # A spawned child first re-runs the parent's __main__. In the server that is the
        # Streamlit script being run (Streamlit swaps it in), so the child would execute
        # app.py in bare mode, build a registry and fail to start workers of its own. Hand
        # it an empty __main__ instead: the child needs nothing but core.
        with _START_LOCK:
            real_main = sys.modules["__main__"]
            sys.modules["__main__"] = types.ModuleType("__main__")
            try:
                self.proc.start()
            finally:
                sys.modules["__main__"] = real_main
        child.close()

    def warm_up(self, stopping: Callable[[], bool], timeout: float = 120.0) -> None:
        """Wait until the child has imported torch and warmed up (runs stay queued, with
        their queue position, meanwhile)."""
        deadline = time.monotonic() + timeout
        while self.device is None and not stopping() and time.monotonic() < deadline:
            if not self.proc.is_alive():
                return  # train() restarts it and reports the failure
            if self.conn.poll(0.1):
                message = self.conn.recv()
                if message[0] == "ready":
                    self.device = message[1]

    def train(self, run: Run, keep: Keep | None = None) -> None:
        if not self.proc.is_alive():
            self._start()
        self.cancel.clear()
        if self.device is not None:
            run.set_device(self.device)  # what the child reported, not the server's guess
        run.mark_running()
        try:
            self.conn.send(("run", run.experiment.name, params.as_dict(run.config)))
            status, error, summary = self._follow(run)
        except (EOFError, OSError):
            code = self.proc.exitcode
            self.proc.join(1)
            status, summary = FAILED, None
            error = ("The training process died (exit status "
                     f"{self.proc.exitcode if code is None else code}); it has been restarted.")
            self._start()
        run.finish(status, error=error, summary=summary, keep=keep)

    def _follow(self, run: Run) -> tuple[str, str | None, dict[str, Any] | None]:
        """Apply what the child reports to `run` until it says how the run ended."""
        while True:
            if run.cancelled and not self.cancel.is_set():
                self.cancel.set()
            if not self.conn.poll(0.05):
                if not self.proc.is_alive():
                    raise EOFError("the worker process exited")
                continue
            message = self.conn.recv()
            kind = message[0]
            if kind == "log":
                run.record(message[1], message[2])
            elif kind == "snap":
                run.snapshot(message[1], message[2])
            elif kind == "total":
                run.set_total(message[1])
            elif kind == "ready":  # a restarted child, warm now
                self.device = message[1]
                run.set_device(message[1])
            elif kind == "end":
                _, status, error, summary = message
                return status, error, summary

    def stop(self) -> None:
        self.cancel.set()
        try:
            self.conn.send(("stop",))
        except OSError:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)


def _ray_trainer() -> Trainer:
    from core.engine.ray_trainer import RayTrainer  # Ray is optional (requirements-scale.txt)
    return RayTrainer()


TRAINERS: dict[str, Callable[[], Trainer]] = {"thread": ThreadTrainer,
                                              "process": ProcessTrainer,
                                              "ray": _ray_trainer}
