"""The prepared dataset store: an LMDB environment of one record per chain, plus JSON side files.

Layout of ``STORE/``::

    data.mdb, lock.mdb   LMDB: b"rec:<entry>/<chain>" -> record bytes (see records.py)
                               b"done:<input>"        -> JSON outcome of one input file
                               b"meta:options"        -> JSON options the store was built with
    manifest.json        schema version, counts, options (written atomically at the end of prepare)
    failures.jsonl       one line per skipped input: {"path": ..., "reason": ...}
    splits.json          written by `vabsnet split`

A directory of such stores (one per ``prepare --shard K/N``) opens as one store (:class:`Store`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import lmdb

from vabsnet.data.records import ChainRecord, decode_record, record_sequence
from vabsnet.errors import StoreError

REC, DONE, META = b"rec:", b"done:", b"meta:"
MAP_SIZE = 1 << 40  # address space only: the file grows as records are written


def open_env(path: Path, *, write: bool) -> lmdb.Environment:
    if not write and not (path / "data.mdb").exists():
        raise StoreError(f"{path}: no dataset store here (run `vabsnet prepare ... --out {path}`)")
    path.mkdir(parents=True, exist_ok=True)
    try:
        return lmdb.open(str(path), map_size=MAP_SIZE, subdir=True, readonly=not write, lock=write,
                         readahead=False, max_readers=512)
    except lmdb.Error as exc:
        raise StoreError(f"{path}: cannot open LMDB store ({exc})") from None


_SHARED: dict[tuple[str, int], lmdb.Environment] = {}


def shared_env(path: Path) -> lmdb.Environment:
    """One read-only environment per store and process (LMDB refuses to open one twice in a process).

    A forked process (a DataLoader worker) inherits its parent's open environments, which LMDB forbids
    using after a fork and which make it refuse to open the store again ("already open in this
    process"); the child closes its inherited copies first. Closing only releases the child's handles.
    """
    resolved, pid = str(Path(path).resolve()), os.getpid()
    key = (resolved, pid)
    if key not in _SHARED:
        for other in [k for k in _SHARED if k[0] == resolved and k[1] != pid]:
            _SHARED.pop(other).close()
        _SHARED[key] = open_env(Path(path), write=False)
    return _SHARED[key]


def release_env(path: Path) -> None:
    """Close this process's read-only environment of ``path`` (before opening it for writing)."""
    env = _SHARED.pop((str(Path(path).resolve()), os.getpid()), None)
    if env is not None:
        env.close()


class WriteBatches:
    """Writes through one LMDB transaction at a time, committed every ``every`` items or ``seconds``
    (whichever comes first), so a killed job keeps what it committed. Use as a context manager: the last
    transaction commits on exit and aborts on an exception."""

    def __init__(self, env: lmdb.Environment, *, every: int | None = None, seconds: float | None = None) -> None:
        self.env, self.every, self.seconds = env, every, seconds

    def __enter__(self) -> WriteBatches:
        self.txn, self.count, self.since = self.env.begin(write=True), 0, time.monotonic()
        return self

    def tick(self) -> None:
        """One item written; commit when a batch is full."""
        self.count += 1
        if ((self.every is not None and self.count % self.every == 0)
                or (self.seconds is not None and time.monotonic() - self.since > self.seconds)):
            self.txn.commit()
            self.txn, self.since = self.env.begin(write=True), time.monotonic()

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if kind is None:
            self.txn.commit()
        else:
            self.txn.abort()


def shard_dirs(path: Path) -> list[Path]:
    """The shard stores of a directory of stores (``prepare --shard K/N --out DIR/shard-K``): its
    subdirectories holding ``data.mdb``, sorted; empty when ``path`` is a store itself or holds none."""
    if (path / "data.mdb").exists() or not path.is_dir():
        return []
    return sorted(d for d in path.iterdir() if d.is_dir() and (d / "data.mdb").exists())


class Store:
    """Read-only access to a prepared store; safe to use from DataLoader worker processes.

    ``path`` is one store, or a directory of shard stores (``prepare --shard``) read as one: the records of
    every shard, ``splits.json`` of the directory (``vabsnet split DIR`` splits and clusters across shards).
    Keys are in byte order either way, so a sharded store lists its records as one store of the same inputs.

    >>> store = Store("runs/corpus")          # doctest: +SKIP
    >>> record = store["1AFS/A"]              # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.shards = shard_dirs(self.path) or [self.path]
        self._where: dict[str, Path] = {}
        for shard in self.shards:
            with shared_env(shard).begin() as txn:
                for k, _ in txn.cursor():
                    if not k.startswith(REC):
                        continue
                    key = k[len(REC):].decode()
                    if key in self._where:
                        raise StoreError(f"{self.path}: record {key!r} is in two shards ({self._where[key].name} "
                                         f"and {shard.name}); shards of one collection hold distinct inputs")
                    self._where[key] = shard
        self.keys: list[str] = sorted(self._where, key=str.encode)

    def _txn_env(self, key: str) -> lmdb.Environment:
        return shared_env(self._where.get(key, self.shards[0]))  # per process: safe in DataLoader workers

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def raw(self, key: str) -> bytes:
        with self._txn_env(key).begin() as txn:
            data = txn.get(REC + key.encode())
        if data is None:
            raise KeyError(f"{self.path}: no record {key!r}")
        return data

    def __getitem__(self, key: str) -> ChainRecord:
        return decode_record(self.raw(key), key)

    def __iter__(self) -> Iterator[ChainRecord]:
        for key in self.keys:
            yield self[key]

    def sequences(self) -> dict[str, str]:
        """Chain sequence of every record, keyed like the records."""
        return {key: record_sequence(self.raw(key), key) for key in self.keys}

    @property
    def manifest(self) -> dict:
        """``manifest.json`` (of a sharded store: the shards' counts summed, ``shards`` their number)."""
        found = []
        for shard in self.shards:
            path = shard / "manifest.json"
            if not path.exists():
                raise StoreError(f"{shard}: no manifest.json; was `vabsnet prepare` interrupted?")
            found.append(json.loads(path.read_text()))
        if len(found) == 1:
            return found[0]
        counts = {k: sum(m["counts"].get(k, 0) for m in found) for k in found[0]["counts"]}
        return {**found[0], "counts": counts, "shards": len(found)}

    def split_info(self) -> dict:
        """The whole ``splits.json`` (method, counts, ``splits``, ``cluster_of``)."""
        path = self.path / "splits.json"
        if not path.exists():
            raise StoreError(f"{self.path}: no splits.json (run `vabsnet split {self.path}`)")
        return json.loads(path.read_text())

    def splits(self) -> dict[str, list[str]]:
        data = self.split_info()
        return {name: data["splits"][name] for name in ("train", "valid", "test")}

    def close(self) -> None:
        for shard in self.shards:
            release_env(shard)
