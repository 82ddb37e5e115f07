"""Geometric pocket candidates and their scorer: hand geometry where the answer is known, a real pocket, and
the logistic regression against scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from vabsnet.bench.pockets import benchmark_ligands
from vabsnet.cavities import DIRECTIONS, buriedness, find_cavities
from vabsnet.corpus import entry
from vabsnet.pocket_rank import FEATURES, cavity_features, fit_scorer, percentiles
from vabsnet.structure import load_structure
from vabsnet.structure.targets import vdw_radii


def shell(radius: float, spacing: float = 1.6, opening: float | None = None) -> np.ndarray:
    """Atoms on a sphere about 1.6 A apart; with ``opening`` (cosine), a hole around +z."""
    n = int(4 * np.pi * radius ** 2 / spacing ** 2)
    i = np.arange(n) + 0.5
    polar, azimuth = np.arccos(1 - 2 * i / n), np.pi * (1 + 5 ** 0.5) * i
    unit = np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], 1)
    if opening is not None:
        unit = unit[unit[:, 2] < opening]
    return radius * unit


def test_buriedness_is_one_inside_a_closed_shell_and_zero_far_away():
    atoms = shell(8.0)
    b = buriedness(np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 30.0], [0.0, 0.0, 12.0]]), atoms)
    assert b[0] == 1.0 and b[1] == 0.0
    assert 0.05 < b[2] < 0.6  # outside the shell, near it: only the directions towards it are blocked
    assert np.allclose(np.linalg.norm(DIRECTIONS, axis=1), 1.0)


def test_an_open_shell_holds_one_cavity_at_its_centre_and_a_flat_sheet_none():
    atoms = shell(8.0, opening=0.8)  # a bowl: closed but for a hole of about 37 degrees
    [cavity] = find_cavities(atoms, np.full(len(atoms), 1.7))
    assert np.linalg.norm(cavity.center) < 2.0  # centred (pulled a little towards the hole)
    assert cavity.buried.min() >= 0.7 and len(cavity.lining) > len(atoms) // 2
    free = 8.0 - 1.7 - 1.4  # the room a probe has inside: a sphere of this radius, at 1 A spacing
    assert 0.6 < cavity.volume / (4 / 3 * np.pi * free ** 3) < 1.3
    x, y = np.meshgrid(np.arange(-10, 10.1, 1.5), np.arange(-10, 10.1, 1.5))
    sheet = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], 1)
    assert find_cavities(sheet, np.full(len(sheet), 1.7)) == []


def test_the_trypsin_s1_pocket_is_a_candidate():
    protein = load_structure(entry("1gbt").path)
    [ligand] = benchmark_ligands(protein)
    cavities = find_cavities(protein.coords, vdw_radii(protein.element))
    near = [i for i, c in enumerate(cavities) if cKDTree(ligand.coords).query(c.points)[0].min() < 4.0]
    assert near and near[0] == 0  # the largest candidate is where benzamidine binds
    pct = percentiles(np.linspace(0, 1, protein.num_atoms))
    features = cavity_features(cavities[0], protein.element, pct)
    assert set(FEATURES) <= set(features)
    assert features["log_volume"] == pytest.approx(np.log(cavities[0].volume))


def test_the_scorer_is_sklearns_balanced_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(FEATURES))) * [1, 2, 0.5, 3, 1, 1, 2] + 1.0
    y = (x @ rng.normal(size=len(FEATURES)) + rng.normal(size=400) > 4.0).astype(float)
    rows = [dict(zip(FEATURES, r, strict=True)) for r in x]
    scorer = fit_scorer(rows, y, l2=2.0)
    z = (x - x.mean(0)) / x.std(0)
    ref = LogisticRegression(C=0.5, class_weight="balanced", tol=1e-10, max_iter=10_000).fit(z, y)
    np.testing.assert_allclose(scorer.weights, ref.coef_[0], atol=2e-4)
    assert scorer.bias == pytest.approx(ref.intercept_[0], abs=2e-4)
    np.testing.assert_allclose(scorer.score(rows), ref.decision_function(z), atol=1e-3)


def test_file_pockets_span_chains_and_keep_one_rank_per_candidate():
    from vabsnet.pocket_rank import PocketScorer
    from vabsnet.pockets import cavity_pockets

    protein = load_structure(entry("1AFS").path)  # a homodimer: the candidates see both chains at once
    parts = [(protein.select_chain(c), np.full(protein.select_chain(c).num_atoms, 0.5)) for c in ("A", "B")]
    by_volume = PocketScorer(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)),
                             np.eye(len(FEATURES))[0], 0.0)
    per_chain = cavity_pockets(parts, by_volume)
    ranks = [{p.rank: p for p in pockets} for pockets in per_chain]
    shared = set(ranks[0]) & set(ranks[1])
    assert shared  # some candidates line both chains (the dimer interface)
    for r in shared:  # the same candidate: one centre and score, each chain's own atoms
        a, b = ranks[0][r], ranks[1][r]
        assert a.score == b.score and np.array_equal(a.center, b.center)
        assert a.atoms.max() < parts[0][0].num_atoms and b.atoms.max() < parts[1][0].num_atoms
    everything = sorted({(r, p.score) for chain in ranks for r, p in chain.items()})
    assert [r for r, _ in everything] == list(range(1, len(everything) + 1))  # ranks 1..n over the file
    scores = [s for _, s in everything]
    assert scores == sorted(scores, reverse=True)
