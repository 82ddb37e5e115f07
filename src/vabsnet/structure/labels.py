"""Labels derived from a structure: binding sites from ligand proximity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from vabsnet.structure.ccd import is_saccharide
from vabsnet.structure.protein import Ligand, Protein

DEFAULT_BINDING_CUTOFF = 4.0  # Angstrom, heavy atom to ligand heavy atom (inclusive)
COVALENT_MAX = 2.0  # Angstrom: a sugar atom this close to a protein or attached-sugar atom is bonded to it


@dataclass(frozen=True)
class BindingSiteLabels:
    """``residue [R]`` and ``atom [A]`` bool labels: True within the cutoff of a kept ligand."""

    residue: np.ndarray
    atom: np.ndarray


def glycan_attachment(ligands: tuple[Ligand, ...] | list[Ligand], anchors: np.ndarray) -> np.ndarray:
    """``[L]`` bool per ligand: a saccharide (CCD type) within ``COVALENT_MAX`` of an ``anchors`` atom
    (protein heavy atoms), directly or through other attached sugars of the same tree."""
    attached = np.zeros(len(ligands), dtype=bool)
    sugar = [i for i, lig in enumerate(ligands) if lig.num_atoms and is_saccharide(lig.name)]
    if not sugar or len(anchors) == 0:
        return attached
    points = [np.asarray(anchors, np.float64)]
    grew = True
    while grew:  # attach sugars to the protein, then to attached sugars, until nothing changes
        tree = cKDTree(np.concatenate(points))
        grew = False
        for i in sugar:
            if not attached[i] and tree.query(ligands[i].coords, k=1, distance_upper_bound=COVALENT_MAX)[0].min() \
                    <= COVALENT_MAX:
                attached[i] = grew = True
                points.append(np.asarray(ligands[i].coords, np.float64))
    return attached


def attached_glycans(protein: Protein) -> np.ndarray:
    """``[L]`` bool per ligand of ``protein``: attached glycans, as marked when the entry was read (so a
    glycan on another chain of the entry counts too) or found on this record's own atoms."""
    marked = np.array([lig.attached_glycan for lig in protein.ligands], dtype=bool)
    return marked | glycan_attachment(protein.ligands, protein.coords)


def binding_ligands(protein: Protein, min_ligand_atoms: int = 1, glycans: bool = False) -> list[Ligand]:
    """The ligands that define binding sites: at least ``min_ligand_atoms`` heavy atoms, and (unless
    ``glycans``) not a glycan covalently attached to the protein (a modification, not a bound ligand)."""
    skip = np.zeros(len(protein.ligands), bool) if glycans else attached_glycans(protein)
    return [lig for lig, s in zip(protein.ligands, skip, strict=True) if lig.num_atoms >= min_ligand_atoms and not s]


def binding_site_labels(protein: Protein, cutoff: float = DEFAULT_BINDING_CUTOFF,
                        min_ligand_atoms: int = 1, glycans: bool = False) -> BindingSiteLabels:
    """An atom is positive when any ligand heavy atom lies within ``cutoff`` (inclusive: exactly 4.0 A
    counts); a residue when any atom is.

    Ligands as :func:`binding_ligands` selects them. Uses a k-d tree over ligand atoms, so the cost is
    O(A log L), never an A x L distance matrix.
    """
    ligand_xyz = [lig.coords for lig in binding_ligands(protein, min_ligand_atoms, glycans)]
    atom = np.zeros(protein.num_atoms, dtype=bool)
    if ligand_xyz:
        tree = cKDTree(np.concatenate(ligand_xyz).astype(np.float64))
        # the tree's bound is strict; one float step above the cutoff makes the test inclusive
        dist, _ = tree.query(np.asarray(protein.coords, np.float64), k=1,
                             distance_upper_bound=np.nextafter(cutoff, np.inf))
        atom = dist <= cutoff
    residue = np.zeros(protein.num_residues, dtype=bool)
    np.logical_or.at(residue, protein.atom_residue, atom)
    return BindingSiteLabels(residue=residue, atom=atom)
