"""K patch networks of the ensembles page: one instance-batched model against K models
trained one after another.

    .venv/bin/python bench/ensemble_batching.py [--models 8] [--steps 100] [--threads 1]

Both sides take the same full-batch gradient steps on the same multi-view training set
(300 examples, 10 patches of 32 numbers, 10 classes × 4 neurons), in one process. It
prints the seconds of each side and the speedup. On the 2-core CPU these tiny networks
are memory-bound (one fits in cache, eight do not), so the gain there is small; the
batching pays on a GPU, where K networks cost about one kernel launch per op.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import multiview as mv  # noqa: E402
from core.device import choose  # noqa: E402


def train(instances: int, steps: int, x, y, device, seed: int) -> None:
    net = mv.PatchNet(instances, 10, 4, x.shape[2], 0.04,
                      torch.Generator().manual_seed(seed), device=device)
    for _ in range(steps):
        loss = mv.ce_loss(net(x), y).sum()
        grad, = torch.autograd.grad(loss, net.W)
        with torch.no_grad():
            net.W -= 40.0 * grad


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = choose()
    gen = torch.Generator().manual_seed(0)
    views = mv.make_views(10, 32, gen)
    data = mv.make_multiview(views, 300, 0.02, 10, 0.15, 0.02, gen)
    x, y = data.x.to(device), data.y.to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    train(1, 5, x, y, device, 0)  # warm up
    batched, looped = [], []
    for r in range(args.repeats):
        sync()
        t = time.perf_counter()
        train(args.models, args.steps, x, y, device, r)
        sync()
        batched.append(time.perf_counter() - t)
        t = time.perf_counter()
        for k in range(args.models):
            train(1, args.steps, x, y, device, 100 * r + k)
        sync()
        looped.append(time.perf_counter() - t)
    b, l = min(batched), min(looped)
    print(f"device {device}, threads {args.threads}, K = {args.models}, {args.steps} steps")
    print(f"one batched model: {b:.2f} s   K models in turn: {l:.2f} s   "
          f"speedup {l / b:.2f}x")


if __name__ == "__main__":
    main()
