"""Fine-tuning augmentation (spec section 5.2, train split only): a pure function with an explicit generator.

The official binding-site recipe picks 20% of residues uniformly; each gets the residue type MASK, its
atoms keep their places in the graph but get the atom name MASK and N(0, 0.5^2) noise per axis, and its
language-model features are zeroed. Labels are taken before, from the clean record.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from vabsnet.constants import ATOM_MASK, RESTYPE_MASK
from vabsnet.structure.protein import Protein


@dataclass(frozen=True, eq=False)
class Augmented:
    """protein: the record with noised coordinates; res_token ``[R]``, atom_token ``[A]``: input tokens;
    masked ``[R]``: residues whose type, atom names and language-model features are hidden."""

    protein: Protein
    res_token: np.ndarray
    atom_token: np.ndarray
    masked: np.ndarray


def mask_residues_keep_atoms(protein: Protein, ratio: float, noise_std: float,
                             rng: np.random.Generator) -> Augmented:
    """``int(R * ratio)`` residues (uniform, no spans) masked as described in the module docstring."""
    r = protein.num_residues
    masked = np.zeros(r, dtype=bool)
    masked[rng.choice(r, size=int(r * ratio), replace=False)] = True
    on_atom = masked[protein.atom_residue]
    noise = rng.normal(0.0, noise_std, size=protein.coords.shape).astype(np.float32) * on_atom[:, None]
    return Augmented(
        protein=dataclasses.replace(protein, coords=(protein.coords + noise).astype(protein.coords.dtype)),
        res_token=np.where(masked, RESTYPE_MASK, protein.restype).astype(np.int64),
        atom_token=np.where(on_atom, ATOM_MASK, protein.atom_name).astype(np.int64),
        masked=masked,
    )
