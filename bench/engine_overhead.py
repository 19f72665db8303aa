"""Engine overhead: the default gradient_descent run through the engine vs a bare torch loop.

In one process with torch.set_num_threads(1):
  A = steps/s of `core.engine.run_sync("gradient_descent", Config())` (logging, evaluation,
      decision-boundary and PCA snapshots, the summary's gradient check);
  B = steps/s of a bare loop on the same model/data/optimizer from `setup()`
      (forward, loss, zero_grad, backward, step; nothing else).
Warm-up first, then --rounds (default 7) interleaved rounds (A then B); medians are reported.
Goals: A/B >= 0.9, and the default run's wall time <= 10 s on 2 cores.

Run: .venv/bin/python bench/engine_overhead.py [--rounds N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# run_sync never touches the disk cache, but keep any cache this process might open private.
os.environ.setdefault("LAB_CACHE_DIR", tempfile.mkdtemp(prefix="lab-bench-cache-"))

import torch  # noqa: E402

from core import device as device_mod, engine  # noqa: E402
from core.experiments import gradient_descent as gd  # noqa: E402

RATIO_GOAL = 0.9
WALL_GOAL_S = 10.0


def engine_run(config: gd.Config) -> tuple[float, float]:
    """(steps/s, wall seconds) of one run through the engine."""
    t0 = time.perf_counter()
    run = engine.run_sync("gradient_descent", config)
    wall = time.perf_counter() - t0
    if run.status != engine.DONE:
        raise SystemExit(f"the engine run ended {run.status}: {run.error}")
    return run.step / wall, wall


def bare_run(config: gd.Config) -> tuple[float, float]:
    """(steps/s, wall seconds) of the same training with nothing but the torch loop.
    setup() is inside the timing, as it is inside run_sync's."""
    t0 = time.perf_counter()
    device = device_mod.choose()
    _, model, optimizer, (xtr, ytr, _, _) = gd.setup(config, device)
    for _ in range(config.steps):
        logits = model(xtr).squeeze(1)
        loss = gd.loss_fn(config, logits, ytr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    loss.item()  # make sure the work is done (no-op on CPU, but honest on CUDA)
    wall = time.perf_counter() - t0
    return config.steps / wall, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    torch.set_num_threads(1)
    config = gd.Config()
    print(f"gradient_descent default config: {config.steps} steps, batch "
          f"{config.batch_size or 'full'}, {config.hidden_layers}x{config.width} "
          f"{config.activation}, {config.optimizer}; device {device_mod.describe()}; "
          f"torch threads {torch.get_num_threads()}; cpus {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.2f}")

    # Warm-up: imports, allocator, sklearn's PCA, first-call costs in both paths.
    engine_run(config)
    bare_run(config)

    engine, bare, walls = [], [], []
    for i in range(args.rounds):
        a, wall = engine_run(config)
        b, _ = bare_run(config)
        engine.append(a)
        bare.append(b)
        walls.append(wall)
        print(f"  round {i + 1}: engine {a:8.0f} steps/s ({wall:.2f} s)   bare {b:8.0f} steps/s")

    a, b, wall = statistics.median(engine), statistics.median(bare), statistics.median(walls)
    ratio = a / b
    paired = statistics.median(x / y for x, y in zip(engine, bare))
    print()
    print(f"engine (run_sync)   : {a:8.0f} steps/s  (median of {args.rounds})")
    print(f"bare torch loop     : {b:8.0f} steps/s  (median of {args.rounds})")
    print(f"ratio engine / bare : {ratio:8.3f}       goal >= {RATIO_GOAL}  "
          f"{'OK' if ratio >= RATIO_GOAL else 'MISSED'}")
    print(f"  (median of the per-round ratios: {paired:.3f}; the machine's other load "
          f"moves single rounds, so compare the two)")
    print(f"default run wall    : {wall:8.2f} s      goal <= {WALL_GOAL_S:g} s  "
          f"{'OK' if wall <= WALL_GOAL_S else 'MISSED'}")


if __name__ == "__main__":
    main()
