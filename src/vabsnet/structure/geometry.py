"""Pure geometry on coordinate arrays (numpy). Shapes: ``[..., 3]`` points, angles in radians."""

from __future__ import annotations

import numpy as np

PEPTIDE_BOND_MAX = 2.0  # Angstrom; a longer C(i-1)-N(i) distance is a chain break


def dihedral(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> np.ndarray:
    """Dihedral angle of four points (IUPAC sign convention), ``[...]`` in ``(-pi, pi]``.

    >>> round(float(np.degrees(dihedral(np.array([1., 0, 0]), np.zeros(3), np.array([0., 1, 0]),
    ...                                  np.array([0., 1, 1])))), 6)
    -90.0
    """
    b0 = p0 - p1
    b1 = p2 - p1
    b2 = p3 - p2
    b1 = b1 / np.maximum(np.linalg.norm(b1, axis=-1, keepdims=True), 1e-8)
    v = b0 - np.sum(b0 * b1, axis=-1, keepdims=True) * b1
    w = b2 - np.sum(b2 * b1, axis=-1, keepdims=True) * b1
    x = np.sum(v * w, axis=-1)
    y = np.sum(np.cross(b1, v) * w, axis=-1)
    return np.arctan2(y, x)


def backbone_frames(n: np.ndarray, ca: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Orthonormal residue frames ``[..., 3, 3]`` (rows are the axes) from N, CA, C ``[..., 3]``.

    Axis 0 bisects the N-CA-C angle, axis 1 is normal to the backbone plane, axis 2 completes a
    right-handed frame (the PiFold / Structured-Transformer construction, spec section 3.2).
    """
    u0 = _unit(ca - n)
    u1 = _unit(c - ca)
    normal = _unit(np.cross(u0, u1))
    bisector = _unit(u0 - u1)
    return np.stack([bisector, normal, np.cross(bisector, normal)], axis=-2)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-8)
