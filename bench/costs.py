"""How close core.cost's estimates come: each experiment's estimate vs a measured run.

For every experiment, in this process with torch.set_num_threads(1): the seconds that
`engine.run_sync` takes for its small settings (`Experiment.small`) and, with --full, for
its defaults; beside each, the seconds `core.cost.estimate` predicted and the ratio
measured / estimated. The server only needs the estimate within about 2x (it refuses runs
far over LAB_MAX_RUN_SECONDS), so the goal is 0.5 <= ratio <= 2 for the defaults; the
small settings are dominated by start-up and usually come out slower than estimated.
`seconds` in each experiment's `Cost` is the default run's time on the reference machine:
re-measure with --full after changing an experiment and update it.

Run: python bench/costs.py [--full] [NAME ...]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LAB_CACHE_DIR", tempfile.mkdtemp(prefix="lab-bench-cache-"))

import torch  # noqa: E402

from core import cost, engine, experiments, params  # noqa: E402


def measure(exp, config) -> float:
    started = time.perf_counter()
    run = engine.run_sync(exp.name, config)
    if run.status != engine.DONE:
        raise SystemExit(f"{exp.name}: the run ended {run.status}: {run.error}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="also time the defaults (~3 min)")
    parser.add_argument("names", nargs="*", help="experiments (all by default)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.names or experiments.names()
    print(f"{'experiment':24s} {'settings':8s} {'estimated':>10s} {'measured':>10s} {'ratio':>6s}")
    worst = []
    for name in names:
        exp = experiments.get(name)
        small = params.validate(exp.Config(**{k: tuple(v) if isinstance(v, list) else v
                                              for k, v in exp.small.items()}))
        rows = [("small", small)] + ([("default", exp.Config())] if args.full else [])
        for label, config in rows:
            estimated = cost.estimate(exp, config)
            measured = measure(exp, config)
            ratio = measured / estimated if estimated else float("nan")
            if label == "default" and estimated >= 0.5:  # start-up dominates below
                worst.append((abs(math.log(ratio)), name, ratio))
            print(f"{name:24s} {label:8s} {estimated:9.2f}s {measured:9.2f}s {ratio:6.2f}")
    if worst:
        _, name, ratio = max(worst)
        print(f"\nfarthest default estimate: {name} (measured / estimated = {ratio:.2f}); "
              "goal: within 0.5-2")


if __name__ == "__main__":
    main()
