"""The prepared dataset store: an LMDB environment of one record per chain, plus JSON side files.

Layout of ``STORE/``::

    data.mdb, lock.mdb   LMDB: b"rec:<entry>/<chain>" -> record bytes (see records.py)
                               b"done:<input>"        -> JSON outcome of one input file
                               b"meta:options"        -> JSON options the store was built with
    manifest.json        schema version, counts, options (written atomically at the end of prepare)
    failures.jsonl       one line per skipped input: {"path": ..., "reason": ...}
    splits.json          written by `vabsnet split`
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


class Store:
    """Read-only access to a prepared store; safe to use from DataLoader worker processes.

    >>> store = Store("runs/corpus")          # doctest: +SKIP
    >>> record = store["1AFS/A"]              # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with shared_env(self.path).begin() as txn:
            self.keys: list[str] = [k[len(REC):].decode() for k, _ in txn.cursor()
                                    if k.startswith(REC)]

    def _txn_env(self) -> lmdb.Environment:
        return shared_env(self.path)  # per process: safe in DataLoader workers after fork

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: str) -> bool:
        return key in set(self.keys)

    def raw(self, key: str) -> bytes:
        with self._txn_env().begin() as txn:
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
        path = self.path / "manifest.json"
        if not path.exists():
            raise StoreError(f"{self.path}: no manifest.json; was `vabsnet prepare` interrupted?")
        return json.loads(path.read_text())

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
        release_env(self.path)
