"""Per-structure regression targets of SMPC pre-training: torsion angles and solvent accessibility."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vabsnet.constants import (
    ATOM37_INDEX,
    ATOM_C,
    ATOM_CA,
    ATOM_N,
    CHI_ATOMS,
    RESTYPE_1TO3,
    RESTYPES,
    SASA_PROBE_RADIUS,
    SASA_RADII,
)
from vabsnet.structure.geometry import PEPTIDE_BOND_MAX, dihedral
from vabsnet.structure.protein import Protein

# [21, 4, 4] atom37 indices of the chi atoms per residue type, and [21, 4] which chis exist.
_CHI_INDEX = np.zeros((len(RESTYPES) + 1, 4, 4), dtype=np.int64)
_CHI_EXISTS = np.zeros((len(RESTYPES) + 1, 4), dtype=bool)
for _t, _aa in enumerate(RESTYPES):
    for _k, _atoms in enumerate(CHI_ATOMS[RESTYPE_1TO3[_aa]]):
        _CHI_INDEX[_t, _k] = [ATOM37_INDEX[a] for a in _atoms]
        _CHI_EXISTS[_t, _k] = True


@dataclass(frozen=True)
class Torsions:
    """Backbone and side-chain torsions, in :data:`vabsnet.constants.TORSION_NAMES` order.

    Attributes
    ----------
    angles : np.ndarray
        ``[R, 7]`` radians (0 where undefined).
    sin_cos : np.ndarray
        ``[R, 7, 2]`` (sin, cos); zeros where undefined.
    mask : np.ndarray
        ``[R, 7]`` bool, True where the angle is defined by present atoms.
    """

    angles: np.ndarray
    sin_cos: np.ndarray
    mask: np.ndarray


def chain_links(protein: Protein) -> np.ndarray:
    """``[R]`` bool: residue i is peptide-bonded to residue i-1 (same chain, C-N within 2 Angstrom)."""
    pos, mask = protein.atom37_coords, protein.atom37_mask
    link = np.zeros(protein.num_residues, dtype=bool)
    if protein.num_residues > 1:
        same_chain = protein.chain_id[1:] == protein.chain_id[:-1]
        present = mask[:-1, ATOM_C] & mask[1:, ATOM_N]
        dist = np.linalg.norm(pos[:-1, ATOM_C] - pos[1:, ATOM_N], axis=-1)
        link[1:] = same_chain & present & (dist < PEPTIDE_BOND_MAX)
    return link


def torsion_angles(protein: Protein) -> Torsions:
    """pre-omega, phi, psi and chi1-4 of every residue (pure function of the coordinates)."""
    pos, mask = protein.atom37_coords.astype(np.float64), protein.atom37_mask
    n_res = protein.num_residues
    link_prev = chain_links(protein)
    link_next = np.append(link_prev[1:], False)
    prev = np.maximum(np.arange(n_res) - 1, 0)
    nxt = np.minimum(np.arange(n_res) + 1, n_res - 1)
    n, ca, c = pos[:, ATOM_N], pos[:, ATOM_CA], pos[:, ATOM_C]

    angles = np.zeros((n_res, 7))
    ok = np.zeros((n_res, 7), dtype=bool)
    angles[:, 0] = dihedral(ca[prev], c[prev], n, ca)
    ok[:, 0] = link_prev
    angles[:, 1] = dihedral(c[prev], n, ca, c)
    ok[:, 1] = link_prev
    angles[:, 2] = dihedral(n, ca, c, n[nxt])
    ok[:, 2] = link_next

    idx = _CHI_INDEX[protein.restype]  # [R, 4, 4]
    rows = np.arange(n_res)[:, None, None]
    chi_pos = pos[rows, idx]  # [R, 4, 4, 3]
    chi_ok = _CHI_EXISTS[protein.restype] & mask[rows, idx].all(-1)
    angles[:, 3:] = dihedral(chi_pos[..., 0, :], chi_pos[..., 1, :], chi_pos[..., 2, :], chi_pos[..., 3, :])
    ok[:, 3:] = chi_ok

    angles = np.where(ok, angles, 0.0)
    sin_cos = np.stack([np.sin(angles), np.cos(angles)], axis=-1) * ok[..., None]
    return Torsions(angles.astype(np.float32), sin_cos.astype(np.float32), ok)


def vdw_radii(elements: np.ndarray) -> np.ndarray:
    """``[A]`` van der Waals radii of the solvent-accessibility model (N 1.6, C 1.7, O 1.4, S 1.8, Se 1.9;
    1.8 for any other element), in Angstrom."""
    return np.array([SASA_RADII.get(str(e), 1.8) for e in elements], dtype=np.float64)


def atom_sasa(protein: Protein, *, probe_radius: float = SASA_PROBE_RADIUS, points: int = 200) -> np.ndarray:
    """``[A]`` solvent-accessible surface area per heavy atom, in square Angstrom.

    Shrake-Rupley (biotite) on the heavy atoms of ``protein`` alone, radii N 1.6, C 1.7, O 1.4, S 1.8
    (spec section 4.3). Ligands and other chains not in the record do not occlude.
    """
    import biotite.structure as struc

    atoms = struc.AtomArray(protein.num_atoms)
    atoms.coord = protein.coords.copy()
    atoms.element = protein.element.copy()
    radii = vdw_radii(protein.element).astype(np.float32)
    sasa = struc.sasa(atoms, probe_radius=probe_radius, point_number=points, vdw_radii=radii)
    return np.nan_to_num(sasa).astype(np.float32)
