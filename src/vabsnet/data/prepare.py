"""``vabsnet prepare``: structure files -> dataset store, in parallel, resumable, never dying on one file."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing as mp
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from vabsnet.atomic import atomic_write_text, write_failures
from vabsnet.constants import MAX_CHAIN_RESIDUES
from vabsnet.data.records import SCHEMA_VERSION, ChainRecord, decode_arrays, encode_record
from vabsnet.data.store import DONE, META, REC, WriteBatches, open_env, release_env
from vabsnet.errors import StoreError, VabsnetError, failure_reason
from vabsnet.structure.io import SUPPORTED_SUFFIXES, load_structure
from vabsnet.structure.select import split_chains
from vabsnet.structure.targets import atom_sasa

ChainsPerEntry = Literal["all", "first"]


@dataclass(frozen=True)
class PrepareOptions:
    """Options that change what a store holds; a store is only ever extended with the same options."""

    chains_per_entry: ChainsPerEntry = "all"
    min_residues: int = 1
    max_chain_residues: int = MAX_CHAIN_RESIDUES
    schema_version: int = SCHEMA_VERSION
    modelled_sidechains: bool = False  # every record's side chains are a model (scripts/structuredb_fullatom.py)


@dataclass(frozen=True)
class InputItem:
    """One input file, the id its records get, and which chains to keep (None: by the options)."""

    path: Path
    entry_id: str
    chains: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PrepareSummary:
    entries: int
    chains: int
    residues: int
    atoms: int
    failures: int
    skipped_done: int
    seconds: float


def _is_structure(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith(SUPPORTED_SUFFIXES)


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)``: shard K (0 .. N-1) of N, as ``--shard`` takes it (a SLURM array index)."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise VabsnetError(f"--shard {text!r}: expected K/N, e.g. 0/8") from None
    if not 0 <= k < n:
        raise VabsnetError(f"--shard {text!r}: K must be in 0..N-1")
    return k, n


def expand_inputs(inputs: Sequence[str | Path], shard: tuple[int, int] | None = None) -> list[InputItem]:
    """Files, directories (recursive), list files (one path per line) or ``bundled`` -> input items.

    Ids are file stems, made unique in sorted path order, so the same inputs always give the same ids.
    ``shard=(k, n)``: the items ``k, k + n, k + 2n, ...`` of that order (ids still from the whole list), so
    ``n`` jobs with ``k = 0 .. n-1`` cover every input once.
    """
    found: dict[Path, tuple[str, ...] | None] = {}
    for item in inputs:
        if str(item) == "bundled":
            from vabsnet.corpus import entries

            for e in entries():
                found[e.path] = e.chains
            continue
        path = Path(item)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and not p.name.startswith("."):
                    found.setdefault(p, None)
        elif path.is_file() and not _is_structure(path) and path.suffix.lower() in (".txt", ".list"):
            for line in path.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    found.setdefault(Path(line), None)
        else:
            found.setdefault(path, None)  # missing or unreadable files are reported as failures
    items, used = [], set()
    for path in sorted(found, key=str):
        stem = path.name
        for suffix in (".gz",) + SUPPORTED_SUFFIXES:
            stem = stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem
        entry_id, k = stem, 2
        while entry_id in used:
            entry_id, k = f"{stem}_{k}", k + 1
        used.add(entry_id)
        items.append(InputItem(path=path, entry_id=entry_id, chains=found[path]))
    return items if shard is None else items[shard[0]::shard[1]]


def _input_key(item: InputItem) -> bytes:
    digest = hashlib.sha1(str(item.path.resolve()).encode()).hexdigest()[:16]
    return DONE + f"{item.entry_id}:{digest}".encode()


def process_input(item: InputItem, options: PrepareOptions) -> tuple[list[tuple[str, bytes, int, int]], str | None]:
    """Load one file and encode its chains: ``([(key, bytes, residues, atoms)], failure reason)``."""
    try:
        protein = load_structure(item.path, chains=item.chains)
        first = options.chains_per_entry == "first"
        pairs = split_chains(protein, options.max_chain_residues, chains=protein.chains[:1] if first else None)
        out = []
        for chain, sub in pairs:
            if sub.num_residues < options.min_residues:
                continue
            sub = dataclasses.replace(sub, name=f"{item.entry_id}/{chain or '_'}",
                                      modelled_sidechains=options.modelled_sidechains)
            record = ChainRecord(protein=sub, sasa=atom_sasa(sub))
            out.append((sub.name, encode_record(record), sub.num_residues, sub.num_atoms))
        if not out:
            return [], f"no chain with at least {options.min_residues} residues"
        return out, None
    except Exception as exc:  # a bug or a pathological file must not stop the batch
        return [], failure_reason(exc)


def _worker(args: tuple[InputItem, PrepareOptions]) -> tuple[InputItem, list, str | None]:
    item, options = args
    records, reason = process_input(item, options)
    return item, records, reason


def prepare(inputs: Sequence[str | Path], out: str | Path, *, workers: int = 1,
            options: PrepareOptions | None = None, progress: bool = True,
            commit_every: float = 2.0, shard: tuple[int, int] | None = None) -> PrepareSummary:
    """Build (or resume building) the store ``out`` from ``inputs``; see the module docstring."""
    options = options or PrepareOptions()
    out = Path(out)
    start = time.perf_counter()
    items = expand_inputs(inputs, shard)
    release_env(out)
    env = open_env(out, write=True)
    try:
        wanted = json.dumps(asdict(options), sort_keys=True).encode()
        with env.begin(write=True) as txn:
            have = txn.get(META + b"options")
            if have is not None:  # options added since that store was built take their defaults
                have = json.dumps({**asdict(PrepareOptions()), **json.loads(have)}, sort_keys=True).encode()
            if have is not None and have != wanted:
                raise StoreError(f"{out}: store was built with options {have.decode()}, not {wanted.decode()}; "
                                 "use another --out or the same options")
            txn.put(META + b"options", wanted)
        with env.begin() as txn:
            pending = [it for it in items if txn.get(_input_key(it)) is None]
        _run(env, pending, options, workers, progress, commit_every)
        summary = _finalise(env, out, options, len(items) - len(pending), time.perf_counter() - start)
    finally:
        env.close()
    return summary


def _run(env: object, pending: list[InputItem], options: PrepareOptions, workers: int, progress: bool,
         commit_every: float) -> None:
    jobs = [(it, options) for it in pending]
    bar = tqdm(total=len(jobs), desc="prepare", unit="file", disable=not progress)
    results: Iterable[tuple[InputItem, list, str | None]]
    pool = None
    if workers > 1 and len(jobs) > 1:
        pool = mp.get_context("spawn").Pool(workers)
        results = pool.imap_unordered(_worker, jobs, chunksize=1)
    else:
        results = map(_worker, jobs)
    try:
        with WriteBatches(env, seconds=commit_every) as batches:  # type: ignore[arg-type]
            for item, records, reason in results:  # each input's records commit with its marker
                for key, data, _, _ in records:
                    batches.txn.put(REC + key.encode(), data)
                outcome = {"path": str(item.path), "chains": [r[0] for r in records],
                           "residues": [r[2] for r in records], "atoms": [r[3] for r in records]}
                if reason is not None:
                    outcome["reason"] = reason
                batches.txn.put(_input_key(item), json.dumps(outcome).encode())
                bar.update()
                batches.tick()
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()


def _finalise(env: object, out: Path, options: PrepareOptions, skipped: int, seconds: float) -> PrepareSummary:
    """Sum the counts each input's marker keeps (this run's and earlier runs') and write manifest.json and
    failures.jsonl atomically. Markers written before they kept counts: their records are decoded once."""
    entries = chains = residues = atoms = 0
    failures = []
    with env.begin() as txn:  # type: ignore[attr-defined]
        stored = {bytes(k) for k in txn.cursor().iternext(keys=True, values=False) if bytes(k).startswith(REC)}
        for key, value in txn.cursor():
            if not key.startswith(DONE):
                continue
            outcome = json.loads(value)
            if "reason" in outcome:
                failures.append({"path": outcome["path"], "reason": outcome["reason"]})
                continue
            entries += 1
            sizes = zip(outcome.get("residues", [None] * len(outcome["chains"])),
                        outcome.get("atoms", [None] * len(outcome["chains"])), strict=True)
            for chain, (n_res, n_atoms) in zip(outcome["chains"], sizes, strict=True):
                rec = REC + chain.encode()
                if rec not in stored:  # removed since (lm-features drops chains without features)
                    continue
                if n_res is None:
                    arrays, _ = decode_arrays(txn.get(rec), chain)
                    n_res, n_atoms = len(arrays["restype"]), len(arrays["atom_name"])
                chains += 1
                residues += n_res
                atoms += n_atoms
    failures.sort(key=lambda f: f["path"])
    write_failures(out / "failures.jsonl", failures)
    previous = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "counts": {"entries": entries, "chains": chains, "residues": residues, "atoms": atoms,
                   "failures": len(failures)},
        "options": asdict(options),
    }
    if "lm_features" in previous:  # written by `vabsnet lm-features`; chains added since have none
        manifest["lm_features"] = previous["lm_features"]
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return PrepareSummary(entries, chains, residues, atoms, len(failures), skipped, round(seconds, 2))
