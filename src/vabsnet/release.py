"""Packaging a trained run as a shipped model (:mod:`vabsnet.runtime.shipped`): float16 weights, the config,
the model card with the weights' hash, and reference outputs on one bundled file that a test recomputes.

``scripts/train_release.py`` trains the runs and calls :func:`package`; ``tests/test_shipped.py`` calls
:func:`reference_outputs` on every shipped model and compares with its card.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from vabsnet.atomic import atomic_write_json
from vabsnet.corpus import entry
from vabsnet.data.batch import collate
from vabsnet.embed import embed_chain
from vabsnet.features import featurize
from vabsnet.runtime import CALIBRATION_FILE, CONFIG_FILE, ENCODER_FILE, MODEL_FILE, load_encoder, load_model
from vabsnet.runtime.encode import run_batches
from vabsnet.runtime.shipped import CARD_FILE, ENCODER_KIND, sha256_file
from vabsnet.structure import Protein, load_structure

REFERENCE_ENTRY = "1FKI"  # FKBP12 with a bound ligand (107 residues): small and ligand-bound
DIGITS = 8  # values in a card's reference outputs, per quantity


def reference_protein() -> Protein:
    """The bundled chain every shipped model's reference outputs are computed on."""
    e = entry(REFERENCE_ENTRY)
    return load_structure(e.path, chains=list(e.chains))


def _head(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in np.ravel(values)[:DIGITS]]


def model_scores(model: str | Path, protein: Protein) -> np.ndarray:
    """A fine-tuned model's scores for one chain (residue probabilities, or term probabilities), float32 on
    the CPU."""
    net, config, task = load_model(model)
    graph = featurize(protein, config.encoder)

    [[scores]] = run_batches(net, [graph.num_atoms], lambda i: graph, collate, lambda b: net.scores(task, b))
    return np.asarray(scores, dtype=np.float64)


def reference_outputs(model: str | Path, kind: str) -> dict:
    """Numbers that pin down what ``model`` (a folder or shipped name) computes on :func:`reference_protein`,
    on the CPU in float32: an encoder's embeddings, a fine-tuned model's scores."""
    protein = reference_protein()
    if kind == ENCODER_KIND:
        e = embed_chain(load_encoder(model)[0].eval(), protein)
        return {"entry": REFERENCE_ENTRY, "residue_mean": round(float(e.residue.mean()), 6),
                "residue_sd": round(float(e.residue.std()), 6), "residue_0": _head(e.residue[0]),
                "atom_0": _head(e.atom[0]), "graph": _head(e.graph)}
    scores = model_scores(model, protein)
    top = np.argsort(-scores, kind="stable")[:DIGITS]
    return {"entry": REFERENCE_ENTRY, "score_mean": round(float(scores.mean()), 6),
            "score_max": round(float(scores.max()), 6), "top": [int(i) for i in top], "top_scores": _head(scores[top])}


def half_weights(src: Path, dst: Path) -> None:
    """The safetensors file ``src`` with every floating tensor stored as float16 (metadata kept)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), framework="pt") as fh:
        meta = fh.metadata() or {}
        state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open is not a mapping)
    state = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    tmp = dst.with_name(f".{dst.name}.tmp")
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(dst)


def package(run: Path, dest: Path, card: dict, *, half: bool = True) -> dict:
    """Copy ``run`` (an encoder run or a fine-tuned run) into the shipped-model folder ``dest``: weights (float16
    with ``half``), ``config.json``, ``calibration.json`` when there is one, and ``card.json`` = ``card`` plus
    the weights' SHA-256, size and reference outputs. Returns the card written."""
    kind = card["kind"]
    weights = ENCODER_FILE if kind == ENCODER_KIND else MODEL_FILE
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if half:
        half_weights(run / weights, dest / weights)
    else:
        shutil.copyfile(run / weights, dest / weights)
    config = json.loads((run / CONFIG_FILE).read_text())
    atomic_write_json(dest / CONFIG_FILE, config, indent=2)
    if (run / CALIBRATION_FILE).exists():
        shutil.copyfile(run / CALIBRATION_FILE, dest / CALIBRATION_FILE)
    card = {**card, "weights": weights, "dtype": "float16" if half else "float32",
            "bytes": (dest / weights).stat().st_size, "sha256": sha256_file(dest / weights),
            "reference": reference_outputs(dest, kind)}
    atomic_write_json(dest / CARD_FILE, card, indent=2)
    return card


def max_output_change(a: str | Path, b: str | Path, kind: str) -> float:
    """Largest absolute difference between two models' outputs on :func:`reference_protein` (e.g. float32
    against float16 weights): residue and atom embeddings for encoders, scores for fine-tuned models."""
    protein = reference_protein()
    if kind == ENCODER_KIND:
        ea, eb = (embed_chain(load_encoder(m)[0].eval(), protein) for m in (a, b))
        return float(max(np.abs(ea.residue - eb.residue).max(), np.abs(ea.atom - eb.atom).max()))
    return float(np.abs(model_scores(a, protein) - model_scores(b, protein)).max())
