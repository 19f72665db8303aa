"""A sweep's parts on a local Ray against the same parts one after another here.

The double-descent sweep trains one part per group of training-set sizes
(`core.experiments.double_descent.groups`). This script, in one process:
1. trains every part here, one after another, timing each (today's local worker,
   after torch's one-time warm-up);
2. trains the same parts as Ray tasks on a local Ray with LAB_RAY_CPUS CPUs (default 2),
   through `core.fanout.in_order`, as a run on the cluster does;
and checks that both give the same test losses. It prints the measured speedup, and,
from the per-part times, the best a cluster of N CPUs could do (the longest-first
schedule of the parts onto N CPUs; the largest part bounds it), before Ray's overhead.

Run: python bench/ray_sweep.py [--full]   (--full: Henighan's setup, the page's slow
preset: 1,000 features, T up to 2,000, a few minutes here; default: the page's defaults
with 400 features)
"""
from __future__ import annotations

import argparse
import heapq
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core import device, fanout, params  # noqa: E402
from core.engine import ray_trainer  # noqa: E402
from core.experiments import double_descent as dd  # noqa: E402

HENIGHAN = {"n_features": 1000, "sparsity": 0.99, "lr": 0.005,
            "train_sizes": [3, 10, 30, 100, 200, 300, 500, 1000, 2000]}


def best_makespan(seconds: list[float], cpus: int) -> float:
    """Longest part first onto the least loaded of `cpus` CPUs."""
    loads = [0.0] * cpus
    for s in sorted(seconds, reverse=True):
        heapq.heapreplace(loads, loads[0] + s)
    return max(loads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="Henighan's setup (minutes)")
    args = parser.parse_args()
    values = HENIGHAN if args.full else {"n_features": 400}
    config = params.build(dd.Config, values)
    sizes = sorted(set(config.train_sizes))
    parts = [(config, [sizes[i] for i in g]) for g in dd.groups(sizes)]
    torch.set_num_threads(1)
    print(f"double descent, {'Henighan setup' if args.full else 'defaults, 400 features'}: "
          f"{len(sizes)} sizes in {len(parts)} parts: {[p[1] for p in parts]}")

    device.warm_up()  # torch's one-time costs, which a warm worker has paid too
    here, part_seconds = [], []
    started = time.perf_counter()
    for part in parts:
        t = time.perf_counter()
        here += [r["test_loss"] for r in dd.fit_sizes(part)]
        part_seconds.append(time.perf_counter() - t)
    local = time.perf_counter() - started
    print(f"here, one after another: {local:.1f} s "
          f"(parts: {', '.join(f'{s:.1f}' for s in part_seconds)} s)")

    os.environ["LAB_BACKEND"] = "ray"
    os.environ.setdefault("LAB_RAY_CPUS", "2")
    t = time.perf_counter()
    ray_trainer.connect()
    print(f"local Ray with {ray_trainer.cluster_cpus()} CPUs started in "
          f"{time.perf_counter() - t:.1f} s (not counted below)")
    for attempt in ("cold", "warm"):  # cold: Ray starts its workers and imports torch
        started = time.perf_counter()
        on_ray = [r["test_loss"] for results in fanout.in_order(dd.fit_sizes, parts)
                  for r in results]
        seconds = time.perf_counter() - started
        same = "same test losses" if on_ray == here else "DIFFERENT test losses"
        print(f"Ray tasks ({attempt} workers): {seconds:.1f} s, {same}; "
              f"speedup {local / seconds:.2f}x")
    import ray
    ray.shutdown()

    print("the best N CPUs could do with these parts (before Ray's overhead):")
    for cpus in (1, 2, 4, 8, 16):
        span = best_makespan(part_seconds, cpus)
        print(f"  N = {cpus:2d}: {span:.1f} s, speedup {local / span:.2f}x")
    print(f"  (bounded by the largest part, {max(part_seconds):.1f} s: more parts of even "
          "size, e.g. one size per part, would spread wider)")


if __name__ == "__main__":
    main()
