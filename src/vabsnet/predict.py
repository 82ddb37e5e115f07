"""``vabsnet predict binding-site``: per-residue binding probabilities of structure files.

Per chain: ``DIR/<entry>_<chain>.csv`` (chain, residue number, insertion code, residue name, probability,
predicted label) and ``DIR/<entry>_<chain>.pdb``, the chain's heavy atoms with the residue probability in
the B-factor column (colour by B-factor in PyMOL or ChimeraX). Bad files are skipped and listed in
``DIR/failures.jsonl``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vabsnet.constants import MAX_CHAIN_RESIDUES, RESTYPE_1TO3, RESTYPES
from vabsnet.data.batch import collate
from vabsnet.data.prepare import expand_inputs
from vabsnet.data.store import atomic_write_text
from vabsnet.embed import _safe
from vabsnet.errors import VabsnetError, failure_reason
from vabsnet.features import featurize
from vabsnet.structure import load_structure
from vabsnet.structure.select import split_chains
from vabsnet.structure.write import to_pdb
from vabsnet.train.finetune import load_model


@dataclass(frozen=True)
class PredictSummary:
    files: int
    chains: int
    failures: int


@torch.no_grad()
def predict_binding_sites(run: str | Path, inputs: Sequence[str | Path], out: str | Path,
                          progress: bool = True, max_chain_residues: int = MAX_CHAIN_RESIDUES) -> PredictSummary:
    model, config, task = load_model(run)
    if task.name != "binding-site":
        raise VabsnetError(f"{run}: a {task.name} model, not a binding-site model")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    failures, files, chains = [], 0, 0
    for item in tqdm(expand_inputs(inputs), desc="predict", unit="file", disable=not progress):
        try:
            protein = load_structure(item.path, chains=item.chains)
            results = []
            for c, chain in split_chains(protein, max_chain_residues):
                batch = collate([featurize(chain, config.encoder)])
                logits = task.logits(model.head, model.encoder(batch), batch)
                results.append((c, chain, task.scores(logits, batch)[0]))
        except Exception as exc:  # never let one file end the batch
            failures.append({"path": str(item.path), "reason": failure_reason(exc)})
            continue
        files += 1
        for c, chain, prob in results:
            stem = out / _safe(f"{item.entry_id}_{c or '_'}")
            rows = ["chain,residue_number,insertion_code,residue_name,probability,predicted"]
            for i in range(chain.num_residues):
                t = int(chain.restype[i])
                name = RESTYPE_1TO3[RESTYPES[t]] if t < len(RESTYPES) else "UNK"
                rows.append(f"{c},{chain.res_id[i]},{chain.ins_code[i]},{name},{prob[i]:.4f},"
                            f"{int(prob[i] >= config.task.threshold)}")
            atomic_write_text(stem.with_suffix(".csv"), "\n".join(rows) + "\n")
            atomic_write_text(stem.with_suffix(".pdb"), to_pdb(chain, np.asarray(prob)[chain.atom_residue]))
            chains += 1
    atomic_write_text(out / "failures.jsonl", "".join(json.dumps(f) + "\n" for f in failures))
    return PredictSummary(files, chains, len(failures))
