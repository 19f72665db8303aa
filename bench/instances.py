"""K toy models of superposition: one instance-batched model against K models in turn.

    .venv/bin/python bench/instances.py [--instances 32] [--steps 300] [--batch 256]

Both sides take the same steps on the same amount of data per model, in one process on
one thread (as a Lab worker does). It prints steps/s, the speedup, and how much of each
side's time goes to making the sparse batches, the part that can dominate once the model
itself is batched. Data is made on the device in one call for all instances
(`core.data.sparse_features`); the per-model loop draws a batch per model.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import data  # noqa: E402
from core.device import choose  # noqa: E402
from core.models import ToyModel  # noqa: E402

N_FEATURES, N_HIDDEN = 5, 2


def train(instances: int, steps: int, batch: int, device: torch.device,
          seed: int) -> tuple[float, float]:
    """Seconds for `steps` AdamW steps of one model with `instances` instances, and the
    seconds of that spent making batches."""
    gen = torch.Generator(device=device).manual_seed(seed)
    model = ToyModel(instances, N_FEATURES, N_HIDDEN,
                     generator=torch.Generator().manual_seed(seed), device=device)
    prob = torch.linspace(1.0, 0.01, instances, device=device)
    importance = 0.9 ** torch.arange(N_FEATURES, device=device, dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    data_time = 0.0
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        t = time.perf_counter()
        x = data.sparse_features(batch, N_FEATURES, prob, gen)
        sync()
        data_time += time.perf_counter() - t
        loss = (importance * (x - model(x)) ** 2).sum(-1).mean(0).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync()
    return time.perf_counter() - start, data_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=32)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = choose()
    k, steps, batch = args.instances, args.steps, args.batch
    train(k, 20, batch, device, 0)  # warm-up: first optimizer step, allocator
    batched, batched_data = train(k, steps, batch, device, 0)
    one_by_one = one_data = 0.0
    for i in range(k):
        seconds, data_seconds = train(1, steps, batch, device, i)
        one_by_one += seconds
        one_data += data_seconds
    print(f"device: {device}, 1 thread, {k} instances of the {N_FEATURES}-{N_HIDDEN} toy "
          f"model, {steps} steps of batch {batch} each")
    print(f"batched (one model, [{k}, {N_HIDDEN}, {N_FEATURES}] weights): {batched:.2f} s, "
          f"{steps / batched:,.0f} steps/s; making batches {batched_data / batched:.0%} of it")
    print(f"one after another ({k} models):            {one_by_one:.2f} s, "
          f"{steps / one_by_one:,.0f} steps/s of all {k}; making batches "
          f"{one_data / one_by_one:.0%} of it")
    print(f"speedup: {one_by_one / batched:.1f}x (goal ≥ 5x)")


if __name__ == "__main__":
    main()
