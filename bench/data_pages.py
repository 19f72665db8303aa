"""The Data page's five default runs, timed, each beside a bare baseline.

    .venv/bin/python bench/data_pages.py [--steps 200]

In one process on one thread (as a Lab worker): the wall and CPU time of each default
run through the engine (`core.engine.run_sync`), their sum (what a first visitor waits
for with one worker), and a ratio against a baseline measured in the same process:

- repetition: the same number of Adam steps on the same instance-batched MLP with
  random inputs (no teacher, no subsets, no evaluation); and, over `--steps` steps, the
  8 conditions × 3 seeds as one batched model vs 24 one-instance models in turn;
- deduplication: the same Adam steps on the same batched MLP, random batches;
- active_learning: the same number of LogisticRegression fits on the first n pool
  images, each from scratch (the run warm-starts each fit from the last round's
  solution, and adds scoring the pool, choosing and the test score);
- isoflop: the same runs (batch, steps) with random targets and no teacher;
- chinchilla_law: closed form, no baseline.

Goal: every default run ≤ 15 s on 2 cores. Other work on the machine moves every
figure (the load average is printed; CPU time is the steadier one).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import engine  # noqa: E402
from core.device import warm_up  # noqa: E402
from core.experiments import active_learning, chinchilla, deduplication, repetition  # noqa: E402
from core.instance_mlp import InstanceMLP  # noqa: E402

GOAL_S = 15.0


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bare_mlp(instances: int, sizes: list[int], steps: int, batch: int,
             classes: int | None) -> None:
    """Adam steps on an instance-batched MLP with random data: the floor of a run."""
    gen = torch.Generator().manual_seed(0)
    model = InstanceMLP(instances, sizes, gen)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    for _ in range(steps):
        x = torch.randn(instances, batch, sizes[0], generator=gen)
        out = model(x)
        if classes:
            y = torch.randint(classes, (instances * batch,), generator=gen)
            loss = torch.nn.functional.cross_entropy(out.reshape(-1, classes), y)
        else:
            loss = (out ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def repetition_baseline() -> None:
    c = repetition.Config()
    conditions = len(set(c.repeats)) + len(repetition.CONTROLS)
    bare_mlp(conditions * c.seeds, [repetition.INPUTS, c.width, c.width,
                                    repetition.CLASSES], c.steps, c.batch_size,
             repetition.CLASSES)


def repetition_batched_vs_loop(steps: int) -> tuple[float, float]:
    c = repetition.Config()
    n = (len(set(c.repeats)) + len(repetition.CONTROLS)) * c.seeds
    sizes = [repetition.INPUTS, c.width, c.width, repetition.CLASSES]
    batched = timed(lambda: bare_mlp(n, sizes, steps, c.batch_size, repetition.CLASSES))[0]
    loop = timed(lambda: [bare_mlp(1, sizes, steps, c.batch_size, repetition.CLASSES)
                          for _ in range(n)])[0]
    return batched, loop


def dedup_baseline() -> None:
    c = deduplication.Config()
    bare_mlp(len(deduplication.CONDITIONS) * c.seeds,
             [deduplication.PIXELS, c.width, deduplication.CLASSES], c.steps,
             deduplication.BATCH, deduplication.CLASSES)


def active_learning_baseline() -> None:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    c = active_learning.Config()
    xp, _, yp, _ = active_learning.split(c.seed)
    counts = active_learning.label_counts(c, len(yp))
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(c.seeds * len(active_learning.STRATEGIES)):
            for n in counts:
                LogisticRegression(C=c.regularization, max_iter=300).fit(xp[:n], yp[:n])


def isoflop_baseline() -> None:
    c = chinchilla.IsoConfig()
    gen = torch.Generator().manual_seed(0)
    for budget in c.budgets:
        for width in c.widths:
            d, batch, steps = chinchilla.run_plan(budget, width, c.steps_max)
            model = InstanceMLP(c.seeds, [chinchilla.INPUTS, width, width, 1], gen)
            opt = torch.optim.Adam(model.parameters(), lr=c.lr)
            for t in range(steps):
                n = min(batch, d - t * batch)
                x = torch.randn(c.seeds, n, chinchilla.INPUTS, generator=gen)
                loss = ((model(x) - x[..., :1]) ** 2).mean(dim=(1, 2)).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()


RUNS = (("repetition", repetition_baseline, "bare Adam loop, same model and steps"),
        ("deduplication", dedup_baseline, "bare Adam loop, same model and steps"),
        ("active_learning", active_learning_baseline, "as many cold fits"),
        ("chinchilla_law", None, "closed form"),
        ("isoflop", isoflop_baseline, "the same runs on random targets"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200,
                        help="steps of the batched-vs-loop comparison")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warm_up()
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    total_wall = total_cpu = 0.0
    for name, baseline, what in RUNS:
        result = {}
        wall, cpu = timed(lambda: result.setdefault("run", engine.run_sync(name)))
        status = result["run"].view().status
        total_wall += wall
        total_cpu += cpu
        line = f"{name:16s} {status:5s} wall {wall:6.2f} s  cpu {cpu:6.2f} s"
        if baseline is not None:
            b_wall, b_cpu = timed(baseline)
            line += f"  | baseline ({what}) cpu {b_cpu:6.2f} s, run/baseline {cpu / b_cpu:4.2f}"
        line += "  OK" if cpu <= GOAL_S else "  MISSED"
        print(line, flush=True)
    print(f"all five in turn: wall {total_wall:.1f} s, cpu {total_cpu:.1f} s")
    batched, loop = repetition_batched_vs_loop(args.steps)
    print(f"repetition, {args.steps} steps: 24 instances batched {batched:.2f} s vs one after "
          f"another {loop:.2f} s: {loop / batched:.1f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
