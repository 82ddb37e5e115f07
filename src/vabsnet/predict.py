"""``vabsnet predict TASK``: a fine-tuned model's predictions for structure files, written by the task.

``binding-site``: per chain ``DIR/<entry>_<chain>.csv`` (residue number, insertion code, name, probability,
predicted label) and ``DIR/<entry>_<chain>.pdb`` with the probability in the B-factor column (colour by
B-factor in PyMOL or ChimeraX). Function tasks (``ec``, ``go-*``): ``DIR/predictions.csv``, one row per
chain with its top terms and scores. Whole chains, batched by an atom budget on any device; bad files are
skipped and listed in ``DIR/failures.jsonl``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from vabsnet.constants import MAX_CHAIN_RESIDUES
from vabsnet.data.batch import Batch
from vabsnet.errors import VabsnetError
from vabsnet.inference import ATOM_BUDGET, ChainJob, FilesSummary, run_files
from vabsnet.runtime import load_model, resolve_device
from vabsnet.runtime.shipped import default_model, write_provenance


def predict_files(task_name: str, run: str | Path | None, inputs: Sequence[str | Path], out: str | Path, *,
                  progress: bool = True, max_chain_residues: int = MAX_CHAIN_RESIDUES, device: str = "auto",
                  precision: str | None = None, atom_budget: int = ATOM_BUDGET,
                  lm_features: str | Path | None = None,
                shard: tuple[int, int] | None = None) -> FilesSummary:
    """Write ``task_name``'s predictions for every chain of ``inputs`` to ``out`` with the fine-tuned ``run`` (a
    run directory or a shipped model's name; None: the shipped model for the task), and
    ``out/provenance.json`` naming the model."""
    run = run if run is not None else default_model(task_name)
    dev = resolve_device(device)
    model, config, task = load_model(run, device=dev)
    if task.name != task_name:
        raise VabsnetError(f"{run}: a {task.name} model, not a {task_name} model")
    precision = precision or config.train.precision  # the model's own, unless asked otherwise
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    writer = task.prediction_writer(out)

    def compute(batch: Batch) -> list:
        return model.scores(task, batch)

    def write(job: ChainJob, scores: object) -> None:
        writer.add(job.stem, job.chain, job.protein, scores)  # type: ignore[arg-type]

    with torch.no_grad():
        summary = run_files(inputs, out, config.encoder, model, compute, write, precision=precision,
                            atom_budget=atom_budget,
                            max_chain_residues=max_chain_residues, progress=progress, desc=f"predict {task.name}",
                            lm_features=lm_features, shard=shard)
    writer.close()
    write_provenance(out, run)
    return summary
