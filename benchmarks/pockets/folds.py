"""Cross-validated binding-site models for the pocket benchmark: every ligand-bound structure (bundled, and
with ``--complexes DIR`` the entries of ``scripts/plinder_complexes.py``) is held out of training in exactly
one fold.

The bundled corpus (plus the complexes) is prepared once (``OUT/corpus``), clustered at 30% identity
(MMseqs2), and split into ``--folds`` folds by :func:`vabsnet.data.splits.fold_splits` (clusters sharing a
structure merged, entries with a ligand spread evenly). Per fold ``k``: ``OUT/fold{k}/store`` (the corpus
records plus that fold's ``splits.json``: test = fold ``k``, valid = 10% of the rest for selection and
calibration), a ``tiny`` span (SMPC) encoder pre-trained on the fold's train chains only (or, with
``encoder``, a given pre-trained encoder such as the shipped ``tiny-span``), and a binding-site model
fine-tuned from it (``OUT/fold{k}/finetune-span``, calibrated threshold included). Resumable: finished runs
are kept.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from vabsnet.atomic import atomic_write_json
from vabsnet.bench.pockets import benchmark_ligands
from vabsnet.config import preset
from vabsnet.corpus import bundled
from vabsnet.data.prepare import prepare
from vabsnet.data.splits import cluster_sequences, fold_splits
from vabsnet.data.store import Store
from vabsnet.demo.run import Budget, finetune_config, pretrain_config
from vabsnet.runtime import ENCODER_FILE
from vabsnet.structure import load_structure
from vabsnet.train.finetune import finetune
from vabsnet.train.pretrain import pretrain, set_threads

IDENTITY = 0.3


def complex_files(complexes: Path | None) -> list[Path]:
    """The structure files of a ``scripts/plinder_complexes.py`` folder (none without one)."""
    if complexes is None:
        return []
    index = json.loads((complexes / "complexes.json").read_text())
    return [complexes / e["file"] for e in index["entries"]]


def ligand_entries(complexes: Path | None = None) -> dict[str, Path]:
    """Structure files with at least one benchmark ligand, keyed by entry (file stem): the bundled ones and
    the complexes'."""
    out = {}
    for path in [*bundled(), *complex_files(complexes)]:
        protein = load_structure(path)
        if benchmark_ligands(protein):
            out[protein.name] = path
    return out


def make_folds(out: Path, folds: int, seed: int, complexes: Path | None = None) -> dict:
    corpus = out / "corpus"
    path = out / "folds.json"
    if path.exists():
        return json.loads(path.read_text())
    inputs = ["bundled", *(str(f) for f in complex_files(complexes))]
    prepare(inputs, corpus, workers=2, progress=False)
    store = Store(corpus)
    rep_of = cluster_sequences(store.sequences(), IDENTITY)
    ligand = ligand_entries(complexes)
    stratify = {k for k in rep_of if k.split("/")[0] in ligand}
    info = {"identity": IDENTITY, "folds": folds, "seed": seed, "ligand_entries": sorted(ligand),
            "ligand_paths": {k: str(v) for k, v in ligand.items()}, "complexes": str(complexes or ""),
            "splits": [fold_splits(rep_of, folds, k, seed=seed, stratify=stratify) for k in range(folds)],
            "cluster_of": rep_of}
    atomic_write_json(path, info, indent=1)
    return info


def fold_store(out: Path, info: dict, k: int) -> Path:
    """``OUT/fold{k}/store``: the corpus records with fold ``k``'s split."""
    store = out / f"fold{k}" / "store"
    if not (store / "splits.json").exists():
        store.mkdir(parents=True, exist_ok=True)
        for name in ("data.mdb", "manifest.json"):
            shutil.copyfile(out / "corpus" / name, store / name)
        splits = info["splits"][k]
        atomic_write_json(store / "splits.json", {
            "method": f"{info['folds']}-fold cross-validation over mmseqs easy-cluster --min-seq-id {IDENTITY} "
                      f"clusters; fold {k} is test", "identity": IDENTITY, "fold": k,
            "counts": {n: len(v) for n, v in splits.items()}, "splits": splits, "cluster_of": info["cluster_of"]},
            indent=1)
    return store


def train_folds(out: Path, budget: Budget, folds: int = 5, seed: int = 0, progress: bool = True,
                complexes: Path | None = None, encoder: str | None = None) -> dict:
    """Train (or resume) every fold; returns ``folds.json`` with the seconds of each stage added. With
    ``encoder`` (a pre-trained encoder: path or shipped name), no per-fold pre-training: each fold fine-tunes
    from it with the task recipe."""
    set_threads()
    info = make_folds(out, folds, seed, complexes)
    seconds = info.setdefault("seconds", {})
    for k in range(folds):
        store = fold_store(out, info, k)
        pre, fine = out / f"fold{k}" / "pretrain-span", out / f"fold{k}" / "finetune-span"
        if encoder is None and not (pre / ENCODER_FILE).exists():
            t0 = time.monotonic()
            print(f"fold {k}: pre-train span, {budget.pretrain_steps} steps", flush=True)
            pretrain(store, pre, pretrain_config(budget, "span"), progress="  steps" if progress else False)
            seconds[f"fold{k} pretrain"] = round(time.monotonic() - t0, 1)
        if not (fine / "metrics.json").exists():
            t0 = time.monotonic()
            if encoder is None:
                print(f"fold {k}: fine-tune binding-site, {budget.finetune_steps} steps", flush=True)
                finetune(store, fine, finetune_config(budget, 0), init=pre / ENCODER_FILE,
                         progress="  steps" if progress else False)
            else:
                print(f"fold {k}: fine-tune binding-site from {encoder}, task recipe", flush=True)
                config = preset("tiny").override(**{"task.name": "binding-site", "train.seed": 0})
                finetune(store, fine, config, init=encoder, progress="  steps" if progress else False,
                         given={"task.name", "train.seed"})
            seconds[f"fold{k} finetune"] = round(time.monotonic() - t0, 1)
        atomic_write_json(out / "folds.json", info, indent=1)
    return info
