"""How pocket predictions are judged: the P2Rank / PUResNet success rates.

A prediction is a ranked list of pockets, each a centre ``[3]`` and a set of points ``[n, 3]`` (the atoms of
a vabsnet pocket, the grid points of a pyKVFinder cavity, the alpha-sphere centres of a pocketeer pocket, the
atoms of a random surface patch). For one ligand (its heavy atoms ``[L, 3]``):

- **DCC**: distance from the pocket centre to the ligand centre (mean of its heavy atoms);
- **DCA**: the shortest distance from any point of the pocket to any ligand atom.

A ligand is found at top-k by a criterion when one of the first k pockets is within ``cutoff`` (4 A) of it.
Rates are over ligands; top-(n+2) uses ``k = n + 2`` with n the number of benchmark ligands of the structure
(Krivak & Hoksza 2018). The ligands themselves are :func:`benchmark_ligands`: the binding-site labels'
ligands (at least 6 heavy atoms, no ions, waters, additives or attached glycans) that touch the protein.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from vabsnet.structure.labels import binding_ligands
from vabsnet.structure.protein import Ligand, Protein

SUCCESS_CUTOFF = 4.0  # Angstrom, DCC and DCA alike
MIN_LIGAND_ATOMS = 6  # as the binding-site labels
CONTACT = 4.0  # a benchmark ligand has a protein heavy atom within this distance


@dataclass(frozen=True)
class PocketPoints:
    """One predicted pocket as the benchmark sees it."""

    center: np.ndarray  # [3]
    points: np.ndarray  # [n, 3]


def benchmark_ligands(protein: Protein, min_atoms: int = MIN_LIGAND_ATOMS, contact: float = CONTACT) -> list[Ligand]:
    """The ligands a pocket finder should find: as the binding-site labels select them, and in contact."""
    if protein.num_atoms == 0:
        return []
    tree = cKDTree(np.asarray(protein.coords, np.float64))
    return [lig for lig in binding_ligands(protein, min_atoms)
            if np.isfinite(tree.query(np.asarray(lig.coords, np.float64), k=1,
                                      distance_upper_bound=np.nextafter(contact, np.inf))[0]).any()]


def dcc_dca(pockets: list[PocketPoints], ligand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[P]`` DCC and ``[P]`` DCA of every pocket to one ligand's heavy atoms ``[L, 3]``."""
    ligand = np.asarray(ligand, np.float64).reshape(-1, 3)
    if not pockets:
        return np.zeros(0), np.zeros(0)
    tree = cKDTree(ligand)
    dcc = np.array([np.linalg.norm(np.asarray(p.center, np.float64) - ligand.mean(0)) for p in pockets])
    dca = np.array([tree.query(np.asarray(p.points, np.float64).reshape(-1, 3), k=1)[0].min()
                    if len(p.points) else np.inf for p in pockets])
    return dcc, dca


def found_at(distances: np.ndarray, k: int, cutoff: float = SUCCESS_CUTOFF) -> bool:
    """One of the first ``k`` pockets (``distances [P]``, in rank order) is within ``cutoff``."""
    return bool((np.asarray(distances)[:k] <= cutoff).any())


def structure_successes(pockets: list[PocketPoints], ligands: list[np.ndarray],
                        cutoff: float = SUCCESS_CUTOFF) -> dict[str, list[bool]]:
    """Per ligand of one structure: found by DCC / DCA at top-1 and at top-(n+2)."""
    n = len(ligands)
    out: dict[str, list[bool]] = {f"{m}_{k}": [] for m in ("dcc", "dca") for k in ("top1", "topn2")}
    for lig in ligands:
        dcc, dca = dcc_dca(pockets, lig)
        for m, d in (("dcc", dcc), ("dca", dca)):
            out[f"{m}_top1"].append(found_at(d, 1, cutoff))
            out[f"{m}_topn2"].append(found_at(d, n + 2, cutoff))
    return out


def surface_patches(coords: np.ndarray, sasa: np.ndarray, count: int, rng: np.random.Generator, *,
                    radius: float = 8.0, min_sasa: float = 1.0) -> list[PocketPoints]:
    """The random baseline: ``count`` patches, each the surface atoms (SASA >= ``min_sasa`` A^2) within
    ``radius`` of a surface atom drawn uniformly without replacement; centre = mean of the patch atoms.
    Their order is the draw order (a random ranking)."""
    coords = np.asarray(coords, np.float64)
    surface = np.flatnonzero(np.asarray(sasa) >= min_sasa)
    if len(surface) == 0:
        return []
    tree = cKDTree(coords[surface])
    seeds = rng.choice(len(surface), size=min(count, len(surface)), replace=False)
    patches = []
    for s in seeds:
        xyz = coords[surface[tree.query_ball_point(coords[surface[s]], radius)]]
        patches.append(PocketPoints(xyz.mean(0), xyz))
    return patches


def success_rates(successes: list[dict[str, list[bool]]]) -> dict[str, float]:
    """Pooled over ligands: the fraction found per criterion, and the count of ligands."""
    keys = ("dcc_top1", "dcc_topn2", "dca_top1", "dca_topn2")
    pooled = {k: [v for s in successes for v in s[k]] for k in keys}
    n = len(pooled["dcc_top1"])
    return {**{k: (float(np.mean(v)) if n else float("nan")) for k, v in pooled.items()}, "ligands": n}


__all__ = ["PocketPoints", "SUCCESS_CUTOFF", "benchmark_ligands", "dcc_dca", "found_at", "structure_successes",
           "success_rates", "surface_patches"]
