"""The capsule-network page's run time: the default run, the same run with one routing
iteration, and one capsule net against one plain CNN step for step.

    .venv/bin/python bench/capsules.py [--steps 100]

All in one process on one thread (as a Lab worker trains). It prints the default run's
wall and CPU seconds against the page's goal (≤ 30 s on a free core of the 2-core
machine; judged on the CPU seconds, which other work on the machine does not inflate), the ratio
of the default run to the same run with routing_iterations = 1, and the time of a
training step of a single capsule net (3 iterations, with its decoder) against a single
plain CNN of the same parameter count on the same batch. The machine's load moves every
figure: compare runs taken at a similar load (printed at the start and the end).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import engine  # noqa: E402
from core.experiments import capsules as cp  # noqa: E402

GOAL_S = 30.0


def timed_run(config: cp.Config) -> tuple[float, float, dict]:
    wall, cpu = time.perf_counter(), time.process_time()
    run = engine.run_sync("capsules", config)
    assert run.status == engine.DONE, run.error
    return time.perf_counter() - wall, time.process_time() - cpu, run.summary


def step_times(steps: int, batch: int = 64) -> tuple[float, float]:
    """Seconds per Adam step of one capsule net and of one plain CNN on one batch."""
    config = cp.Config()
    device = torch.device("cpu")
    xtr, ytr, _, _ = cp.digits_split()
    x = torch.tensor(xtr[:batch]).view(batch, 1, cp.SIDE, cp.SIDE)
    y = torch.tensor(ytr[:batch])[:, None]
    caps = cp.CapsNets([1], 1, config, device)
    cnn = cp.CNNs([2], config, device)

    def caps_step(opt):
        v, _ = caps(x)
        loss = cp.margin_loss(v, y).mean() + config.decoder_weight * cp.squared_error(
            caps.decode(v, y), x).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def cnn_step(opt):
        loss = F.cross_entropy(cnn(x)[:, 0], y[:, 0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    out = []
    for model, step in ((caps, caps_step), (cnn, cnn_step)):
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        for _ in range(5):
            step(opt)
        start = time.perf_counter()
        for _ in range(steps):
            step(opt)
        out.append((time.perf_counter() - start) / steps)
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    timed_run(dataclasses.replace(cp.Config(), epochs=1, train_size=100, seeds=1))  # warm up
    wall, cpu, summary = timed_run(cp.Config())
    # on a shared machine the wall time waits for other work; the CPU time is what the
    # run takes on a free core, so the goal is judged on it
    verdict = "OK" if cpu <= GOAL_S else "MISSED"
    print(f"default run (3 seeds x capsule net + uniform control + CNN, 15 epochs): "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU (goal <= {GOAL_S:.0f} s on a free core, "
          f"judged on CPU seconds) {verdict}")
    print(f"  test accuracy per seed: capsules {summary['test_accuracy']['capsules']}, "
          f"uniform {summary['test_accuracy']['uniform']}, cnn {summary['test_accuracy']['cnn']}")
    print(f"  entropy per iteration {summary['entropy_per_iteration']}, coupling to the "
          f"winner {summary['winner_coupling_per_iteration']}")
    one_wall, one_cpu, _ = timed_run(dataclasses.replace(cp.Config(), routing_iterations=1))
    print(f"same run with routing_iterations = 1: {one_wall:.1f} s wall, {one_cpu:.1f} s CPU; "
          f"3 iterations / 1 iteration = {cpu / one_cpu:.2f}x (CPU seconds)")
    caps_s, cnn_s = step_times(args.steps)
    print(f"one training step, batch 64: capsule net {1000 * caps_s:.1f} ms, plain CNN "
          f"{1000 * cnn_s:.1f} ms: capsule net / CNN = {caps_s / cnn_s:.1f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
