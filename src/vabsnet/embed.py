"""``vabsnet embed``: frozen per-residue, per-atom and per-protein embeddings of structure files.

Each chain is encoded on its own (whole chain, no crop, no masking), so its embedding never depends on
what else is embedded. Inputs stream one file at a time; a bad file is skipped and recorded in
``DIR/failures.jsonl``.

``pt`` format (one file per chain, ``DIR/<entry>_<chain>.pt``), the layout of fair-esm's extractor plus
atoms: ``label``, ``representations {L: [R, D]}``, ``mean_representations {L: [D]}``,
``atom_representations {L: [A, D]}``, ``graph_representation [D]`` (the virtual node), ``residue_ids``
(chain, number, insertion code), ``sequence``, ``atom_names``, ``atom_residue [A]``; ``L`` is the number
of encoder layers. ``h5`` format: one ``DIR/embeddings.h5`` with a group per chain id holding ``residue``,
``atom``, ``mean``, ``graph``, ``res_id``, ``ins_code``, ``atom_name``, ``atom_residue`` and attributes
``sequence`` and ``chain``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from vabsnet.constants import ATOM37, MAX_CHAIN_RESIDUES
from vabsnet.data.batch import collate
from vabsnet.data.prepare import expand_inputs
from vabsnet.data.store import atomic_write_text
from vabsnet.errors import failure_reason
from vabsnet.features import featurize
from vabsnet.model import VabsEncoder
from vabsnet.structure import Protein, load_structure
from vabsnet.structure.select import split_chains
from vabsnet.train.checkpoint import load_encoder


@dataclass(frozen=True)
class ChainEmbedding:
    name: str
    residue: np.ndarray  # [R, D]
    atom: np.ndarray  # [A, D]
    graph: np.ndarray  # [D]
    protein: Protein


@dataclass(frozen=True)
class EmbedSummary:
    files: int
    chains: int
    failures: int
    out: Path


@torch.no_grad()
def embed_chain(encoder: VabsEncoder, protein: Protein) -> ChainEmbedding:
    """Encode one chain (eval mode, whole chain)."""
    encoder.eval()
    out = encoder(collate([featurize(protein, encoder.config)]))
    return ChainEmbedding(protein.name, out.residue.float().numpy(), out.atom.float().numpy(),
                          out.graph[0].float().numpy(), protein)


def _pt_record(e: ChainEmbedding, layer: int) -> dict:
    p = e.protein
    return {
        "label": e.name,
        "representations": {layer: torch.from_numpy(e.residue)},
        "mean_representations": {layer: torch.from_numpy(e.residue.mean(0))},
        "atom_representations": {layer: torch.from_numpy(e.atom)},
        "graph_representation": torch.from_numpy(e.graph),
        "residue_ids": [(str(c), int(r), str(i)) for c, r, i in zip(p.chain_id, p.res_id, p.ins_code, strict=True)],
        "sequence": p.sequence,
        "atom_names": [ATOM37[a] for a in p.atom_name],
        "atom_residue": torch.from_numpy(p.atom_residue.astype(np.int64)),
    }


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name.replace("/", "_"))


def embed_files(checkpoint: str | Path, inputs: Sequence[str | Path], out: str | Path, *,
                fmt: Literal["pt", "h5"] = "pt", progress: bool = True,
                max_chain_residues: int = MAX_CHAIN_RESIDUES) -> EmbedSummary:
    encoder, config = load_encoder(checkpoint)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = expand_inputs(inputs)
    failures, n_chains, n_files = [], 0, 0
    h5 = None
    if fmt == "h5":
        import h5py

        h5_tmp = out / ".embeddings.h5.tmp"
        h5 = h5py.File(h5_tmp, "w")
    try:
        for item in tqdm(items, desc="embed", unit="file", disable=not progress):
            try:
                protein = load_structure(item.path, chains=item.chains)
                embeddings = [embed_chain(encoder, sub) for _, sub in split_chains(protein, max_chain_residues)]
            except Exception as exc:  # never let one file end the batch
                failures.append({"path": str(item.path), "reason": failure_reason(exc)})
                continue
            n_files += 1
            for e in embeddings:
                key = f"{item.entry_id}/{e.name.split('/')[-1]}"
                if h5 is not None:
                    _write_h5(h5, key, e)
                else:
                    target = out / f"{_safe(key)}.pt"
                    tmp = target.with_name(f".{target.name}.tmp")
                    torch.save(_pt_record(e, config.encoder.layers), tmp)
                    os.replace(tmp, target)
                n_chains += 1
    finally:
        if h5 is not None:
            h5.close()
            os.replace(out / ".embeddings.h5.tmp", out / "embeddings.h5")
    atomic_write_text(out / "failures.jsonl", "".join(json.dumps(f) + "\n" for f in failures))
    return EmbedSummary(files=n_files, chains=n_chains, failures=len(failures), out=out)


def _write_h5(h5: object, key: str, e: ChainEmbedding) -> None:
    p = e.protein
    group = h5.create_group(key)  # type: ignore[attr-defined]
    group["residue"] = e.residue
    group["atom"] = e.atom
    group["mean"] = e.residue.mean(0)
    group["graph"] = e.graph
    group["res_id"] = p.res_id
    group["ins_code"] = np.array(p.ins_code, dtype="S1")
    group["atom_name"] = np.array([ATOM37[a] for a in p.atom_name], dtype="S4")
    group["atom_residue"] = p.atom_residue
    group.attrs["sequence"] = p.sequence
    group.attrs["chain"] = str(p.chain_id[0])
