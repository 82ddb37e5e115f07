from __future__ import annotations

import numpy as np
import pytest

from vabsnet.constants import ATOM_CA, RESTYPE_MASK
from vabsnet.pretrain.masking import apply_mask, residue_mask, span_mask
from vabsnet.structure import load_structure


@pytest.fixture(scope="module")
def protein():
    from vabsnet.corpus import entry

    return load_structure(entry("1AFS").path).select_chain("A")


def test_span_mask_statistics():
    rng = np.random.default_rng(0)
    masks = [span_mask(300, 0.3, 6.0, rng) for _ in range(200)]
    frac = np.mean([m.mean() for m in masks])
    assert 0.22 < frac <= 0.30  # overlaps make it a little under 30%
    runs = []
    for m in masks:
        edges = np.flatnonzero(np.diff(np.r_[0, m.astype(int), 0]))
        runs += list(edges[1::2] - edges[::2])
    assert np.mean(runs) > 4.0  # contiguous spans, not scattered residues
    assert all(m.any() for m in masks)


def test_residue_mask_is_scattered_and_exact():
    m = residue_mask(300, 0.3, np.random.default_rng(1))
    assert m.sum() == 90
    edges = np.flatnonzero(np.diff(np.r_[0, m.astype(int), 0]))
    assert np.mean(edges[1::2] - edges[::2]) < 2.0


def test_masks_are_reproducible_from_the_seed():
    a = span_mask(200, 0.3, 6.0, np.random.default_rng(7))
    b = span_mask(200, 0.3, 6.0, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, span_mask(200, 0.3, 6.0, np.random.default_rng(8)))


def test_span_strategy_removes_atoms_and_noises_ca(protein):
    view = apply_mask(protein, "span", np.random.default_rng(0))
    masked = view.masked
    assert masked.any() and view.noised.tolist() == masked.tolist()
    p = view.protein
    counts = p.residue_atom_count
    assert (counts[masked] == 1).all() and (counts[~masked] == protein.residue_atom_count[~masked]).all()
    assert (p.atom_name[np.isin(p.atom_residue, np.flatnonzero(masked))] == ATOM_CA).all()
    assert (view.res_token[masked] == RESTYPE_MASK).all()
    np.testing.assert_array_equal(view.res_token[~masked], protein.restype[~masked])
    shift = np.linalg.norm(p.ca_coords - protein.ca_coords, axis=1)
    assert (shift[~masked] == 0).all()
    assert 0.4 < shift[masked].mean() < 1.2  # |N(0, 0.5^2 I)| has mean ~0.8 A


def test_residue_strategy_keeps_atoms_leaking_the_type(protein):
    view = apply_mask(protein, "residue", np.random.default_rng(0))
    assert view.protein.num_atoms == protein.num_atoms
    assert not view.noised.any()
    # the leak: the atom-name set of a masked residue identifies its type
    names = [frozenset(protein.atom_name[protein.atom_residue == i]) for i in range(protein.num_residues)]
    by_names: dict = {}
    for n, t in zip(names, protein.restype, strict=True):
        by_names.setdefault(n, set()).add(int(t))
    unique = np.mean([len(by_names[names[i]]) == 1 for i in np.flatnonzero(view.masked)])
    assert unique > 0.9


def test_residue_only_has_one_atom_per_residue(protein):
    view = apply_mask(protein, "residue-only", np.random.default_rng(0))
    assert view.protein.num_atoms == protein.num_residues
    assert view.kept_atom.sum() == protein.num_residues


def test_unknown_strategy(protein):
    with pytest.raises(ValueError, match="unknown masking strategy"):
        apply_mask(protein, "random", np.random.default_rng(0))  # type: ignore[arg-type]


def test_single_strategy_is_span_without_the_spans(protein):
    """`single`: independent residues (exactly 30%, scattered), each reduced to a noised CA like `span`."""
    view = apply_mask(protein, "single", np.random.default_rng(0))
    masked = view.masked
    assert masked.sum() == int(protein.num_residues * 0.3) and view.noised.tolist() == masked.tolist()
    edges = np.flatnonzero(np.diff(np.r_[0, masked.astype(int), 0]))
    assert np.mean(edges[1::2] - edges[::2]) < 2.0  # scattered, while span runs average over 4
    counts = view.protein.residue_atom_count
    assert (counts[masked] == 1).all() and (counts[~masked] == protein.residue_atom_count[~masked]).all()
    assert (view.res_token[masked] == RESTYPE_MASK).all()
    shift = np.linalg.norm(view.protein.ca_coords - protein.ca_coords, axis=1)
    assert (shift[~masked] == 0).all() and 0.4 < shift[masked].mean() < 1.2
