"""The server does not walk its whole heap after every script run (ui/settle.py)."""
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_streamlit_does_not_collect_garbage_after_every_script_run():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_settling_freezes_what_start_up_imported_and_later_objects_stay_collectable():
    # a fresh interpreter: this one has imported whatever the other tests needed
    script = """
import gc
from ui import settle
settle.once()
frozen, tracked = gc.get_freeze_count(), len(gc.get_objects())
settle.once()  # a second call freezes nothing more
assert gc.get_freeze_count() == frozen
class Cycle: pass
a, b = Cycle(), Cycle(); a.b, b.a = b, a
del a, b
print(frozen, tracked, gc.collect())
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    frozen, tracked, collected = map(int, out.stdout.split())
    # every experiment and chart module (torch, pandas, Altair with them) is frozen: a
    # full collection then walks a few thousand objects instead of ~300,000
    assert frozen > 200_000, frozen
    assert tracked < frozen / 20, (tracked, frozen)
    assert collected >= 2  # a cycle made after settling is still collected
