"""Masking strategies for pre-training (spec section 4): pure functions with an explicit generator.

- ``span`` (SMPC): spans with Poisson(6) lengths until ~30% of residues are covered (spans may overlap,
  as in the reference code); a masked residue gets the MASK type, loses every atom but CA, has its
  language-model features zeroed and its CA noised with N(0, 0.5^2) per axis.
- ``residue`` (the naive bi-level baseline): the same fraction of independent single residues; only
  the type is masked, all atoms stay, nothing is noised. The atom names spell the answer: leakage.
- ``residue-only``: only CA atoms in the input (no atom track content), spans masked as in ``span``.
- ``single``: the clean ablation of ``span``: the same fraction of independent single residues, each
  reduced to a noised CA exactly as in ``span``, with the same losses. ``span`` and ``single`` differ only
  in whether masked residues come in contiguous spans; ``residue`` differs from ``span`` in three ways.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from vabsnet.config import MASKS, Mask
from vabsnet.constants import ATOM_CA, RESTYPE_MASK
from vabsnet.structure.protein import Protein
from vabsnet.structure.select import keep_atoms

Strategy = Mask
STRATEGIES = MASKS


@dataclass(frozen=True, eq=False)
class MaskedView:
    """What the model sees after masking, and what it must recover.

    protein : the input record (atoms removed, CA coordinates noised).
    res_token : ``[R]`` input residue tokens (``RESTYPE_MASK`` where masked).
    masked : ``[R]`` residues whose type is predicted.
    noised : ``[R]`` residues whose CA was noised (position targets).
    kept_atom : ``[A_clean]`` which atoms of the clean record are in ``protein``.
    """

    protein: Protein
    res_token: np.ndarray
    masked: np.ndarray
    noised: np.ndarray
    kept_atom: np.ndarray


def span_mask(num_residues: int, ratio: float, mean_length: float, rng: np.random.Generator) -> np.ndarray:
    """``[R]`` bool: Poisson(``mean_length``) spans at uniform starts until ``int(R * ratio)`` positions
    have been drawn (overlaps count, so the covered fraction can be lower). At least one residue."""
    target = max(1, int(num_residues * ratio))
    mask = np.zeros(num_residues, dtype=bool)
    drawn = 0
    while drawn < target:
        length = min(int(rng.poisson(mean_length)), target - drawn)
        if length == 0:
            continue
        start = int(rng.integers(0, num_residues - length + 1))
        mask[start: start + length] = True
        drawn += length
    return mask


def residue_mask(num_residues: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """``[R]`` bool: ``max(1, int(R * ratio))`` residues chosen independently (no spans)."""
    mask = np.zeros(num_residues, dtype=bool)
    mask[rng.choice(num_residues, size=max(1, int(num_residues * ratio)), replace=False)] = True
    return mask


def apply_mask(protein: Protein, strategy: Strategy, rng: np.random.Generator, *, ratio: float = 0.3,
               span_mean: float = 6.0, noise_std: float = 0.5) -> MaskedView:
    """Mask ``protein`` with ``strategy`` (see the module docstring)."""
    r = protein.num_residues
    if strategy == "residue":
        masked = residue_mask(r, ratio, rng)
        tokens = np.where(masked, RESTYPE_MASK, protein.restype).astype(np.int64)
        return MaskedView(protein, tokens, masked, np.zeros(r, bool), np.ones(protein.num_atoms, bool))
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown masking strategy {strategy!r}; choose one of {STRATEGIES}")
    masked = residue_mask(r, ratio, rng) if strategy == "single" else span_mask(r, ratio, span_mean, rng)
    is_ca = protein.atom_name == ATOM_CA
    keep = is_ca if strategy == "residue-only" else (is_ca | ~masked[protein.atom_residue])
    noise = rng.normal(0.0, noise_std, size=(r, 3)).astype(np.float32) * masked[:, None]
    coords = protein.coords + noise[protein.atom_residue]
    view = keep_atoms(dataclasses.replace(protein, coords=coords), keep)
    tokens = np.where(masked, RESTYPE_MASK, protein.restype).astype(np.int64)
    return MaskedView(view, tokens, masked, masked.copy(), keep)
