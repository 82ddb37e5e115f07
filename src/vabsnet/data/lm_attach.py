"""Attach language-model features to the records of a store (``vabsnet lm-features``, ``prepare
--lm-features``). Records are rewritten in place, a batch per LMDB transaction, so a killed run resumes:
chains that already carry features are skipped unless ``overwrite``. Chains whose features cannot be found or
do not fit are listed in ``STORE/lm_failures.jsonl`` and, with ``drop_failed`` (a store being prepared), removed,
so that a store either has features for every chain or says which lack them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from vabsnet.atomic import atomic_write_text, write_failures
from vabsnet.data.records import decode_record, encode_record
from vabsnet.data.store import REC, Store, WriteBatches, open_env, release_env
from vabsnet.errors import LMFeatureError, failure_reason
from vabsnet.features.lm import ExtractDir, LMFeatures

LM_FAILURES = "lm_failures.jsonl"


@dataclass(frozen=True)
class AttachSummary:
    chains: int  # with features after the run
    attached: int  # written by this run
    failures: int
    dim: int
    source: str


def pending_sequences(store_path: str | Path, overwrite: bool = False) -> dict[str, str]:
    """``{key: sequence}`` of the chains that still need features."""
    store = Store(store_path)
    todo = {}
    for key in store.keys:  # one decode per record
        record = decode_record(store.raw(key), key)
        if overwrite or record.lm is None:
            todo[key] = record.protein.sequence
    store.close()
    return todo


def from_directory(directory: str | Path, sequences: dict[str, str],
                   layer: int | None = None) -> Iterator[tuple[str, LMFeatures | Exception]]:
    """Features of each chain from an ``esm-extract`` directory (see :class:`ExtractDir`)."""
    source = ExtractDir(directory, layer)
    for key, seq in sequences.items():
        try:
            yield key, source.find(key, seq)
        except LMFeatureError as exc:
            yield key, exc


def attach(store_path: str | Path, features: Iterable[tuple[str, LMFeatures | Exception]], total: int, *,
           drop_failed: bool = False, progress: bool = True, commit_every: int = 64) -> AttachSummary:
    """Write ``features`` (``(key, features or the error that stopped them)``) into the store's records."""
    path = Path(store_path)
    release_env(path)
    env = open_env(path, write=True)
    failures: list[dict] = []
    attached, dims, sources = 0, set[int](), set[str]()
    bar = tqdm(total=total, desc="lm-features", unit="chain", disable=not progress)
    try:
        with WriteBatches(env, every=commit_every) as batches:
            for key, found in features:
                data = batches.txn.get(REC + key.encode())
                if data is None:
                    raise KeyError(f"{path}: no record {key!r}")
                record = decode_record(data, key)
                try:
                    if isinstance(found, Exception):
                        raise found
                    found.checked(key, record.protein.sequence)
                    if dims and found.residue.shape[1] not in dims:
                        raise LMFeatureError(f"{key}: {found.residue.shape[1]}-d features, the others are "
                                             f"{next(iter(dims))}-d")
                except Exception as exc:  # one chain's problem never ends the run
                    failures.append({"chain": key, "reason": failure_reason(exc)})
                    if drop_failed:
                        batches.txn.delete(REC + key.encode())
                else:
                    new = dataclasses.replace(record, lm=found.residue, lm_cls=found.cls, lm_source=found.source)
                    batches.txn.put(REC + key.encode(), encode_record(new))
                    attached += 1
                    dims.add(found.residue.shape[1])
                    sources.add(found.source)
                bar.update()
                batches.tick()
    finally:
        bar.close()
        env.close()
    return _finish(path, attached, failures, dims, sources)


def _finish(path: Path, attached: int, failures: list[dict], dims: set, sources: set) -> AttachSummary:
    store = Store(path)
    with_lm, store_dims, store_sources, residues, atoms = 0, set(), set(), 0, 0
    for key in store.keys:
        record = decode_record(store.raw(key), key)
        residues += record.protein.num_residues
        atoms += record.protein.num_atoms
        if record.lm is not None:
            with_lm += 1
            store_dims.add(int(record.lm.shape[1]))
            store_sources.add(record.lm_source)
    store.close()
    write_failures(path / LM_FAILURES, failures)
    manifest_path = path / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        manifest.setdefault("counts", {}).update(chains=len(store.keys), residues=residues, atoms=atoms)
        manifest["lm_features"] = {"chains": with_lm, "of": len(store.keys), "dim": sorted(store_dims),
                                   "source": sorted(store_sources), "failures": len(failures)}
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    dim = next(iter(store_dims)) if len(store_dims) == 1 else 0
    return AttachSummary(with_lm, attached, len(failures), dim, "; ".join(sorted(store_sources)))


def attach_computed(store_path: str | Path, compute: Callable[[dict[str, str]], Iterable[tuple[str, LMFeatures]]],
                    *, overwrite: bool = False, progress: bool = True) -> AttachSummary:
    """Compute features for the chains that lack them (``compute(sequences)``) and attach them."""
    todo = pending_sequences(store_path, overwrite)
    return attach(store_path, compute(todo), len(todo), progress=progress)
