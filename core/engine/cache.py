"""Finished runs on disk: one JSON file and one `.npz` file per run, never pickle.

The `.npz` is written first and the JSON last, each to a temporary name and then
renamed, and the JSON holds the `.npz`'s checksum: a partial or corrupt entry is
detected on load, deleted, and recomputed by the caller. The folder is kept under
a size bound by deleting the least recently used entries. A process killed while writing
leaves at most a `.tmp-*` file, never a half-written entry; such leftovers are removed
once they are older than any write could take (a folder shared by several replicas may
hold another replica's write in progress).
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
FORMAT = 1
STALE_TMP_SECONDS = 600


def default_dir() -> Path:
    """LAB_CACHE_DIR, else the per-user cache folder."""
    if os.environ.get("LAB_CACHE_DIR"):
        return Path(os.environ["LAB_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dl-intuition-lab"


def default_max_bytes() -> int:
    return int(float(os.environ.get("LAB_CACHE_MB", "512")) * 1024 * 1024)


def _encode(snapshots: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Replace every array in the snapshots by a reference into `arrays`."""
    def enc(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                raise TypeError("object arrays cannot be cached without pickle")
            ref = f"a{len(arrays)}"
            arrays[ref] = value
            return {"__array__": ref}
        if isinstance(value, dict):
            return {"__dict__": {str(k): enc(v) for k, v in value.items()}}
        if isinstance(value, (np.floating, np.integer)):
            return value.item()
        return value
    return {name: enc(v) for name, v in snapshots.items()}


def _decode(tree: Any, arrays: Any) -> Any:
    if isinstance(tree, dict) and "__array__" in tree:
        return arrays[tree["__array__"]]
    if isinstance(tree, dict) and "__dict__" in tree:
        return {k: _decode(v, arrays) for k, v in tree["__dict__"].items()}
    return tree


class DiskCache:
    def __init__(self, folder: Path | str | None = None, max_bytes: int | None = None):
        self.folder = Path(folder) if folder else default_dir()
        self.max_bytes = default_max_bytes() if max_bytes is None else max_bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temporaries()

    def remove_stale_temporaries(self, older_than: float = STALE_TMP_SECONDS) -> int:
        """Delete what killed writers left behind; returns how many files went."""
        removed, now = 0, time.time()
        for tmp in self.folder.glob(".tmp-*"):
            try:
                if now - tmp.stat().st_mtime > older_than:
                    tmp.unlink()
                    removed += 1
            except OSError:
                continue
        return removed

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.folder / f"{key}.json", self.folder / f"{key}.npz"

    def save(self, key: str, meta: dict[str, Any], metrics: dict[str, tuple[list, list]],
             snapshots: dict[str, Any]) -> None:
        arrays: dict[str, np.ndarray] = {}
        for i, (name, (steps, values)) in enumerate(metrics.items()):
            arrays[f"m{i}_step"] = np.asarray(steps, dtype=np.int64)
            arrays[f"m{i}_value"] = np.asarray(values, dtype=np.float64)
        record = dict(meta, format=FORMAT, metric_names=list(metrics),
                      snapshots=_encode(snapshots, arrays))
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        blob = buffer.getvalue()
        record["npz_sha256"] = hashlib.sha256(blob).hexdigest()
        text = json.dumps(record)  # fails here, before anything is written, if not JSON-able
        json_path, npz_path = self._paths(key)
        self._write_atomic(npz_path, blob)
        self._write_atomic(json_path, text.encode())
        self.enforce_size()

    def _write_atomic(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, key: str) -> dict[str, Any] | None:
        """The stored record with `metrics` and `snapshots` decoded, or None when the entry
        is missing, partial or corrupt (a bad entry is deleted)."""
        json_path, npz_path = self._paths(key)
        if not json_path.exists():
            return None
        try:
            record = json.loads(json_path.read_text())
            blob = npz_path.read_bytes()
            if record.get("format") != FORMAT or \
                    hashlib.sha256(blob).hexdigest() != record.get("npz_sha256"):
                raise ValueError("checksum or format mismatch")
            with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            record["metrics"] = {
                name: (arrays[f"m{i}_step"].tolist(), arrays[f"m{i}_value"].tolist())
                for i, name in enumerate(record.pop("metric_names"))}
            record["snapshots"] = {name: _decode(tree, arrays)
                                   for name, tree in record["snapshots"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError,
                zipfile.BadZipFile) as err:
            log.warning("ignoring the corrupt cache entry %s (%s)", key, err)
            self.delete(key)
            return None
        os.utime(json_path)  # least recently *used*: a read counts
        return record

    def delete(self, key: str) -> None:
        for path in self._paths(key):
            path.unlink(missing_ok=True)

    def entries(self) -> list[tuple[float, int, str]]:
        """(last use, bytes, key) of every entry, oldest first."""
        out = []
        for json_path in self.folder.glob("*.json"):
            key = json_path.stem
            try:
                size = sum(p.stat().st_size for p in self._paths(key) if p.exists())
                out.append((json_path.stat().st_mtime, size, key))
            except OSError:
                continue
        return sorted(out)

    def total_bytes(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def enforce_size(self) -> None:
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        for _, size, key in entries:
            if total <= self.max_bytes:
                break
            self.delete(key)
            total -= size
