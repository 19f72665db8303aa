"""The Optimization page's four default runs, timed, and what instance batching buys.

    .venv/bin/python bench/optimization_pages.py [--steps 100]

In one process on one thread (as a Lab worker): the wall and CPU time of each default
run through the engine (`core.engine.run_sync`), their sum (what a first visitor waits
for with one worker), and two ratios against a baseline measured in the same process:

- lr_sweep: the 11 learning rates of one optimizer and seed as one batched model vs 11
  one-instance models trained one after another (same steps, same data);
- mup_transfer: one width's 9 learning rates × {SP, muP} as one batched model vs 18
  models in turn.

Goal: every default run ≤ 30 s on 2 cores; batching ≥ 2× faster than the loop. Other
work on the machine moves every figure (the load average is printed).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import engine  # noqa: E402
from core.device import warm_up  # noqa: E402
from core.experiments import lr_sweep, mup_transfer  # noqa: E402
from core.instance_mlp import (InstanceOptimizer, batch_orders, cross_entropy,  # noqa: E402
                               digits, lr_grid)

DEFAULT_RUNS = ("optimizer_paths", "lr_sweep", "initialization", "mup_transfer")


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def train(model, opt, data, orders, steps: int) -> None:
    for step in range(steps):
        idx = orders[step]
        loss = cross_entropy(model(data.x[idx]), data.y[idx]).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()


def sweep_batched_vs_loop(steps: int) -> tuple[float, float]:
    config = lr_sweep.Config(seeds=1, steps=steps)
    lrs = lr_grid(config)
    data = digits(config.n_train, 0)
    orders = torch.as_tensor(batch_orders(config.n_train, config.batch_size,
                                                       steps, 0))

    def batched():
        models, opts = lr_sweep.make_models(config, lrs, torch.device("cpu"))
        train(models["adam"], opts["adam"], data, orders, steps)

    def loop():
        for lr in lrs:
            one = lr_sweep.Config(seeds=1, steps=steps, lr_min=lr / 10, lr_max=lr, n_lrs=3)
            models, _ = lr_sweep.make_models(one, [lr], torch.device("cpu"))
            model = models["adam"]
            opt = InstanceOptimizer(model.parameters(), "adam", torch.tensor([lr]))
            train(model, opt, data, orders, steps)

    return timed(batched)[0], timed(loop)[0]


def mup_batched_vs_loop(steps: int, width: int = 128) -> tuple[float, float]:
    config = mup_transfer.Config(steps=steps)
    lrs = lr_grid(config)
    data = digits(config.n_train, 0)
    orders = torch.as_tensor(batch_orders(config.n_train, config.batch_size,
                                                       steps, 0))

    def batched():
        model, opt, _ = mup_transfer.build_model(width, config, lrs, 0, torch.device("cpu"))
        train(model, opt, data, orders, steps)

    def loop_single():  # each (lr, parametrization) on its own model
        for lr in lrs:
            for keep in (0, 1):
                model, opt, _ = mup_transfer.build_model(width, config, [lr], 0,
                                                         torch.device("cpu"))
                for k in range(len(model.weights)):
                    model.weights[k] = model.weights[k].detach()[keep:keep + 1] \
                        .clone().requires_grad_()
                    model.biases[k] = model.biases[k].detach()[keep:keep + 1] \
                        .clone().requires_grad_()
                    if isinstance(model.multipliers[k], torch.Tensor):
                        model.multipliers[k] = model.multipliers[k][keep:keep + 1]
                scales = [s[keep:keep + 1] if isinstance(s, torch.Tensor) else s
                          for s in opt.scales]
                opt = InstanceOptimizer(model.parameters(), "adam",
                                        opt.lrs[keep:keep + 1], scales=scales)
                train(model, opt, data, orders, steps)

    return timed(batched)[0], timed(loop_single)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100,
                        help="steps of the batched-vs-loop comparisons")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warm_up()
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    total_wall = total_cpu = 0.0
    for name in DEFAULT_RUNS:
        result = {}
        wall, cpu = timed(lambda: result.setdefault("run", engine.run_sync(name)))
        status = result["run"].view().status
        total_wall += wall
        total_cpu += cpu
        verdict = "OK" if wall <= 30 else "MISSED"
        print(f"{name:16s} default run: {wall:6.1f} s wall, {cpu:6.1f} s CPU ({status}) "
              f"[goal ≤ 30 s: {verdict}]")
    print(f"{'all four':16s} in turn:     {total_wall:6.1f} s wall, {total_cpu:6.1f} s CPU")
    b, loop = sweep_batched_vs_loop(args.steps)
    print(f"lr_sweep, 11 lrs of Adam, {args.steps} steps: batched {b:.2f} s, one at a time "
          f"{loop:.2f} s: {loop / b:.1f}× [goal ≥ 2×: {'OK' if loop / b >= 2 else 'MISSED'}]")
    b, loop = mup_batched_vs_loop(args.steps)
    print(f"mup_transfer, width 128, 9 lrs × SP/muP, {args.steps} steps: batched {b:.2f} s, "
          f"one at a time {loop:.2f} s: {loop / b:.1f}× "
          f"[goal ≥ 2×: {'OK' if loop / b >= 2 else 'MISSED'}]")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
