"""Writing files so that a reader never sees half of one: a temporary name in the same folder, then a
rename. Every file vabsnet writes goes through here (or through a library that writes to a path we pass,
via :func:`atomic_path`)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """``with atomic_path(p) as tmp: write(tmp)``: ``tmp`` becomes ``p`` when the block ends normally and is
    deleted when it raises (an interrupted job never publishes a partial file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (flushed to disk before the rename)."""
    with atomic_path(path) as tmp, tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _json_safe(obj: object) -> object:
    """NaN -> None (JSON ``null``), through dicts and lists."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def atomic_write_json(path: str | Path, obj: object, indent: int = 2) -> str:
    """Write ``obj`` as JSON (NaN as ``null``) atomically; returns the text written."""
    text = json.dumps(_json_safe(obj), indent=indent) + "\n"
    atomic_write_text(path, text)
    return text


def write_failures(path: str | Path, failures: list[dict]) -> None:
    """``failures.jsonl`` of a batch job: one ``{"path": ..., "reason": ...}`` line per skipped input."""
    atomic_write_text(path, "".join(json.dumps(f) + "\n" for f in failures))
