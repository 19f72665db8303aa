"""The run engine, one way: run <- trainers <- registry; cache (disk) beside them.

- `core.engine.run`: `Run` (what an experiment reports through and a page reads),
  `RunView`, the statuses, `execute(run, keep)` and `run_sync(experiment, config)`;
- `core.engine.trainers`: where a run trains, behind one interface (`ThreadTrainer`,
  `ProcessTrainer`; the seam for a distributed backend);
- `core.engine.registry`: `Registry` (start, dedup, queue, owners, memory LRU, workers)
  and the process-wide `default_registry()`;
- `core.engine.cache`: `DiskCache`, finished runs on disk (JSON + `.npz`, never pickle).

Pages, the CLI and tests import the names below from `core.engine`.
"""
from core.engine.registry import (QueueFull, Registry, SessionBusy, TooLong,
                                  default_registry, reset_default_registry)
from core.engine.run import (ACTIVE, CANCELLED, DIVERGED, DONE, FAILED, FINISHED, QUEUED,
                             RUNNING, Cancelled, Diverged, Run, RunView, execute, run_sync)

__all__ = ["ACTIVE", "CANCELLED", "DIVERGED", "DONE", "FAILED", "FINISHED", "QUEUED",
           "RUNNING", "Cancelled", "Diverged", "QueueFull", "Registry", "Run", "RunView", "SessionBusy",
           "TooLong", "default_registry", "execute", "reset_default_registry", "run_sync"]
