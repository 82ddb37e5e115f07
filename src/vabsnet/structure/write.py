"""Writing a :class:`Protein` as PDB text (heavy atoms), with a per-atom value in the B-factor column."""

from __future__ import annotations

import numpy as np

from vabsnet.constants import ATOM37, RESTYPE_1TO3, RESTYPES
from vabsnet.structure.protein import Protein


def to_pdb(protein: Protein, bfactor: np.ndarray | None = None) -> str:
    """PDB text of the protein's atoms; ``bfactor [A]`` goes into columns 61-66 (0 when None)."""
    b = np.zeros(protein.num_atoms) if bfactor is None else np.asarray(bfactor, dtype=np.float64)
    lines = []
    for a in range(protein.num_atoms):
        r = protein.atom_residue[a]
        t = int(protein.restype[r])
        res = RESTYPE_1TO3[RESTYPES[t]] if t < len(RESTYPES) else "UNK"
        name = ATOM37[protein.atom_name[a]]
        name = f" {name:<3s}" if len(name) < 4 else name
        x, y, z = protein.coords[a]
        chain = (str(protein.chain_id[r]) or "A")[:1]
        lines.append(f"ATOM  {(a + 1) % 100000:5d} {name:4s} {res:3s} {chain:1s}{int(protein.res_id[r]) % 10000:4d}"
                     f"{str(protein.ins_code[r])[:1] or ' ':1s}   {x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{b[a]:6.2f}"
                     f"          {str(protein.element[a]):>2s}")
    lines.append("END")
    return "\n".join(lines) + "\n"
