"""kNN graphs against brute force: all pairwise distances of real atoms, sorted."""

from __future__ import annotations

import numpy as np
import pytest

from vabsnet.corpus import entry
from vabsnet.features.graph import knn
from vabsnet.structure import load_structure


@pytest.mark.parametrize("k", [1, 16, 40])
def test_knn_matches_brute_force_on_real_atoms(k):
    coords = load_structure(entry("1AFS").path).select_chain("A").coords[:600].astype(np.float64)  # [N, 3]
    index, mask = knn(coords, k)
    d = np.linalg.norm(coords[:, None] - coords[None], axis=-1)  # [N, N], brute force (small N)
    expected = np.sort(d, axis=1)[:, :k]
    got = np.take_along_axis(d, index, axis=1)
    assert mask.all() and (index[:, 0] == np.arange(len(coords))).all()
    np.testing.assert_allclose(np.sort(got, axis=1), expected, atol=1e-9)  # the same distances (ties may swap)
    assert all(len(set(row)) == k for row in index.tolist())  # no point twice


def test_knn_pads_small_graphs_and_keeps_self_first_on_duplicates():
    pts = np.array([[0.0, 0, 0], [0.0, 0, 0], [3.0, 0, 0]])  # two points at one position
    index, mask = knn(pts, 5)
    assert index[:2].tolist() == [[0, 1, 2, 0, 0], [1, 0, 2, 1, 1]]
    assert index[2, 0] == 2 and sorted(index[2, 1:3]) == [0, 1] and index[2, 3:].tolist() == [2, 2]  # 0, 1 tie
    assert mask.tolist() == [[True] * 3 + [False] * 2] * 3
    assert knn(np.zeros((0, 3)), 4)[0].shape == (0, 4)
