"""Pocket success criteria (DCC, DCA, top-k, top-(n+2)) on hand-checkable geometry, the random surface-patch
baseline and the benchmark's choice of ligands on real bundled structures."""

from __future__ import annotations

import numpy as np
import pytest

from vabsnet.bench.pockets import (
    PocketPoints,
    benchmark_ligands,
    dcc_dca,
    found_at,
    structure_successes,
    success_rates,
    surface_patches,
)
from vabsnet.corpus import entry
from vabsnet.structure import load_structure
from vabsnet.structure.targets import atom_sasa

LIGAND = np.array([[0.0, 0, 0], [2.0, 0, 0]])  # centre (1, 0, 0)
NEAR = PocketPoints(np.array([1.0, 3, 0]), np.array([[1.0, 3, 0], [0.0, 3.5, 0]]))
FAR = PocketPoints(np.array([10.0, 0, 0]), np.array([[10.0, 0, 0], [6.0, 0, 0]]))


def test_dcc_and_dca_by_hand():
    dcc, dca = dcc_dca([NEAR, FAR], LIGAND)
    np.testing.assert_allclose(dcc, [3.0, 9.0])
    np.testing.assert_allclose(dca, [np.sqrt(10.0), 4.0])  # (1,3,0) to either atom; (6,0,0) to (2,0,0)
    assert dcc_dca([], LIGAND)[0].shape == (0,)


def test_top_k_and_top_n_plus_2():
    assert found_at(np.array([9.0, 3.0]), 1) is False and found_at(np.array([9.0, 3.0]), 2) is True
    assert found_at(np.array([4.0]), 1) is True  # 4 A counts (inclusive)
    s = structure_successes([FAR, NEAR], [LIGAND])  # one ligand: top-(n+2) = top-3
    assert s == {"dcc_top1": [False], "dcc_topn2": [True], "dca_top1": [True], "dca_topn2": [True]}
    far_ligand = LIGAND + 50.0
    s2 = structure_successes([FAR, NEAR], [LIGAND, far_ligand])
    assert s2["dcc_topn2"] == [True, False] and s2["dca_top1"] == [True, False]
    rates = success_rates([s, s2])
    assert rates == {"dcc_top1": 0.0, "dcc_topn2": pytest.approx(2 / 3), "dca_top1": pytest.approx(2 / 3),
                     "dca_topn2": pytest.approx(2 / 3), "ligands": 3}


def test_random_surface_patches_are_seeded_surface_atoms():
    protein = load_structure(entry("1gbt").path)
    sasa = atom_sasa(protein)
    a = surface_patches(protein.coords, sasa, 10, np.random.default_rng(3))
    b = surface_patches(protein.coords, sasa, 10, np.random.default_rng(3))
    c = surface_patches(protein.coords, sasa, 10, np.random.default_rng(4))
    assert len(a) == 10 and all(np.array_equal(p.points, q.points) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p.center, q.center) for p, q in zip(a, c, strict=True))
    surface = {tuple(x) for x in np.asarray(protein.coords, np.float64)[sasa >= 1.0].round(3)}
    buried = int((sasa < 1.0).sum())
    assert buried > 100  # trypsin has a core; none of it may appear in a patch
    for p in a:
        assert {tuple(x) for x in p.points.round(3)} <= surface
        np.testing.assert_allclose(p.center, p.points.mean(0))
        assert np.linalg.norm(p.points - p.points[:, None], axis=-1).max() <= 16.0 + 1e-6  # 8 A of one atom


def test_benchmark_ligands_follow_the_binding_site_labels():
    names = [lig.name for lig in benchmark_ligands(load_structure(entry("1AFS").path))]
    assert sorted(names) == ["NAP", "NAP", "TES", "TES"]  # ions/waters/additives out, >= 6 heavy atoms
    assert [lig.name for lig in benchmark_ligands(load_structure(entry("1gbt").path))] == ["GBS"]
    protein = load_structure(entry("1gbt").path)
    assert benchmark_ligands(protein, contact=0.5) == []  # no ligand atom within 0.5 A of the protein
