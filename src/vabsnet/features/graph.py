"""Fixed-size neighbour lists with a k-d tree: O(N log N), never an N x N distance matrix."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def knn(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest points of every point, itself first.

    Parameters
    ----------
    points : ``[N, 3]``
    k : neighbours per point, self included.

    Returns
    -------
    index : ``[N, k]`` int64; rows of graphs with fewer than ``k`` points are padded with the point itself.
    mask : ``[N, k]`` bool; False on padding.
    """
    n = len(points)
    if n == 0:
        return np.zeros((0, k), np.int64), np.zeros((0, k), bool)
    kk = min(k, n)
    _, index = cKDTree(points).query(points, k=kk)
    index = np.asarray(index, dtype=np.int64).reshape(n, kk)
    # ties at distance 0 (duplicate positions) may put another point first: force self to column 0
    self_idx = np.arange(n)
    has_self = index == self_idx[:, None]
    col = np.where(has_self.any(1), has_self.argmax(1), kk - 1)
    index[self_idx, col] = index[:, 0]
    index[:, 0] = self_idx
    mask = np.ones((n, k), dtype=bool)
    if kk < k:
        index = np.concatenate([index, np.repeat(self_idx[:, None], k - kk, axis=1)], axis=1)
        mask[:, kk:] = False
    return index, mask
