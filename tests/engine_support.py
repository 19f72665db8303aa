"""Fake experiments for the engine's tests: a gate a test opens, and what the runs did."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import torch

from core import params
from core.experiments import Experiment
from core.params import param

HINT = "Try a smaller lr."
WAIT = 10.0  # an upper bound so that nothing hangs; no test measures time


@dataclass(frozen=True)
class FakeConfig:
    steps: int = param(3, "Steps.", low=1, high=50)
    tag: str = param("a", "Which run.", choices=("a", "b", "c", "d", "e"))
    lr: float = param(0.1, "Step size.", low=1e-4, high=10, log=True)


class Control:
    """What a test controls of its fake runs: a gate they wait at, and what they did."""

    def __init__(self, block: bool = False, cooperative: bool = True):
        self.gate = threading.Event()
        if not block:
            self.gate.set()
        self.cooperative = cooperative  # notice a cancel while waiting at the gate
        self.started = threading.Event()
        self.calls = 0
        self.tags: list[str] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def body(self, config, report):
        with self._lock:
            self.calls += 1
            self.tags.append(config.tag)
            self.threads.append(threading.current_thread())
        report.set_total(config.steps)
        report.log(1, loss=1.0)
        self.started.set()
        deadline = time.monotonic() + WAIT
        while not self.gate.wait(0.005):
            if self.cooperative and report.cancelled:
                report.log(1)  # raises Cancelled
            if time.monotonic() > deadline:
                raise TimeoutError("the test never opened the gate")
        for step in range(2, config.steps + 1):
            report.log(step, loss=1.0 / step)
        report.snapshot("w", np.full((2, 3), config.steps, dtype=np.float32))
        report.snapshot("extra", {"labels": np.arange(3), "step": config.steps,
                                  "t": torch.ones(2)})


def fake(ctl: Control, name: str = "fake", finish=None, version: int = 1) -> Experiment:
    """A fake experiment; `finish(config, report)` gives its summary."""
    def run(config, report):
        ctl.body(config, report)
        if finish is not None:
            return finish(config, report)
        return {"final_loss": 1.0 / config.steps, "tag": config.tag}
    return Experiment(name=name, title=name.title(), Config=FakeConfig, run=run,
                      version=version, diverge_hint=HINT)


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.002)


def key_of(exp: Experiment, config: FakeConfig) -> str:
    return params.cache_key(exp.name, exp.version, config)
