"""Training in worker processes, so the server's GIL stays with the server.

Each worker thread of the registry owns one `ProcessWorker`: a child process (spawned,
so it shares no torch state with the server) that trains one run at a time through the
same `core.runs.execute` as a thread would, and streams what the run logs back over a
pipe. The parent applies those messages to its `Run`, which pages read as before.
Cancelling sets a shared event that the child's `report.log` checks.
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
from typing import Any, Callable

from core import params

log = logging.getLogger(__name__)
_CTX = mp.get_context("spawn")
_START_LOCK = threading.Lock()


def _child_main(conn, cancel) -> None:
    """The worker process: warm up, then train whatever the parent sends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    try:  # training is background work: the server and its pages come first for the CPU
        os.nice(10)
    except (AttributeError, OSError):
        pass
    from core import device, experiments, runs

    class StreamingRun(runs.Run):
        """A Run whose logs and snapshots also go to the parent."""

        def set_total(self, total: int) -> None:
            super().set_total(total)
            conn.send(("total", int(total)))

        def record(self, step: int, values: dict[str, float]) -> None:
            super().record(step, values)
            conn.send(("log", int(step), values))

        def snapshot(self, name: str, value: Any) -> None:
            super().snapshot(name, value)
            conn.send(("snap", name, self.snapshots[name]))

    device.prepare_worker(device.choose())
    try:
        device.warm_up()
    except Exception:
        pass
    conn.send(("ready", device.describe()))
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
            run = StreamingRun(exp, params.build(exp.Config, values), "", device.describe())
            run._cancel = cancel
            runs.execute(run)
            conn.send(("end", run.status, run.error, run.summary))
        except Exception as err:  # e.g. the pipe broke; report what we can
            try:
                conn.send(("end", runs.FAILED, f"{type(err).__name__}: {err}", None))
            except OSError:
                return


class ProcessWorker:
    def __init__(self) -> None:
        self.device: str | None = None
        self._start()

    def _start(self) -> None:
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

    def wait_ready(self, stopping: Callable[[], bool], timeout: float = 120.0) -> None:
        """Wait until the child has imported torch and warmed up (runs stay queued, with
        their queue position, meanwhile)."""
        deadline = time.monotonic() + timeout
        while self.device is None and not stopping() and time.monotonic() < deadline:
            if not self.proc.is_alive():
                return  # execute() restarts it and reports the failure
            if self.conn.poll(0.1):
                message = self.conn.recv()
                if message[0] == "ready":
                    self.device = message[1]

    def execute(self, run, keep: Callable | None = None) -> None:
        """Train `run` in the child process; same contract as `core.runs.execute`."""
        from core import runs
        if not self.proc.is_alive():
            self.device = None
            self._start()
        self.cancel.clear()
        with run._lock:
            run.status = runs.RUNNING
            run.started = time.monotonic()
        try:
            self.conn.send(("run", run.experiment.name, params.as_dict(run.config)))
            self._follow(run)
        except (EOFError, OSError, BrokenPipeError):
            code = self.proc.exitcode
            self.proc.join(1)
            run._end(runs.FAILED, error="The training process died (exit status "
                                        f"{self.proc.exitcode if code is None else code}); "
                                        "it has been restarted.", wake=False)
            self.device = None
            self._start()
        try:
            if keep is not None and run.status in runs.FINISHED:
                keep(run)
        finally:
            run._finished.set()

    def _follow(self, run) -> None:
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
                with run._lock:
                    run.snapshots[message[1]] = message[2]
            elif kind == "total":
                run.set_total(message[1])
            elif kind == "ready":
                self.device = message[1]
                run.device = message[1]
            elif kind == "end":
                _, status, error, summary = message
                run._end(status, error=error, summary=summary, wake=False)
                return

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
