"""Writing a :class:`Protein` as PDB text (heavy atoms), with a per-atom value in the B-factor column."""

from __future__ import annotations

import numpy as np

from vabsnet.constants import ATOM37, RESTYPE_1TO3, RESTYPES
from vabsnet.structure.protein import Protein

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def pdb_chain_ids(chains: list[str]) -> dict[str, str]:
    """One PDB chain character per chain id, distinct: its own first character when no other chain starts
    with it (``A`` stays ``A``), otherwise the next unused letter (mmCIF ids such as ``1.A`` and ``1.B``)."""
    firsts = [c[:1] or "A" for c in chains]
    out: dict[str, str] = {}
    free = iter(ch for ch in LETTERS if ch not in set(firsts))
    for c, f in zip(chains, firsts, strict=True):
        out[c] = f if firsts.count(f) == 1 else next(free, f)
    return out


def to_pdb(protein: Protein, bfactor: np.ndarray | None = None) -> str:
    """PDB text of the protein's atoms; ``bfactor [A]`` goes into columns 61-66 (0 when None). Chain ids
    longer than PDB's one character are shortened without merging two chains (:func:`pdb_chain_ids`)."""
    b = np.zeros(protein.num_atoms) if bfactor is None else np.asarray(bfactor, dtype=np.float64)
    letter = pdb_chain_ids(list(dict.fromkeys(str(c) for c in protein.chain_id)))
    lines = []
    for a in range(protein.num_atoms):
        r = protein.atom_residue[a]
        t = int(protein.restype[r])
        res = RESTYPE_1TO3[RESTYPES[t]] if t < len(RESTYPES) else "UNK"
        name = ATOM37[protein.atom_name[a]]
        name = f" {name:<3s}" if len(name) < 4 else name
        x, y, z = protein.coords[a]
        chain = letter[str(protein.chain_id[r])]
        lines.append(f"ATOM  {(a + 1) % 100000:5d} {name:4s} {res:3s} {chain:1s}{int(protein.res_id[r]) % 10000:4d}"
                     f"{str(protein.ins_code[r])[:1] or ' ':1s}   {x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{b[a]:6.2f}"
                     f"          {str(protein.element[a]):>2s}")
    lines.append("END")
    return "\n".join(lines) + "\n"
