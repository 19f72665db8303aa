"""Every experiment of the Lab, registered by name.

An experiment module declares a frozen `Config` (fields made with `core.params.param`)
and `run(config, report) -> summary`, and exposes them as `EXPERIMENT`. Its `presets`
are the "try this" settings its page offers (and a talk steps through, in order).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from core import params


@dataclass(frozen=True)
class Preset:
    """One "try this" setting: a button's label, the one line it demonstrates, and the
    fields it changes (every other field stays at its default)."""
    label: str
    caption: str
    values: dict[str, Any] = field(default_factory=dict, hash=False)

    def config(self, config_cls: type) -> Any:
        """The validated Config this preset stands for (raises params.ParamError)."""
        return params.validate(config_cls(**{k: tuple(v) if isinstance(v, list) else v
                                             for k, v in self.values.items()}))


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    Config: type
    run: Callable[[Any, Any], dict[str, Any]]
    version: int = 1  # bump when a change to run() makes cached results stale
    diverge_hint: str = "Lower the learning rate (lr)."
    # Settings that make a run take well under a second (few steps, small sizes): the
    # contract test and the fuzz test run every field's bounds on top of these.
    small: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    # How long a run takes, estimated from its settings (core.cost): the server refuses
    # a configuration that would hold a worker longer than LAB_MAX_RUN_SECONDS.
    cost: Any = field(default=None, hash=False, compare=False)
    # What the page offers to try, in the order a talk shows them (core.experiments.Preset).
    presets: tuple[Preset, ...] = field(default=(), hash=False, compare=False)
    # The runs its page starts for one page configuration, as (experiment, Config) pairs,
    # when that is more than this run alone (a comparison run): `python -m core warm`
    # trains them all, so that a preset draws at once.
    page_runs: Callable[[Any], list[tuple[str, Any]]] | None = field(
        default=None, hash=False, compare=False)
    # The page's headline claim against the paper, built from a finished run's summary:
    # receipt(config, summary) -> core.receipts.Receipt.
    receipt: Callable[[Any, dict[str, Any]], Any] | None = field(
        default=None, hash=False, compare=False)

    def runs_for(self, config: Any) -> list[tuple[str, Any]]:
        return self.page_runs(config) if self.page_runs else [(self.name, config)]


@lru_cache(maxsize=1)
def _all() -> dict[str, Experiment]:
    """Every module in this package that defines EXPERIMENT (or EXPERIMENTS, a list)."""
    found: dict[str, Experiment] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for exp in getattr(module, "EXPERIMENTS", [getattr(module, "EXPERIMENT", None)]):
            if exp is not None:
                found[exp.name] = exp
    return found


def names() -> list[str]:
    return list(_all())


def get(name: str) -> Experiment:
    experiments = _all()
    if name not in experiments:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(experiments)}")
    return experiments[name]
