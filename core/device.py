"""Where runs train: CUDA when there is one, else the CPU with one thread per run.

`LAB_DEVICE=cpu|cuda|mps|auto` overrides the choice (auto is the default).
"""
from __future__ import annotations

import os
from functools import lru_cache

import torch

CHOICES = ("auto", "cpu", "cuda", "mps")


@lru_cache(maxsize=1)
def choose() -> torch.device:
    wanted = os.environ.get("LAB_DEVICE", "auto").strip().lower() or "auto"
    if wanted not in CHOICES:
        raise ValueError(f"LAB_DEVICE must be one of {', '.join(CHOICES)}; got {wanted!r}.")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("LAB_DEVICE=cuda, but torch sees no CUDA device on this machine.")
    if wanted == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("LAB_DEVICE=mps, but torch sees no MPS device on this machine.")
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(wanted)


def describe(device: torch.device | None = None) -> str:
    device = device or choose()
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "GPU: Apple MPS"
    return "CPU (1 thread per run)"


def prepare_worker(device: torch.device) -> None:
    """Small models train fastest on one CPU thread: two threads collapse when the other
    core is busy (the server, a second run). The setting is process-wide."""
    if device.type == "cpu" and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def default_workers() -> int:
    """One worker per two CPU cores (at least one), or LAB_WORKERS."""
    text = os.environ.get("LAB_WORKERS", "").strip()
    if text:
        if not text.isdigit() or not 1 <= int(text) <= 64:
            raise ValueError(f"LAB_WORKERS must be an integer in [1, 64]; got {text!r}.")
        return int(text)
    return max(1, (os.cpu_count() or 2) // 2)


BACKENDS = ("local", "ray")


def backend() -> str:
    """LAB_BACKEND: train on this machine (local, the default) or on a Ray cluster (ray)."""
    name = os.environ.get("LAB_BACKEND", "local").strip().lower() or "local"
    if name not in BACKENDS:
        raise ValueError(f"LAB_BACKEND must be one of {', '.join(BACKENDS)}; got {name!r}.")
    return name


# Below this much memory the server trains in threads: each worker process imports
# torch again (measured on 2 cores: server + 2 worker processes hold ~1.27 GB PSS after
# every page, one process in thread mode ~0.64 GB; bench/visitors.py).
SMALL_HOST_BYTES = 1536 * 2**20


def memory_limit() -> int | None:
    """Bytes this process may use: the cgroup's limit (v2, then v1) or the machine's
    memory, whichever is lower; None when neither can be read."""
    found = []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(path).read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # "max" or a huge number: no limit
            found.append(int(text))
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    return min(found) if found else None


def worker_mode() -> str:
    """How the server trains: on Ray with LAB_BACKEND=ray; else as LAB_WORKER_MODE says:
    `process` (worker processes), `thread` (threads of the server), or `auto` (the
    default): threads on a host with less than 1.5 GB (Community Cloud's smallest box
    has 690 MB), processes elsewhere.

    Measured on 2 cores: a training thread in the server process shares its GIL with the
    server and the pages' redraws; with a page open it ran at ~0.57x its speed alone, and
    the server's health check p95 rose to ~390 ms with two runs training.
    """
    if backend() == "ray":
        return "ray"
    mode = os.environ.get("LAB_WORKER_MODE", "auto").strip().lower() or "auto"
    if mode not in ("auto", "process", "thread"):
        raise ValueError(f"LAB_WORKER_MODE must be auto, process or thread; got {mode!r}.")
    if mode == "auto":
        limit = memory_limit()
        mode = "thread" if limit is not None and limit < SMALL_HOST_BYTES else "process"
    return mode


def warm_up() -> None:
    """Pay torch's one-time costs before the first run needs them: building the first
    optimizer imports torch._dynamo (measured here: ~2 s of a first run's 2.8 s)."""
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.zeros(1, 2)).sum().backward()
    optimizer.step()
