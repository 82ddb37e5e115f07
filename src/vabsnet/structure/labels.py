"""Labels derived from a structure: binding sites from ligand proximity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from vabsnet.structure.protein import Protein

DEFAULT_BINDING_CUTOFF = 4.0  # Angstrom, heavy atom to ligand heavy atom


@dataclass(frozen=True)
class BindingSiteLabels:
    """``residue [R]`` and ``atom [A]`` bool labels: True within the cutoff of a kept ligand."""

    residue: np.ndarray
    atom: np.ndarray


def binding_site_labels(protein: Protein, cutoff: float = DEFAULT_BINDING_CUTOFF,
                        min_ligand_atoms: int = 1) -> BindingSiteLabels:
    """An atom is positive when any ligand heavy atom lies within ``cutoff``; a residue when any atom is.

    Only ligands with at least ``min_ligand_atoms`` heavy atoms count. Uses a k-d tree over ligand atoms,
    so the cost is O(A log L), never an A x L distance matrix.
    """
    ligand_xyz = [lig.coords for lig in protein.ligands if lig.num_atoms >= min_ligand_atoms]
    atom = np.zeros(protein.num_atoms, dtype=bool)
    if ligand_xyz:
        tree = cKDTree(np.concatenate(ligand_xyz))
        dist, _ = tree.query(protein.coords, k=1, distance_upper_bound=cutoff)
        atom = dist <= cutoff
    residue = np.zeros(protein.num_residues, dtype=bool)
    np.logical_or.at(residue, protein.atom_residue, atom)
    return BindingSiteLabels(residue=residue, atom=atom)
