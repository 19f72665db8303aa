"""Every experiment of the Lab, registered by name.

An experiment module declares a frozen `Config` (fields made with `core.params.param`)
and `run(config, report) -> summary`, and exposes them as `EXPERIMENT`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    Config: type
    run: Callable[[Any, Any], dict[str, Any]]
    version: int = 1  # bump when a change to run() makes cached results stale
    diverge_hint: str = "Lower the learning rate (lr)."


def _all() -> dict[str, Experiment]:
    from core.experiments import gradient_descent
    return {e.name: e for e in (gradient_descent.EXPERIMENT,)}


def names() -> list[str]:
    return list(_all())


def get(name: str) -> Experiment:
    experiments = _all()
    if name not in experiments:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(experiments)}")
    return experiments[name]
