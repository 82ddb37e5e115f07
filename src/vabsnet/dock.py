"""``vabsnet dock``: AutoDock Vina in the boxes of the top-k predicted pockets.

Preparation uses maintained libraries, never hand-written PDBQT: the receptor (the file's protein chains,
heavy atoms, no ligands or waters) goes through meeko's ``Polymer`` with its residue templates (hydrogens
and charges from the templates; residues that match no template are left out and counted); the ligand is
an SDF (hydrogens added with coordinates) or a SMILES string embedded with RDKit's ETKDG and relaxed with
MMFF (seeded), then ``meeko.MoleculePreparation``. Vina (the ``vina`` package, Vina scoring function) docks
in each box; poses come back through meeko as RDKit molecules.

Boxes: the top-k pockets of a fine-tuned binding-site run (:class:`vabsnet.pockets.PocketFinder`, ranked
over every chain of the receptor), or ``box`` (a centre and edge lengths given by hand), or ``blind`` (the
whole protein plus 5 A a side). Outputs in ``DIR``: ``poses.sdf`` (every pose, with ``vina_score`` in
kcal/mol, ``box`` and ``pose``), ``summary.csv`` (one row per pose: box, pocket rank and score, centre, size,
pose, Vina score, seconds for the box), ``receptor.pdbqt`` and ``ligand.pdbqt``. Needs the ``dock`` extra.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vabsnet.atomic import atomic_write_text
from vabsnet.errors import VabsnetError
from vabsnet.runtime.shipped import default_model, write_provenance
from vabsnet.structure import load_structure
from vabsnet.structure.protein import Protein
from vabsnet.structure.write import to_pdb


class DockError(VabsnetError):
    """A receptor or ligand that cannot be prepared, or docking dependencies that are missing."""


@dataclass(frozen=True)
class Box:
    name: str  # "pocket1", "box", "blind", "crystal"
    center: np.ndarray  # [3] Angstrom
    size: np.ndarray  # [3] edge lengths
    pocket_rank: int = 0  # 0: not a predicted pocket
    pocket_score: float = float("nan")


@dataclass(frozen=True)
class DockedPose:
    """One Vina pose: the box it was docked in, its rank there and its score (kcal/mol)."""

    box: Box
    pose: int
    vina_score: float
    seconds: float  # Vina's time for the whole box

    CSV_HEADER = "box,pocket_rank,pocket_score,center_x,center_y,center_z,size_x,size_y,size_z,pose,vina_score,seconds"

    def csv_row(self) -> str:
        b, c, s = self.box, self.box.center, self.box.size
        return (f"{b.name},{b.pocket_rank},{b.pocket_score:.4f},{c[0]:.3f},{c[1]:.3f},{c[2]:.3f},"
                f"{s[0]:.1f},{s[1]:.1f},{s[2]:.1f},{self.pose},{self.vina_score:.3f},{self.seconds:.1f}")


@dataclass(frozen=True)
class DockResult:
    """What :func:`dock` wrote: every pose (``poses.sdf``, ``summary.csv``), the boxes docked in, and the
    receptor residues meeko had no template for (left out of ``receptor.pdbqt``)."""

    boxes: list[Box]
    poses: list[DockedPose]
    receptor_residues_ignored: int

    @property
    def best_score(self) -> float:
        return min((p.vina_score for p in self.poses), default=float("nan"))


def _need() -> tuple:
    try:
        import meeko
        from rdkit import Chem
        from vina import Vina
    except ImportError as exc:
        raise DockError(f"docking needs the dock extra: pip install 'vabsnet[dock]' ({exc})") from None
    return meeko, Chem, Vina


def box_around(coords: np.ndarray, name: str, margin: float = 5.0, min_size: float = 12.0) -> Box:
    """A box on the extent of ``coords [N, 3]`` plus ``margin`` a side, at least ``min_size`` per axis."""
    lo, hi = coords.min(0), coords.max(0)
    return Box(name, (lo + hi) / 2, np.maximum(hi - lo + 2 * margin, min_size))


def receptor_pdbqt(protein: Protein) -> tuple[str, int]:
    """PDBQT text of the protein chains and how many residues meeko's templates could not type."""
    meeko, _, _ = _need()
    templates = meeko.ResidueChemTemplates.create_from_defaults()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # per-residue
            polymer = meeko.Polymer.from_pdb_string(to_pdb(protein), templates, meeko.MoleculePreparation(),
                                                    allow_bad_res=True)  # template reports; counted below
        rigid, _ = meeko.PDBQTWriterLegacy.write_from_polymer(polymer)
    except Exception as exc:
        raise DockError(f"receptor {protein.name}: meeko could not prepare it ({type(exc).__name__}: {exc})") from None
    return rigid, len(polymer.get_ignored_monomers())


def ligand_molecule(sdf: str | Path | None = None, smiles: str | None = None, seed: int = 0) -> object:
    """An RDKit molecule with hydrogens and 3D coordinates, from an SDF (first record) or a SMILES string."""
    _, Chem, _ = _need()
    from rdkit.Chem import AllChem

    if sdf is not None:
        mols = list(Chem.SDMolSupplier(str(sdf), removeHs=False)) if Path(sdf).is_file() else []
        if not mols or mols[0] is None:
            raise DockError(f"{sdf}: no readable molecule (an SDF file is expected)")
        return Chem.AddHs(mols[0], addCoords=True)
    mol = Chem.MolFromSmiles(smiles or "")
    if mol is None:
        raise DockError(f"SMILES {smiles!r}: RDKit cannot parse it")
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()  # type: ignore[attr-defined]
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:  # type: ignore[attr-defined]
        raise DockError(f"SMILES {smiles!r}: no 3D conformer could be embedded")
    AllChem.MMFFOptimizeMolecule(mol)  # type: ignore[attr-defined]
    return mol


def ligand_pdbqt(mol: object) -> str:
    meeko, _, _ = _need()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # meeko prints charge failures, then raises
            setups = meeko.MoleculePreparation().prepare(mol)
        text, ok, error = meeko.PDBQTWriterLegacy.write_string(setups[0])
    except Exception as exc:  # meeko raises many types (e.g. on metals it has no charges for)
        raise DockError(f"ligand: meeko could not prepare it ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not ok:
        raise DockError(f"ligand: meeko could not write PDBQT ({error})")
    return text


def dock_box(receptor_file: Path, ligand: str, box: Box, *, exhaustiveness: int = 8, poses: int = 9,
             seed: int = 0, cpu: int = 0) -> tuple[str, np.ndarray]:
    """Vina in one box: the poses (PDBQT text) and their scores ``[P]`` (kcal/mol, best first)."""
    _, _, Vina = _need()
    v = Vina(sf_name="vina", cpu=cpu, seed=seed, verbosity=0)
    v.set_receptor(rigid_pdbqt_filename=str(receptor_file))
    v.set_ligand_from_string(ligand)
    v.compute_vina_maps(center=[float(x) for x in box.center], box_size=[float(x) for x in box.size])
    v.dock(exhaustiveness=exhaustiveness, n_poses=poses)
    return v.poses(n_poses=poses), np.asarray(v.energies(n_poses=poses))[:, 0]


def pose_molecules(poses: str) -> list:
    """RDKit molecules (one per pose, hydrogens as meeko wrote them) from Vina's output."""
    meeko, Chem, _ = _need()
    mol = meeko.RDKitMolCreate.from_pdbqt_mol(meeko.PDBQTMolecule(poses, skip_typing=True))[0]
    return [Chem.Mol(mol, confId=c.GetId()) for c in mol.GetConformers()]


def predicted_boxes(run: str | Path, receptor: str | Path, out: Path, top_k: int, device: str = "auto",
                    min_probability: float | None = None) -> list[Box]:
    """Boxes of the ``top_k`` highest-scoring pockets over every chain of ``receptor`` (the default pocket
    method; with ``min_probability``, the atom clusters at that threshold)."""
    from vabsnet.pockets import PocketFinder, pocket_method

    method = pocket_method(None, min_probability, None)
    finder = PocketFinder(run, device=device, min_probability=min_probability, method=method)
    found: list = []
    summary = finder.run([receptor], out, lambda job, pockets, *_: found.extend(pockets), progress=False)
    if summary.chains == 0:
        raise DockError(f"{receptor}: no chain could be scored (see {out}/failures.jsonl)")
    if method == "cavities":  # a pocket between chains is listed by each chain it lines: keep it once
        found = list({p.rank: p for p in found}.values())
    found.sort(key=lambda p: -p.score)
    return [Box(f"pocket{i + 1}", p.center, p.size, i + 1, p.score) for i, p in enumerate(found[:top_k])]


def dock(receptor: str | Path, out: str | Path, *, sdf: str | Path | None = None, smiles: str | None = None,
         run: str | Path | None = None, top_k: int = 3, boxes: list[Box] | None = None, blind: bool = False,
         exhaustiveness: int = 8, poses: int = 9, seed: int = 0, cpu: int = 0, device: str = "auto",
         min_probability: float | None = None) -> DockResult:
    """Dock one ligand into ``receptor``'s boxes (the top-k predicted pockets of ``run``, a binding-site run
    directory or shipped model's name, None: the shipped binding-site model; ``boxes``; and/or the blind box;
    ``top_k=0``: no predicted pockets); writes ``poses.sdf`` and ``summary.csv`` (one row per pose) into
    ``out``, and ``provenance.json`` when a model chose boxes."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    protein = load_structure(receptor)
    chosen = list(boxes or [])
    if top_k > 0:
        run = run if run is not None else default_model("binding-site")
        chosen += predicted_boxes(run, receptor, out, top_k, device, min_probability)
        write_provenance(out, run)
    if blind:
        chosen.append(box_around(protein.coords, "blind"))
    if not chosen:
        raise DockError("no box: --top-k > 0 (a binding-site model's pockets), --box or --blind (or the model "
                        "found no pocket at its threshold)")
    rec_text, ignored = receptor_pdbqt(protein)
    atomic_write_text(out / "receptor.pdbqt", rec_text)
    lig = ligand_pdbqt(ligand_molecule(sdf, smiles, seed))
    atomic_write_text(out / "ligand.pdbqt", lig)
    _, Chem, _ = _need()
    docked: list[DockedPose] = []
    tmp = out / ".poses.sdf.part"
    writer = Chem.SDWriter(str(tmp))
    for box in chosen:
        t0 = time.perf_counter()
        text, scores = dock_box(out / "receptor.pdbqt", lig, box, exhaustiveness=exhaustiveness, poses=poses,
                                seed=seed, cpu=cpu)
        seconds = time.perf_counter() - t0
        for k, (mol, score) in enumerate(zip(pose_molecules(text), scores, strict=False), start=1):
            mol.SetProp("_Name", f"{box.name} pose {k}")
            for key, value in (("box", box.name), ("pocket_rank", str(box.pocket_rank)), ("pose", str(k)),
                               ("vina_score", f"{score:.3f}")):
                mol.SetProp(key, value)
            writer.write(mol)
            docked.append(DockedPose(box, k, float(score), seconds))
    writer.close()
    tmp.replace(out / "poses.sdf")
    atomic_write_text(out / "summary.csv", "\n".join([DockedPose.CSV_HEADER] + [d.csv_row() for d in docked]) + "\n")
    return DockResult(chosen, docked, ignored)


__all__ = ["Box", "DockError", "DockResult", "DockedPose", "box_around", "dock", "dock_box", "ligand_molecule",
           "ligand_pdbqt", "pose_molecules", "predicted_boxes", "receptor_pdbqt"]
