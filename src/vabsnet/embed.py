"""``vabsnet embed``: frozen per-residue, per-atom and per-protein embeddings of structure files.

Whole chains, no crop, no masking, batched by an atom budget on any device (``--device``); a chain's
embedding never depends on what else is embedded (:mod:`vabsnet.inference`). A bad file is skipped and
recorded in ``DIR/failures.jsonl``. An interrupted ``h5`` job leaves no ``embeddings.h5`` behind.

``pt`` format (one file per chain, ``DIR/<entry>_<chain>.pt``), the layout of fair-esm's extractor plus
atoms: ``label``, ``representations {L: [R, D]}``, ``mean_representations {L: [D]}``,
``atom_representations {L: [A, D]}``, ``graph_representation [D]`` (the virtual node), ``residue_ids``
(chain, number, insertion code), ``sequence``, ``atom_names``, ``atom_residue [A]``; ``L`` is the number
of encoder layers. ``h5`` format: one ``DIR/embeddings.h5`` with a group per chain id holding ``residue``,
``atom``, ``mean``, ``graph``, ``res_id``, ``ins_code``, ``atom_name``, ``atom_residue`` and attributes
``sequence`` and ``chain``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np
import torch

from vabsnet.atomic import atomic_path, atomic_write_json
from vabsnet.constants import ATOM37, MAX_CHAIN_RESIDUES
from vabsnet.data.batch import Batch, collate, split_rows
from vabsnet.features import featurize
from vabsnet.inference import ATOM_BUDGET, ChainJob, FilesSummary, run_files
from vabsnet.model import VabsEncoder
from vabsnet.runtime import load_encoder, resolve_device, run_batches
from vabsnet.runtime.shipped import ENCODER_KIND, PROVENANCE_FILE, default_model, provenance
from vabsnet.structure import Protein


@dataclass(frozen=True)
class ChainEmbedding:
    name: str
    residue: np.ndarray  # [R, D]
    atom: np.ndarray  # [A, D]
    graph: np.ndarray  # [D]
    protein: Protein


def encode_batch(encoder: VabsEncoder, batch: Batch) -> list[tuple]:
    """Per protein of a batch: (residue ``[R, D]``, atom ``[A, D]``, graph ``[D]``) float32 arrays (run it
    through :func:`vabsnet.runtime.run_batches`, which sets eval mode, no gradients and the precision)."""
    out = encoder(batch)
    residues = split_rows(out.residue, batch.num_residues)
    atoms = split_rows(out.atom, batch.num_atoms)
    graphs = split_rows(out.graph, torch.ones_like(batch.num_residues))
    return list(zip(residues, atoms, [g[0] for g in graphs], strict=True))


@torch.no_grad()
def embed_chain(encoder: VabsEncoder, protein: Protein) -> ChainEmbedding:
    """Encode one chain (eval mode, whole chain) on the encoder's device."""
    graph_in = featurize(protein, encoder.config)
    [[(res, atom, graph)]] = run_batches(encoder, [graph_in.num_atoms], lambda i: graph_in, collate,
                                         lambda b: encode_batch(encoder, b))
    return ChainEmbedding(protein.name, res, atom, graph, protein)


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


def embed_files(checkpoint: str | Path | None, inputs: Sequence[str | Path], out: str | Path, *,
                fmt: Literal["pt", "h5"] = "pt", progress: bool = True,
                max_chain_residues: int = MAX_CHAIN_RESIDUES, device: str = "auto", precision: str | None = None,
                atom_budget: int = ATOM_BUDGET, lm_features: str | Path | None = None,
                shard: tuple[int, int] | None = None) -> FilesSummary:
    """Embed every chain of ``inputs`` into ``out`` with ``checkpoint`` (an encoder file, a run directory or a
    shipped encoder's name; None: the shipped encoder); ``out/provenance.json`` names the encoder, and so does
    each ``pt`` record's ``model`` and the ``h5`` file's ``model`` attributes."""
    checkpoint = checkpoint if checkpoint is not None else default_model(ENCODER_KIND)
    dev = resolve_device(device)
    encoder, config = load_encoder(checkpoint)
    origin = provenance(checkpoint)
    precision = precision or config.train.precision  # the model's own, unless asked otherwise
    encoder = encoder.to(dev).eval()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    layers = config.encoder.layers
    with atomic_path(out / "embeddings.h5") if fmt == "h5" else nullcontext() as h5_path:
        h5 = None
        if h5_path is not None:
            import h5py

            h5 = h5py.File(h5_path, "w")
            h5.attrs.update({f"model_{k}": str(v) for k, v in origin.items()})

        def write(job: ChainJob, result: object) -> None:
            residue, atom, graph = cast(tuple[np.ndarray, np.ndarray, np.ndarray], result)
            e = ChainEmbedding(job.protein.name, residue, atom, graph, job.protein)
            if h5 is not None:
                _write_h5(h5, f"{job.entry_id}/{job.protein.name.split('/')[-1]}", e)
            else:
                with atomic_path(out / f"{job.stem}.pt") as tmp:
                    torch.save({**_pt_record(e, layers), "model": origin}, tmp)

        try:
            summary = run_files(inputs, out, config.encoder, encoder, lambda b: encode_batch(encoder, b), write,
                                precision=precision,
                                atom_budget=atom_budget, max_chain_residues=max_chain_residues,
                                progress=progress, desc="embed", lm_features=lm_features, shard=shard)
        finally:
            if h5 is not None:
                h5.close()
    atomic_write_json(out / PROVENANCE_FILE, origin)
    return summary


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
