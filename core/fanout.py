"""Independent parts of one run (one model per T, per width, per seed), in order.

`in_order(fn, parts, report)` yields `fn(part, report)` for each part, in the parts'
order. Here the parts train one after another in this process. With `LAB_BACKEND=ray`
and a Ray connection (a run training on the cluster is always connected), each part is
a Ray task of one CPU instead, all submitted at once, and a result is yielded as soon as
it and every part before it have landed, so a run's logs, snapshots and summary are the
same as when it trains here. A part on Ray gets `report=None`: it cannot log. A cancel
of the run cancels its tasks and ends the iteration early; the engine then ends the run
as cancelled, whatever the experiment returns.

A part function must be a module-level function (Ray ships it by name) whose part and
result are plain data, arrays or tensors.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, Iterator, Sequence


def on_ray() -> bool:
    """Parts fan out as Ray tasks: LAB_BACKEND=ray and Ray is connected."""
    if os.environ.get("LAB_BACKEND", "").strip().lower() != "ray":
        return False
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def in_order(fn: Callable[[Any, Any], Any], parts: Sequence[Any],
             report: Any = None) -> Iterator[Any]:
    if not on_ray():
        for part in parts:
            yield fn(part, report)
        return
    yield from _on_ray(fn, parts, report)


def _one_thread_part(fn: Callable[[Any, Any], Any], part: Any) -> Any:
    """A part in a Ray worker: one torch thread, as every local run trains."""
    import torch

    torch.set_num_threads(1)
    return fn(part, None)


def _on_ray(fn: Callable[[Any, Any], Any], parts: Sequence[Any], report: Any) -> Iterator[Any]:
    import ray

    task = ray.remote(num_cpus=1, max_retries=0)(_one_thread_part)
    refs = [task.remote(fn, part) for part in parts]
    index = {ref: i for i, ref in enumerate(refs)}
    results: dict[int, Any] = {}
    pending, following = list(refs), 0
    try:
        while following < len(refs):
            if report is not None and report.cancelled:
                return  # the run ends as cancelled (core.engine.run), whatever it returns
            ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in ready:
                results[index[ref]] = ray.get(ref)
            while following in results:
                yield results.pop(following)
                following += 1
    finally:
        for ref in pending:  # cancelled, failed, or the caller stopped early
            ray.cancel(ref)
