"""How long a run would hold a worker, estimated from its settings before it starts.

Each experiment declares `Cost(seconds, work)`: `seconds` is what its default
configuration took on this project's reference machine (2 x86 cores, torch's CPU build,
one thread: `bench/costs.py` measures them again), and `work(config)` a number that
grows as the run's compute does (steps x width x seeds, and so on). The estimate is

    seconds x work(config) / work(defaults)

It only has to be right within a factor of about two: the server uses it to refuse a
configuration that would hold a worker far longer than `LAB_MAX_RUN_SECONDS` allows
(default 600 s, so that every preset fits; 0 turns the bound off), and to name the setting to lower. The command
line is not bound.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Callable

from core import params

DEFAULT_MAX_RUN_SECONDS = 600.0
# What one optimizer step costs beyond its arithmetic (Python, autograd, the optimizer's
# loop over tensors), in the multiply-adds a CPU core does meanwhile: small models are
# dominated by it, wide ones by their matrix products.
STEP_OVERHEAD = 1e6


def steps(count: float, flops_per_step: float) -> float:
    """The work of `count` optimizer steps of `flops_per_step` each (forward, backward
    and update together): the usual `work` of a training loop."""
    return count * (STEP_OVERHEAD + flops_per_step)


def mlp(sizes: list[int] | tuple[int, ...]) -> int:
    """Multiply-adds of one example through an MLP with these layer sizes."""
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


@dataclass(frozen=True)
class Cost:
    seconds: float                      # the default configuration, on the reference machine
    work: Callable[[Any], float]        # grows in proportion to the run's compute


def max_run_seconds() -> float:
    """LAB_MAX_RUN_SECONDS (seconds; 0 or "off" turns the bound off); 600 by default."""
    text = os.environ.get("LAB_MAX_RUN_SECONDS", "").strip().lower()
    if text in ("0", "off", "none"):
        return 0.0
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_MAX_RUN_SECONDS
    return value if math.isfinite(value) and value > 0 else DEFAULT_MAX_RUN_SECONDS


def estimate(experiment: Any, config: Any) -> float:
    """Seconds the run would take on the reference machine (0 when none is declared)."""
    cost: Cost | None = experiment.cost
    if cost is None:
        return 0.0
    base = cost.work(experiment.Config())
    return cost.seconds * cost.work(config) / base if base > 0 else cost.seconds


def _reset(config: Any, name: str) -> Any:
    return dataclasses.replace(config, **{name: getattr(type(config)(), name)})


def culprit(experiment: Any, config: Any) -> str | None:
    """The field whose return to its default would shorten the run the most."""
    defaults = type(config)()
    best, best_name = estimate(experiment, config), None
    for spec in params.specs(type(config)):
        if getattr(config, spec.name) == getattr(defaults, spec.name):
            continue
        try:
            candidate = _reset(config, spec.name)
            params.check_rules(candidate)
        except params.ParamError:
            continue
        seconds = estimate(experiment, candidate)
        if seconds < best:
            best, best_name = seconds, spec.name
    return best_name


def _largest_fitting(experiment: Any, config: Any, spec: params.Spec,
                     limit: float) -> int | float | None:
    """The largest value of `spec` between its default and the config's value (others as
    in `config`) whose estimate fits `limit`; None when not even the default fits."""
    low, high = spec.default, getattr(config, spec.name)
    if not isinstance(high, (int, float)) or isinstance(high, bool) or high <= low:
        return None

    def fits(value: float) -> bool:
        value = int(value) if spec.kind == "int" else value
        try:
            changed = params.check_rules(dataclasses.replace(config, **{spec.name: value}))
        except params.ParamError:
            return False
        return estimate(experiment, changed) <= limit

    if not fits(low):
        return None
    for _ in range(40):
        middle = (low + high) / 2
        if fits(middle):
            low = middle
        else:
            high = middle
    if spec.kind == "int":
        return int(low)
    return float(f"{low:.2g}")


def check(experiment: Any, config: Any, limit: float | None = None) -> params.Message | None:
    """Why the server refuses to train `config` (a Message naming the setting to lower),
    or None when its estimate fits `limit` (default `max_run_seconds()`)."""
    limit = max_run_seconds() if limit is None else limit
    seconds = estimate(experiment, config)
    if not limit or seconds <= limit:
        return None
    text = (f"This configuration would train for about {_duration(seconds)} here, longer "
            f"than this server gives one run ({_duration(limit)}, set by "
            "LAB_MAX_RUN_SECONDS).")
    markdown = text
    name = culprit(experiment, config)
    if name is not None:
        spec = next(s for s in params.specs(type(config)) if s.name == name)
        shown = params.format_value(getattr(config, name))
        fitting = _largest_fitting(experiment, config, spec, limit)
        advice = (f" to at most {params.format_value(fitting)}" if fitting is not None
                  else f" (its default is {params.format_value(spec.default)})")
        text += f" Lower {spec.title} ({name} = {shown}){advice}."
        markdown += (f" Lower **{spec.title}** (`{name}` = {params.literal(shown)})"
                     f"{advice}.")
    cli = f"python -m core run {experiment.name}" + "".join(
        f" --set {k}={v}" for k, v in params.to_query(config).items())
    text += f" From a terminal it is not bounded: {cli}"
    message = params.Message(text)
    message.markdown = markdown + f" From a terminal it is not bounded: {params.literal(cli)}"
    return message


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"
