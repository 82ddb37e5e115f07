"""The pocket finders the benchmark compares, each returning ranked :class:`PocketPoints` for one structure.

All of them see the same atoms: the entry's protein heavy atoms as vabsnet reads them (ligands, waters and
hydrogens removed), written once as PDB by :func:`vabsnet.structure.write.to_pdb`.

- ``vabsnet``: :class:`vabsnet.pockets.PocketFinder` with the fold's fine-tuned binding-site run (the fold
  that held the structure out), pockets of all chains ranked together by score; points = pocket atoms.
  ``vabsnet-top5``: the same with each chain's top 5% of atoms by probability in place of the calibrated
  threshold (``vabsnet pockets --top-fraction 0.05``; 5% chosen before looking at any result).
- ``pykvfinder``: pyKVFinder 0.9.6 ``run_workflow`` with its defaults (probe in 1.4 A, probe out 4 A, step
  0.6 A, volume cut-off 5 A^3); cavities ranked by volume, largest first (KVFinder gives no score); points =
  cavity grid points, centre = their mean.
- ``pocketeer``: pocketeer 0.4.0 ``find_pockets`` with its defaults (fpocket-style alpha spheres), in its own
  score order; points = alpha-sphere centres, centre = its centroid.
- ``pocketeer+vabsnet``: pocketeer's pockets re-ranked by the fold model: mean atom probability of the atoms
  lining each pocket (within 4 A of an alpha-sphere centre). Same pockets as ``pocketeer``: only the order,
  hence top-1, can differ.
- ``oracle``: vabsnet's pocket construction (single linkage 3 A, >= 5 atoms, ranked by size) applied to the
  true binding atoms (the labels: within 4 A of a benchmark ligand), over the whole entry: the ceiling of the
  clustering step, what a perfect atom classifier would score.
- ``random``: :func:`vabsnet.bench.pockets.surface_patches` (8 A patches of surface atoms, random order).
- ``pocketnet``: pocketnet 0.3.0 (MIT, trained weights in its wheel; trained on PDBbind-derived data, so it may
  have seen some of these entries) ``pocketnet predict FILE --device cpu``, in its rank order; centre = its
  centre, points = the heavy atoms of the residues it lists (the same treatment as vabsnet's atom pockets).
  Chains are written with one-letter ids A, B, ... so its residue names map back unambiguously.
- ``vabsnet-cavities``: the default of ``vabsnet pockets``: geometric candidates (:mod:`vabsnet.cavities`)
  of the whole entry ranked by a logistic regression on their geometry and the fold model's atom scores
  (:mod:`vabsnet.pocket_rank`), the regression itself cross-validated: fitted on the other folds' structures
  (``run_pockets.py``, tables stage). ``cavities-volume`` ranks the same candidates by volume, and
  ``cavities-geometry`` by the regression without the model's features, which isolates the model's part.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from vabsnet.bench.pockets import PocketPoints, surface_patches
from vabsnet.structure.protein import Protein
from vabsnet.structure.targets import atom_sasa
from vabsnet.structure.write import to_pdb

METHODS = ("vabsnet", "vabsnet-top5", "pykvfinder", "pocketeer", "pocketeer+vabsnet", "pocketnet", "random",
           "oracle")
VABSNET = {"vabsnet": None, "vabsnet-top5": 0.05}  # pocket atoms: calibrated threshold / each chain's top 5%
RANDOM_PATCHES = 10  # per draw; more than n + 2 for every benchmark structure but 19hc / 2gtl
RANDOM_DRAWS = 20  # success rates of the random baseline are means over this many seeded draws


def kvfinder_pockets(pdb: Path) -> list[PocketPoints]:
    import pyKVFinder

    res = pyKVFinder.run_workflow(str(pdb), nthreads=2)
    if res is None:  # no cavity
        return []
    p1, p2, p3, p4 = (np.asarray(v, np.float64) for v in res._vertices)
    axes = np.stack([(p - p1) / np.linalg.norm(p - p1) for p in (p2, p3, p4)])  # [3, 3] grid axes
    found = []
    for c in range(2, int(res.cavities.max()) + 1):
        idx = np.argwhere(res.cavities == c)  # [n, 3] grid indices
        if len(idx) == 0:
            continue
        xyz = p1 + (idx * res._step) @ axes
        name = "K" + chr(65 + (c - 2) // 26) + chr(65 + (c - 2) % 26)
        found.append((res.volume.get(name, len(idx) * res._step ** 3), PocketPoints(xyz.mean(0), xyz)))
    found.sort(key=lambda f: -f[0])
    return [p for _, p in found]


def pocketeer_pockets(pdb: Path) -> list[PocketPoints]:
    import pocketeer

    pockets = pocketeer.find_pockets(pocketeer.load_structure(str(pdb)))
    return [PocketPoints(np.asarray(p.centroid, np.float64), p.coords) for p in pockets]


def oracle_pockets(protein: Protein) -> list[PocketPoints]:
    from vabsnet.bench.pockets import MIN_LIGAND_ATOMS
    from vabsnet.pockets import find_pockets
    from vabsnet.structure.labels import binding_site_labels

    truth = binding_site_labels(protein, min_ligand_atoms=MIN_LIGAND_ATOMS).atom.astype(np.float64)
    return [PocketPoints(p.center, np.asarray(protein.coords)[p.atoms])
            for p in find_pockets(protein.coords, truth, protein.atom_residue, 0.5, elements=protein.element)]


def random_pockets(protein: Protein, seed: int) -> list[PocketPoints]:
    return surface_patches(protein.coords, atom_sasa(protein), RANDOM_PATCHES, np.random.default_rng(seed))


def random_draws(protein: Protein) -> list[list[PocketPoints]]:
    sasa = atom_sasa(protein)
    return [surface_patches(protein.coords, sasa, RANDOM_PATCHES, np.random.default_rng(seed))
            for seed in range(RANDOM_DRAWS)]


def vabsnet_pockets(finder: object, path: Path, work: Path) -> tuple[list[PocketPoints], list[dict], tuple]:
    """Pockets of every chain ranked together by score, their docking boxes (rank, score, centre, size), and
    the entry's atoms with their probabilities (``coords [A, 3]``, ``probs [A]``, over all chains)."""
    found: list = []
    atoms: list = []

    def keep(job: object, pockets: list, _: object, atom_probs: np.ndarray) -> None:
        found.extend((p, job.protein.coords[p.atoms]) for p in pockets)
        atoms.append((np.asarray(job.protein.coords, np.float64), atom_probs))

    finder.run([path], work, keep, progress=False)
    found.sort(key=lambda f: -f[0].score)
    boxes = [{"rank": i + 1, "score": p.score, "center": p.center.tolist(), "size": p.size.tolist()}
             for i, (p, _) in enumerate(found)]
    probs = (np.concatenate([a[0] for a in atoms]), np.concatenate([a[1] for a in atoms])) if atoms else None
    return [PocketPoints(p.center, xyz) for p, xyz in found], boxes, probs


def rescored(pockets: list[PocketPoints], coords: np.ndarray, probs: np.ndarray, shell: float = 4.0) -> list:
    """Geometric pockets re-ranked by vabsnet: by the mean atom probability of the protein atoms lining
    each (within ``shell`` A of one of its points), highest first (P2Rank's rescoring idea)."""
    tree = cKDTree(coords)

    def lining(p: PocketPoints) -> float:
        near = {i for row in tree.query_ball_point(p.points, shell) for i in row}
        return float(probs[list(near)].mean()) if near else 0.0

    return sorted(pockets, key=lambda p: -lining(p))


def lettered(protein: Protein) -> Protein:
    """The protein with chains renamed A, B, C, ... (PDB's one-letter chain column)."""
    from dataclasses import replace

    names = list(dict.fromkeys(str(c) for c in protein.chain_id))
    letters = {c: chr(65 + i) if i < 26 else chr(97 + i - 26) for i, c in enumerate(names)}
    return replace(protein, chain_id=np.array([letters[str(c)] for c in protein.chain_id]))


def pocketnet_run(protein: Protein, dest: Path) -> float:
    """Run pocketnet on the protein-only PDB (chains lettered); its CSV goes to ``dest``; returns seconds."""
    import shutil
    import subprocess

    with tempfile.TemporaryDirectory(prefix="vabsnet-pocketnet-") as tmp:
        t0 = time.perf_counter()
        pdb = Path(tmp) / "protein.pdb"
        pdb.write_text(to_pdb(lettered(protein)))
        subprocess.run(["pocketnet", "predict", str(pdb), "-o", tmp, "--device", "cpu", "-q", "--formats", "csv"],
                       check=True, capture_output=True)
        seconds = time.perf_counter() - t0
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "protein_pockets.csv", dest)
    return seconds


def pocketnet_pockets(protein: Protein, csv: Path) -> list[PocketPoints]:
    """pocketnet's pockets from its CSV, in rank order (see the module text)."""
    import csv as csvlib

    named = lettered(protein)
    res = named.atom_residue
    label = np.array([f"{named.chain_id[r]}:{int(named.res_id[r])}{str(named.ins_code[r]).strip()}" for r in res])
    coords = np.asarray(protein.coords, np.float64)
    found = []
    with csv.open() as fh:
        for row in sorted(csvlib.DictReader(fh), key=lambda r: int(r["rank"])):
            center = np.array([float(row[f"center_{a}"]) for a in "xyz"])
            atoms = np.isin(label, row["residues"].split())
            found.append(PocketPoints(center, coords[atoms] if atoms.any() else center[None]))
    return found


def cavity_candidates(finder: object, path: Path, work: Path) -> tuple[list[dict], float, float]:
    """The entry's geometric candidates (all chains together, as ``vabsnet pockets``) with their features under
    the fold model (``finder``: a :class:`vabsnet.pockets.PocketFinder`); returns them (features, centre,
    points), the seconds of the geometry and of the model pass."""
    from vabsnet.pockets import file_candidates

    parts: list = []
    t0 = time.perf_counter()
    finder.run([path], work, lambda job, _p, _r, probs: parts.append((job.protein, probs)),  # type: ignore[attr-defined]
               progress=False)
    model_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cavities, features, _ = file_candidates(parts) if parts else ([], [], None)
    geometry_s = time.perf_counter() - t0
    return ([{"features": f, "center": c.center, "points": c.points} for c, f in zip(cavities, features, strict=True)],
            geometry_s, model_s)


def geometric(method: str, protein: Protein) -> tuple[list[PocketPoints], float]:
    """pyKVFinder or pocketeer on the protein-only PDB; returns the pockets and the seconds taken."""
    with tempfile.TemporaryDirectory(prefix="vabsnet-pockets-") as tmp:
        t0 = time.perf_counter()  # writing the input is part of a tool's cost
        pdb = Path(tmp) / "protein.pdb"
        pdb.write_text(to_pdb(protein))
        pockets = kvfinder_pockets(pdb) if method == "pykvfinder" else pocketeer_pockets(pdb)
        return pockets, time.perf_counter() - t0
