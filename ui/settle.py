"""Once per server process: import what every page needs, then freeze the heap.

A full garbage collection walks every object the process holds. With torch, pandas,
Altair and the experiments imported that is about 320,000 objects and 170 ms here,
all of it holding the GIL, so the server answers nobody meanwhile. Streamlit ran one
after every script run (`runner.postScriptGC`, turned off in .streamlit/config.toml):
with ten pages redrawing once a second that was more than a core's worth of collecting.
`gc.freeze()` moves what exists after start-up (modules, classes, functions: none of
it is garbage) out of the collector's sight, so the collections Python still runs by
itself cost milliseconds; what the sessions allocate later is collected as usual.
"""
from __future__ import annotations

import gc
import importlib
import pkgutil
import threading

_lock = threading.Lock()
_done = False


def once() -> None:
    """Import every experiment and chart module, then freeze the heap (first call only)."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        from core import charts, experiments
        experiments.names()  # imports every experiment module
        for info in pkgutil.iter_modules(charts.__path__):
            importlib.import_module(f"{charts.__name__}.{info.name}")
        gc.collect()
        gc.freeze()
        _done = True
