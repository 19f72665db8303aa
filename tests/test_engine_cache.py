"""core.engine.cache.DiskCache: round trips, corrupt entries, the LRU size bound, no pickle."""
from __future__ import annotations

import hashlib
import io
import json
import os

import numpy as np
import pytest

from core.engine import cache as cache_mod
from core.engine.cache import DiskCache

META = {"status": "done", "summary": {"final_loss": 0.125, "steps_done": 3}, "error": None}


def metrics():
    return {"loss": ([1, 2, 3], [0.5, 0.25, 0.125]), "accuracy": ([2], [0.75])}


def snapshots():
    return {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3) / 4,
        "boundary": {"prob": np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4),
                     "labels": np.array([0, 1, 1, 0], dtype=np.int64),
                     "split": np.array([0, 1], dtype=np.int8),
                     "inner": {"xs": np.array([-1.0, 1.0])},
                     "step": 3, "name": "moons", "scale": np.float32(0.5)},
        "note": "plain text",
        "values": [1, 2.5, None, True],
    }


def entry_files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_save_load_round_trip(tmp_path):
    disk = DiskCache(tmp_path)
    disk.save("k1", META, metrics(), snapshots())
    assert entry_files(tmp_path) == ["k1.json", "k1.npz"]
    record = disk.load("k1")
    assert record["status"] == "done"
    assert record["summary"] == {"final_loss": 0.125, "steps_done": 3}
    assert record["error"] is None
    assert record["metrics"] == {"loss": ([1, 2, 3], [0.5, 0.25, 0.125]),
                                 "accuracy": ([2], [0.75])}
    snaps = record["snapshots"]
    want = snapshots()
    assert snaps["w"].dtype == np.float32 and snaps["w"].shape == (2, 3)
    np.testing.assert_array_equal(snaps["w"], want["w"])
    b = snaps["boundary"]
    assert b["prob"].dtype == np.float32 and b["prob"].shape == (3, 4)
    np.testing.assert_array_equal(b["prob"], want["boundary"]["prob"])
    assert b["labels"].dtype == np.int64 and b["labels"].tolist() == [0, 1, 1, 0]
    assert b["split"].dtype == np.int8 and b["split"].tolist() == [0, 1]
    assert b["inner"]["xs"].tolist() == [-1.0, 1.0]
    assert (b["step"], b["name"], b["scale"]) == (3, "moons", 0.5)
    assert snaps["note"] == "plain text"
    assert snaps["values"] == [1, 2.5, None, True]


def test_missing_entry_is_none(tmp_path):
    assert DiskCache(tmp_path).load("nothing") is None


def test_nan_metrics_survive(tmp_path):
    disk = DiskCache(tmp_path)
    disk.save("k", META, {"loss": ([1, 2], [1.0, float("nan")])}, {})
    steps, values = disk.load("k")["metrics"]["loss"]
    assert steps == [1, 2] and values[0] == 1.0 and np.isnan(values[1])


def test_corrupt_npz_is_dropped(tmp_path):
    disk = DiskCache(tmp_path)
    disk.save("k", META, metrics(), snapshots())
    npz = tmp_path / "k.npz"
    data = bytearray(npz.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])
    npz.write_bytes(bytes(data))
    assert disk.load("k") is None
    assert entry_files(tmp_path) == []


def test_truncated_json_is_dropped(tmp_path):
    disk = DiskCache(tmp_path)
    disk.save("k", META, metrics(), snapshots())
    path = tmp_path / "k.json"
    path.write_text(path.read_text()[:40])
    assert disk.load("k") is None
    assert entry_files(tmp_path) == []


def test_missing_npz_is_dropped(tmp_path):
    disk = DiskCache(tmp_path)
    disk.save("k", META, metrics(), snapshots())
    (tmp_path / "k.npz").unlink()
    assert disk.load("k") is None
    assert entry_files(tmp_path) == []


def test_wrong_format_is_dropped(tmp_path):
    disk = DiskCache(tmp_path)
    disk.save("k", META, metrics(), snapshots())
    path = tmp_path / "k.json"
    record = json.loads(path.read_text())
    record["format"] = cache_mod.FORMAT + 1
    path.write_text(json.dumps(record))
    assert disk.load("k") is None
    assert entry_files(tmp_path) == []


def test_object_arrays_cannot_be_saved(tmp_path):
    disk = DiskCache(tmp_path)
    with pytest.raises(TypeError, match="pickle"):
        disk.save("k", META, {}, {"bad": np.array([{"a": 1}, None], dtype=object)})
    with pytest.raises(TypeError):  # an array inside a list is not JSON either
        disk.save("k", META, {}, {"bad": [np.zeros(2)]})
    assert entry_files(tmp_path) == []  # nothing half-written


def test_load_never_unpickles(tmp_path):
    """An entry whose npz holds a pickled object array (checksum matching) is refused."""
    disk = DiskCache(tmp_path)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, a0=np.array([{"evil": 1}], dtype=object))
    blob = buffer.getvalue()
    record = dict(META, format=cache_mod.FORMAT, metric_names=[],
                  snapshots={"x": {"__array__": "a0"}},
                  npz_sha256=hashlib.sha256(blob).hexdigest())
    (tmp_path / "k.npz").write_bytes(blob)
    (tmp_path / "k.json").write_text(json.dumps(record))
    assert disk.load("k") is None
    assert entry_files(tmp_path) == []


def test_a_load_counts_as_a_use(tmp_path):
    disk = DiskCache(tmp_path)
    disk.save("k", META, metrics(), snapshots())
    os.utime(tmp_path / "k.json", (1000, 1000))
    assert disk.load("k") is not None
    assert (tmp_path / "k.json").stat().st_mtime > 1000
    assert [key for _, _, key in disk.entries()] == ["k"]


def test_size_bound_deletes_least_recently_used_first(tmp_path):
    disk = DiskCache(tmp_path, max_bytes=10 ** 9)
    for key in ("a", "b", "c"):
        disk.save(key, META, metrics(), snapshots())
    for key, when in (("a", 1000), ("b", 2000), ("c", 3000)):
        os.utime(tmp_path / f"{key}.json", (when, when))
    assert [key for _, _, key in disk.entries()] == ["a", "b", "c"]
    assert disk.load("a") is not None  # a is now the most recently used
    assert [key for _, _, key in disk.entries()] == ["b", "c", "a"]
    sizes = {key: size for _, size, key in disk.entries()}
    assert all(size > 0 for size in sizes.values())
    assert disk.total_bytes() == sum(sizes.values())

    disk.max_bytes = disk.total_bytes() - 1  # one entry must go: the oldest, b
    disk.enforce_size()
    assert [key for _, _, key in disk.entries()] == ["c", "a"]
    assert not (tmp_path / "b.npz").exists()

    disk.max_bytes = sizes["a"]  # only one fits
    disk.enforce_size()
    assert entry_files(tmp_path) == ["a.json", "a.npz"]
    assert disk.load("a") is not None


def test_save_enforces_the_bound(tmp_path):
    probe = DiskCache(tmp_path / "probe")
    probe.save("x", META, metrics(), snapshots())
    one = probe.total_bytes()
    disk = DiskCache(tmp_path / "bounded", max_bytes=one + one // 2)
    disk.save("old", META, metrics(), snapshots())
    os.utime(disk.folder / "old.json", (1000, 1000))
    disk.save("new", META, metrics(), snapshots())
    assert [key for _, _, key in disk.entries()] == ["new"]
    assert disk.load("old") is None
    assert disk.load("new") is not None


def test_defaults_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "here"))
    monkeypatch.setenv("LAB_CACHE_MB", "2")
    assert cache_mod.default_dir() == tmp_path / "here"
    assert cache_mod.default_max_bytes() == 2 * 1024 * 1024
    disk = DiskCache()
    assert disk.folder == tmp_path / "here" and disk.folder.is_dir()
    assert disk.max_bytes == 2 * 1024 * 1024


@pytest.mark.parametrize("text", ["[]", "null", '"text"', '{"format": 1}', ""])
def test_json_that_is_not_an_entry_is_dropped(tmp_path, text):
    disk = DiskCache(tmp_path)
    disk.save("k", META, metrics(), snapshots())
    (tmp_path / "k.json").write_text(text)
    assert disk.load("k") is None
    assert entry_files(tmp_path) == []


# --- a writer killed with SIGKILL in the middle of a write ---------------------------------

KILLED_WRITER = r'''
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from core.engine import cache

folder, stage = Path(sys.argv[2]), sys.argv[3]
disk = cache.DiskCache(folder)
real = disk._write_atomic

def slow_write(path, data):
    if path.suffix == stage:  # stop in the middle of this file's write, then hang
        with open(folder / ".tmp-killed" ".part", "wb") as f:
            f.write(data[: len(data) // 2])
        print("writing", flush=True)
        time.sleep(60)
    real(path, data)

disk._write_atomic = slow_write
meta = {"experiment": "fake", "status": "done"}
disk.save("k", meta, {"loss": ([1, 2], [0.5, 0.25])}, {"w": __import__("numpy").ones(1000)})
'''


@pytest.mark.parametrize("stage", [".npz", ".json"])
def test_a_writer_killed_mid_write_leaves_no_entry_that_a_restart_serves(tmp_path, stage):
    import signal
    import subprocess
    import sys
    from pathlib import Path
    if stage == ".json":  # an older, valid entry under the same key is being replaced
        DiskCache(tmp_path).save("k", META, metrics(), snapshots())
    root = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, root, str(tmp_path), stage],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    # .npz: nothing of the entry exists yet; .json: the new .npz replaced the old one while
    # the JSON still describes the old: the checksum tells them apart. Either way nothing
    # half-written is served, and the caller recomputes.
    assert DiskCache(tmp_path).load("k") is None
    assert [name for name in entry_files(tmp_path) if not name.startswith(".tmp-")] == []
    # what the killed writer left is removed once it is old enough to be nobody's
    leftovers = list(tmp_path.glob(".tmp-*"))
    assert leftovers
    for path in leftovers:
        os.utime(path, (1000, 1000))
    assert DiskCache(tmp_path).remove_stale_temporaries() == 0  # done at start already
    assert list(tmp_path.glob(".tmp-*")) == []


def test_replicas_writing_one_folder_at_once_never_serve_a_mixed_entry(tmp_path):
    """Replicas share LAB_CACHE_DIR (README, Scaling out): two writers saving the same
    key at once, and a reader, see a whole entry or none, never one writer's JSON with
    the other's arrays (the JSON holds the checksum of its own .npz)."""
    import threading

    writers = [DiskCache(tmp_path), DiskCache(tmp_path)]
    reader = DiskCache(tmp_path)
    stop = threading.Event()
    seen, bad = [], []

    def write(w: int) -> None:
        for i in range(40):
            tag = 1000 * w + i
            writers[w].save("shared", {**META, "summary": {"tag": tag}},
                            {"loss": ([1], [float(tag)])},
                            {"w": np.full((64, 64), tag, dtype=np.float32)})

    def read() -> None:
        while not stop.is_set():
            record = reader.load("shared")
            if record is None:
                continue
            tag = record["summary"]["tag"]
            seen.append(tag)
            if record["metrics"]["loss"][1] != [float(tag)] or \
                    not (record["snapshots"]["w"] == tag).all():
                bad.append(tag)

    threads = [threading.Thread(target=write, args=(w,)) for w in (0, 1)]
    looker = threading.Thread(target=read)
    looker.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    looker.join()
    assert bad == [], f"mixed entries served: {bad[:5]}"
    assert seen, "the reader never saw an entry"
    last = DiskCache(tmp_path).load("shared")
    assert last is None or last["summary"]["tag"] in (39, 1039)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
