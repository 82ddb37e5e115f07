"""``vabsnet pockets``: ranked binding pockets from a fine-tuned binding-site model.

Default method (``cavities``): each file's buried empty space, all chains together, is found on a 1 A grid
(:func:`vabsnet.cavities.find_cavities`: room for a probe, buriedness by direction coverage, connected sets
of buried points), and the candidates are ranked by the pocket scorer (:mod:`vabsnet.pocket_rank`: a logistic
regression on each candidate's volume, buriedness, apolar lining and the model's atom scores of its lining
atoms, fitted on the pocket benchmark's ligand-bound structures and shipped beside the binding-site model as
``pocket_scorer.json``). Per pocket: ``score`` (the scorer's probability that the candidate holds a ligand),
``probability`` (mean model probability of the lining atoms), centre (the mean of its grid points: inside the
cavity, where a ligand sits) and a docking box holding every point plus ``margin`` on each side, at least
``min_box`` per axis; ``atoms`` and ``residues`` are the lining ones.

Method ``atoms`` (``--method atoms``, or ``--min-probability`` / ``--top-fraction``): every heavy atom gets its
own binding probability (the atom-level logit); atoms at or above the run's decision threshold
(``calibration.json``: max pooled F1 on the valid residues; or ``--min-probability``) are linked when closer
than ``link`` Angstrom (single linkage: a KD-tree finds the pairs, connected components are the clusters; never
a dense distance matrix). A cluster of at least ``min_atoms`` atoms is a pocket, ranked by summed atom
probability (``score``); its centre is the probability-weighted mean of its atoms' solvent-accessible points.

Outputs per chain (P2Rank's ``predictions.csv`` convention, one file per chain):
``DIR/<entry>_<chain>_pockets.csv`` with ``rank, score, probability, center_x/y/z, size_x/y/z, atoms,
residues`` (``A_45`` = chain A residue 45, insertion code appended) and ``DIR/<entry>_<chain>_pockets.pdb``:
the chain with residue probabilities as B-factors plus one ``PKT`` pseudo-residue per pocket (residue number
= rank, chain ``Z``) whose pseudo-atoms sit on the cavity's grid points (method ``atoms``: on the pocket
atoms); PyMOL and ChimeraX open it directly. ``DIR/provenance.json`` names the model and the method. Bad
files are skipped and listed in ``DIR/failures.jsonl``, as ``predict`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from vabsnet.atomic import atomic_write_text
from vabsnet.cavities import Cavity, find_cavities
from vabsnet.constants import MAX_CHAIN_RESIDUES, SASA_PROBE_RADIUS, SASA_RADII
from vabsnet.data.batch import Batch, split_rows
from vabsnet.errors import VabsnetError
from vabsnet.inference import ATOM_BUDGET, ChainJob, FilesSummary, run_files
from vabsnet.pocket_rank import SCORER_FILE, PocketScorer, cavity_features, percentiles
from vabsnet.runtime import load_model, resolve_device
from vabsnet.runtime.shipped import default_model, resolve, write_provenance
from vabsnet.structure.protein import Protein
from vabsnet.structure.targets import vdw_radii
from vabsnet.structure.write import to_pdb

CSV_HEADER = "rank,score,probability,center_x,center_y,center_z,size_x,size_y,size_z,atoms,residues"


@dataclass(frozen=True)
class Pocket:
    rank: int  # 1 = highest score
    score: float  # summed atom probability
    probability: float  # mean atom probability
    center: np.ndarray  # [3] probability-weighted centre of the atoms' solvent-accessible points
    size: np.ndarray  # [3] docking box edge lengths
    atoms: np.ndarray  # [n] indices into the chain's atoms
    residues: np.ndarray  # [m] indices into the chain's residues, sorted
    points: np.ndarray | None = None  # [P, 3] the cavity's grid points (method "cavities"), else None


def _sphere(n: int) -> np.ndarray:
    """``[2n, 3]`` near-uniform unit vectors: a golden spiral on the upper half and its mirror image through
    the origin, so a centrally symmetric set of atoms gets a centrally symmetric set of points."""
    i = np.arange(n) + 0.5
    polar, azimuth = np.arccos(1.0 - i / n), np.pi * (1.0 + 5.0 ** 0.5) * i
    half = np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], 1)
    return np.concatenate([half, -half])


SPHERE = _sphere(32)


def cavity_center(coords: np.ndarray, radii: np.ndarray, atoms: np.ndarray, weights: np.ndarray,
                  probe: float = SASA_PROBE_RADIUS) -> np.ndarray:
    """``[3]``: the weighted mean of the solvent-accessible points of ``atoms`` (points at vdW radius + probe
    around each, kept when no atom of ``coords [A, 3]`` is nearer than its own radius + probe): where a
    ligand sits against those atoms, not inside the protein wall they form. The atoms' weighted mean when
    none of their points is accessible."""
    shell = radii[atoms, None, None] + probe  # [n, 1, 1]
    points = (coords[atoms, None, :] + shell * SPHERE[None]).reshape(-1, 3)  # [n * 64, 3]
    w = np.repeat(weights, len(SPHERE))
    dist, near = cKDTree(coords).query(points, k=min(8, len(coords)))
    dist, near = dist.reshape(len(points), -1), near.reshape(len(points), -1)
    free = (dist >= radii[near] + probe - 1e-6).all(1)
    if not free.any():
        return (weights[:, None] * coords[atoms]).sum(0) / weights.sum()
    return (w[free, None] * points[free]).sum(0) / w[free].sum()


def find_pockets(coords: np.ndarray, probs: np.ndarray, atom_residue: np.ndarray, threshold: float, *,
                 link: float = 3.0, min_atoms: int = 5, margin: float = 4.0, min_box: float = 12.0,
                 elements: np.ndarray | None = None) -> list[Pocket]:
    """Pockets of one chain: ``coords [A, 3]``, ``probs [A]``, ``atom_residue [A]``, ``elements [A]`` (for the
    radii of :func:`cavity_center`; carbon's when absent); see the module text."""
    coords, probs = np.asarray(coords, np.float64), np.asarray(probs, np.float64)
    radii = vdw_radii(elements) if elements is not None else np.full(len(coords), SASA_RADII["C"])
    chosen = np.flatnonzero(probs >= threshold)
    if len(chosen) < max(min_atoms, 1):
        return []
    pairs = cKDTree(coords[chosen]).query_pairs(link, output_type="ndarray")  # [E, 2]
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(chosen), len(chosen)))
    _, label = connected_components(graph, directed=False)
    found = []
    for c in np.unique(label):
        atoms = chosen[label == c]
        if len(atoms) < min_atoms:
            continue
        p, xyz = probs[atoms], coords[atoms]
        center = cavity_center(coords, radii, atoms, p)
        reach = 2 * np.abs(xyz - center).max(0)  # a box on the centre that holds every pocket atom
        found.append((float(p.sum()), float(p.mean()), center, np.maximum(reach + 2 * margin, min_box), atoms,
                      np.unique(atom_residue[atoms])))
    found.sort(key=lambda f: (-f[0], int(f[4][0])))
    return [Pocket(i + 1, *f) for i, f in enumerate(found)]


def file_candidates(parts: Sequence[tuple[Protein, np.ndarray]]) -> tuple[list[Cavity], list[dict], np.ndarray]:
    """Geometric candidates of a whole file (its chains together, so pockets between chains count) with
    their features: ``parts`` = each chain's record and atom probabilities ``[A_c]`` (percentiles are taken per
    chain). Returns the candidates (atom indices into the chains' atoms concatenated), their features, and
    ``[C + 1]`` atom offsets of the chains."""
    coords = np.concatenate([np.asarray(p.coords, np.float64) for p, _ in parts])
    elements = np.concatenate([np.asarray(p.element) for p, _ in parts])
    pct = np.concatenate([percentiles(a) for _, a in parts])
    offsets = np.cumsum([0] + [p.num_atoms for p, _ in parts])
    cavities = find_cavities(coords, vdw_radii(elements))
    return cavities, [cavity_features(c, elements, pct) for c in cavities], offsets


def cavity_pockets(parts: Sequence[tuple[Protein, np.ndarray]], scorer: PocketScorer, *, margin: float = 4.0,
                   min_box: float = 12.0) -> list[list[Pocket]]:
    """Pockets of one file by the default method, per chain: the file's candidates (:func:`file_candidates`)
    ranked by ``scorer``; a pocket is listed in every chain that lines it, with the file-wide rank, its atoms
    and residues restricted to that chain. Per pocket: ``score`` = the scorer's probability that the
    candidate holds a ligand, ``probability`` = mean probability of its lining atoms (all chains), centre =
    the mean of its grid points, a box holding them all plus ``margin``."""
    cavities, features, offsets = file_candidates(parts)
    out: list[list[Pocket]] = [[] for _ in parts]
    if not cavities:
        return out
    probs = np.concatenate([np.asarray(a, np.float64) for _, a in parts])
    logits = scorer.score(features)
    for rank, i in enumerate(np.argsort(-logits, kind="stable"), start=1):
        c = cavities[i]
        size = np.maximum(np.abs(c.points - c.center).max(0) * 2 + 2 * margin, min_box)
        score = float(1.0 / (1.0 + np.exp(-logits[i])))
        mean_p = float(probs[c.lining].mean()) if len(c.lining) else 0.0
        for k, (protein, _) in enumerate(parts):
            atoms = c.lining[(c.lining >= offsets[k]) & (c.lining < offsets[k + 1])] - offsets[k]
            if len(atoms):
                out[k].append(Pocket(rank, score, mean_p, c.center, size, atoms,
                                     np.unique(protein.atom_residue[atoms]), c.points))
    return out


def atom_threshold(probs: np.ndarray, threshold: float, top_fraction: float | None = None) -> float:
    """The probability pocket atoms must reach in one chain: ``threshold``, or with ``top_fraction`` the
    chain's own ``1 - top_fraction`` quantile of atom probabilities (a rank cut, for a model whose
    probabilities are not calibrated to the structure at hand)."""
    if top_fraction is None:
        return float(threshold)
    if not 0.0 < top_fraction <= 1.0:
        raise VabsnetError(f"top fraction must be in (0, 1], got {top_fraction}")
    return float(np.quantile(np.asarray(probs, np.float64), 1.0 - top_fraction)) if len(probs) else float(threshold)


def residue_label(protein: Protein, r: int) -> str:
    """``A_45`` (chain, residue number, insertion code appended), P2Rank's residue naming."""
    return f"{protein.chain_id[r]}_{int(protein.res_id[r])}{str(protein.ins_code[r]).strip()}"


def pockets_csv(protein: Protein, pockets: list[Pocket]) -> str:
    rows = [CSV_HEADER]
    for p in pockets:
        residues = " ".join(residue_label(protein, int(r)) for r in p.residues)
        rows.append(f"{p.rank},{p.score:.4f},{p.probability:.4f},{p.center[0]:.3f},{p.center[1]:.3f},"
                    f"{p.center[2]:.3f},{p.size[0]:.1f},{p.size[1]:.1f},{p.size[2]:.1f},{len(p.atoms)},{residues}")
    return "\n".join(rows) + "\n"


def pockets_pdb(protein: Protein, residue_probs: np.ndarray, pockets: list[Pocket]) -> str:
    """The chain (residue probability as B-factor) and one ``PKT`` pseudo-residue per pocket, chain Z."""
    body = to_pdb(protein, np.asarray(residue_probs)[protein.atom_residue]).splitlines()[:-1]  # drop END
    serial = protein.num_atoms
    for p in pockets:
        sites = protein.coords[p.atoms] if p.points is None else p.points[:: max(1, len(p.points) // 1000)]
        for x, y, z in sites:  # a cavity's grid points (at most about 1000), or the pocket atoms
            serial += 1
            body.append(f"HETATM{serial % 100000:5d}  PK  PKT Z{p.rank % 10000:4d}    {x:8.3f}{y:8.3f}{z:8.3f}"
                        f"{1.0:6.2f}{min(p.score, 999.99):6.2f}           C")
    return "\n".join([*body, "END"]) + "\n"


METHODS = ("cavities", "atoms")


def pocket_method(method: str | None, min_probability: float | None, top_fraction: float | None) -> str:
    """The method a request means: the one named, else ``atoms`` when a threshold or top fraction is given
    (they only apply to it), else ``cavities``."""
    return method or ("atoms" if min_probability is not None or top_fraction is not None else "cavities")


def load_scorer(run: str | Path) -> PocketScorer:
    """The run's ``pocket_scorer.json``, or the shipped binding-site model's (its features are free of any
    model's probability scale, so it ranks any binding-site model's candidates)."""
    for folder in (resolve(run), resolve(default_model("binding-site"))):
        if (folder / SCORER_FILE).is_file():
            return PocketScorer.load(folder / SCORER_FILE)
    raise VabsnetError(f"{run}: no {SCORER_FILE} (and no shipped one); use --method atoms")


class PocketFinder:
    """A fine-tuned binding-site run and how it makes pockets: ``method="cavities"`` (default: geometric
    candidates ranked by the pocket scorer, :func:`cavity_pockets`) or ``"atoms"`` (clusters of the atoms at
    or above a threshold, ``min_probability`` or the calibrated one, or per chain the ``top_fraction`` of
    atoms by probability: :func:`atom_threshold`, :func:`find_pockets`); :meth:`run` finds the pockets of
    every chain of structure files."""

    def __init__(self, run: str | Path, *, min_probability: float | None = None, link: float = 3.0,
                 min_atoms: int = 5, device: str = "auto", precision: str | None = None,
                 top_fraction: float | None = None, method: str = "cavities") -> None:
        if method not in METHODS:
            raise VabsnetError(f"pocket method {method!r}: one of {', '.join(METHODS)}")
        self.device, self.link, self.min_atoms = resolve_device(device), link, min_atoms
        self.top_fraction = top_fraction
        self.scorer = load_scorer(run) if method == "cavities" else None
        self.model, self.config, self.task = load_model(run, device=self.device)
        self.precision: str = precision or self.config.train.precision  # the model's own, unless asked otherwise
        if self.task.name != "binding-site":
            raise VabsnetError(f"{run}: a {self.task.name} model; pockets need a binding-site model")
        calibrated = self.task.threshold  # type: ignore[attr-defined]
        self.threshold = float(calibrated if min_probability is None else min_probability)

    def _compute(self, batch: Batch) -> list:
        logits = self.model.logits(self.task, batch).float()
        atom = split_rows(torch.sigmoid(logits), batch.num_atoms)  # per chain [A_p]
        return list(zip(atom, self.task.scores(logits, batch), strict=True))

    def run(self, inputs: Sequence[str | Path], out: Path,
            write: Callable[[ChainJob, list[Pocket], np.ndarray, np.ndarray], None], *, progress: bool = True,
            atom_budget: int = ATOM_BUDGET, max_chain_residues: int = MAX_CHAIN_RESIDUES,
            lm_features: str | Path | None = None,
                shard: tuple[int, int] | None = None) -> FilesSummary:
        """``write(job, pockets, residue_probs [R], atom_probs [A])`` per chain; bad files go to
        ``out/failures.jsonl``."""

        files: dict[Path, list[tuple[ChainJob, np.ndarray, np.ndarray]]] = {}

        def finish(path: Path) -> None:  # the default method: all of a file's chains together
            done = files.pop(path)
            per_chain = cavity_pockets([(j.protein, a) for j, a, _ in done], self.scorer)  # type: ignore[arg-type]
            for (job, atom_probs, residue_probs), pockets in zip(done, per_chain, strict=True):
                write(job, pockets, residue_probs, atom_probs)

        def found(job: ChainJob, result: object) -> None:
            atom_probs, residue_probs = cast(tuple[np.ndarray, np.ndarray], result)
            p = job.protein
            if self.scorer is not None:
                files.setdefault(job.path, []).append((job, atom_probs, residue_probs))
                if len(files[job.path]) == job.siblings:
                    finish(job.path)
                return
            cut = atom_threshold(atom_probs, self.threshold, self.top_fraction)
            write(job, find_pockets(p.coords, atom_probs, p.atom_residue, cut, link=self.link,
                                    min_atoms=self.min_atoms, elements=p.element), residue_probs, atom_probs)

        with torch.no_grad():
            summary = run_files(inputs, out, self.config.encoder, self.model, self._compute, found,
                                precision=self.precision, atom_budget=atom_budget,
                                max_chain_residues=max_chain_residues, progress=progress, desc="pockets",
                                lm_features=lm_features, shard=shard)
        for path in list(files):  # files one of whose chains failed: the chains that did run
            finish(path)
        return summary


def pocket_files(run: str | Path | None, inputs: Sequence[str | Path], out: str | Path, *,
                 min_probability: float | None = None, link: float = 3.0, min_atoms: int = 5,
                 top_fraction: float | None = None, progress: bool = True, device: str = "auto",
                 precision: str | None = None, atom_budget: int = ATOM_BUDGET,
                 max_chain_residues: int = MAX_CHAIN_RESIDUES,
                 lm_features: str | Path | None = None, shard: tuple[int, int] | None = None,
                 method: str | None = None) -> tuple[FilesSummary, float]:
    """Write the pocket files of every chain and ``out/provenance.json``; returns the summary and the threshold
    used (method ``atoms``). ``run``: a binding-site run directory or a shipped model's name (None: the shipped
    one). ``method``: ``cavities`` (default) or ``atoms`` (the default when a threshold or top fraction is
    given)."""
    run = run if run is not None else default_model("binding-site")
    method = pocket_method(method, min_probability, top_fraction)
    finder = PocketFinder(run, min_probability=min_probability, link=link, min_atoms=min_atoms, device=device,
                          precision=precision, top_fraction=top_fraction, method=method)
    out = Path(out)

    def write(job: ChainJob, pockets: list[Pocket], residue_probs: np.ndarray, _: np.ndarray) -> None:
        atomic_write_text(out / f"{job.stem}_pockets.csv", pockets_csv(job.protein, pockets))
        atomic_write_text(out / f"{job.stem}_pockets.pdb", pockets_pdb(job.protein, residue_probs, pockets))

    summary = finder.run(inputs, out, write, progress=progress, atom_budget=atom_budget,
                         max_chain_residues=max_chain_residues, lm_features=lm_features, shard=shard)
    write_provenance(out, run, {"pocket_method": method})
    return summary, finder.threshold


__all__ = ["CSV_HEADER", "Pocket", "PocketFinder", "atom_threshold", "cavity_center", "find_pockets", "pocket_files",
           "pockets_csv", "pockets_pdb"]
