"""Pure selections and combinations of :class:`Protein` records (new records, never in place)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from vabsnet.constants import ATOM_CA
from vabsnet.structure.protein import Protein


def keep_atoms(protein: Protein, keep: np.ndarray) -> Protein:
    """The record with only the atoms where ``keep [A]`` is True (every CA must stay)."""
    keep = np.asarray(keep, dtype=bool)
    return dataclasses.replace(
        protein, atom_name=protein.atom_name[keep], element=protein.element[keep],
        coords=protein.coords[keep], atom_residue=protein.atom_residue[keep])


def ca_only(protein: Protein) -> Protein:
    """Only the CA atom of every residue (the residue-level view)."""
    return keep_atoms(protein, protein.atom_name == ATOM_CA)


def concatenate(proteins: Sequence[Protein], name: str, spacing: float = 0.0) -> Protein:
    """One record holding all residues of ``proteins`` in order; chain ids are made unique, and each
    part is shifted by ``spacing * i`` Angstrom along x (to place copies far apart)."""
    parts = list(proteins)
    offsets = np.cumsum([0] + [p.num_residues for p in parts[:-1]])
    return Protein(
        name=name,
        restype=np.concatenate([p.restype for p in parts]),
        chain_id=np.concatenate([np.char.add(f"{i}", p.chain_id.astype("<U3")) for i, p in enumerate(parts)]),
        res_id=np.concatenate([p.res_id for p in parts]),
        ins_code=np.concatenate([p.ins_code for p in parts]),
        atom_name=np.concatenate([p.atom_name for p in parts]),
        element=np.concatenate([p.element for p in parts]),
        coords=np.concatenate([p.coords + np.array([spacing * i, 0.0, 0.0], np.float32)
                               for i, p in enumerate(parts)]),
        atom_residue=np.concatenate([p.atom_residue + o for p, o in zip(parts, offsets, strict=True)]),
        source="+".join(p.name for p in parts),
    )


def split_chains(protein: Protein, max_residues: int | None = None,
                 chains: Sequence[str] | None = None) -> list[tuple[str, Protein]]:
    """``(chain id, single-chain record)`` for ``chains`` (default: every chain); a chain over
    ``max_residues`` is an error naming it, raised before any chain is returned (batch jobs skip the file
    with that reason instead of running out of memory)."""
    from vabsnet.errors import StructureError

    out = []
    for chain in protein.chains if chains is None else chains:
        sub = protein.select_chain(chain)
        if max_residues is not None and sub.num_residues > max_residues:
            raise StructureError(protein.source or protein.name, f"chain {chain!r} has {sub.num_residues} "
                                 f"residues, over the limit of {max_residues}")
        out.append((chain, sub))
    return out
