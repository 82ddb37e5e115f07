"""Redocking with AutoDock Vina in four kinds of box, for one structure and its crystal ligand.

The ligand: the largest benchmark ligand of the entry that the Chemical Component Dictionary types (bond
orders and charges; :func:`vabsnet.dock.crystal_ligand`), at most ``MAX_LIGAND_ATOMS`` heavy atoms. Vina
never sees the crystal pose: the input is a new ETKDG + MMFF conformer from its SMILES (seed 0). The
receptor: the entry's protein heavy atoms through meeko (residues its templates cannot type, mostly side
chains truncated in the deposit, are left out and counted).

Boxes: ``crystal`` (the crystal ligand plus 5 A a side, at least 12 A: the upper bound), ``pocket1..3`` (the
boxes of vabsnet's three best pockets from the fold model that held the structure out), ``blind`` (the
whole protein plus 5 A a side), and for comparison ``pocketeer1`` (the box of pocketeer's best pocket: its
alpha-sphere centres plus 4 A a side, at least 12 A, sized as vabsnet's). Each box: exhaustiveness 8, 9
poses, seed 0. Success: the heavy-atom RMSD of the top-scored pose to the crystal pose, symmetry-aware and in
place (RDKit ``CalcRMS``), below 2 A. For ``top3`` the top pose is the best-scored over the three pocket
boxes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from vabsnet.atomic import atomic_write_json, atomic_write_text
from vabsnet.bench.pockets import benchmark_ligands
from vabsnet.bench.redock import crystal_ligand, fresh_conformer, pose_rmsd
from vabsnet.dock import Box, DockError, box_around, dock_box, ligand_pdbqt, pose_molecules, receptor_pdbqt
from vabsnet.structure.protein import Protein

MAX_LIGAND_ATOMS = 40  # larger cofactors (NADP: 48, 390 s a box on one core) are left out for time
MAX_RESIDUES = 1100  # larger entries (up to a ribosome) are left out of redocking: blind boxes over 100 A
EXHAUSTIVENESS, POSES, SUCCESS_RMSD = 8, 9, 2.0


def choose_ligand(protein: Protein) -> tuple[object, object, str] | str:
    """``(ligand, RDKit reference, Vina input PDBQT)`` of the entry, or why there is none."""
    reasons = []
    for lig in sorted(benchmark_ligands(protein), key=lambda x: -x.num_atoms):
        if lig.num_atoms > MAX_LIGAND_ATOMS:
            reasons.append(f"{lig.name}: {lig.num_atoms} heavy atoms")
            continue
        try:
            ref = crystal_ligand(lig)
            return lig, ref, ligand_pdbqt(fresh_conformer(ref, seed=0))
        except DockError as exc:
            reasons.append(f"{lig.name}: {exc}")
    return "; ".join(dict.fromkeys(reasons)) or "no benchmark ligand"


def redock_entry(protein: Protein, pockets: list[dict] | None, work: Path, cpu: int = 2,
                 extra: list[Box] = (), blind: bool = True) -> dict:
    """Dock the entry's ligand in every box not already in ``work/result.json``; returns that result.
    ``pockets``: vabsnet's ranked pockets (``rank``, ``score``, ``center``, ``size``), None when not known yet
    (then only the crystal and blind boxes run)."""
    import json

    path = work / "result.json"
    result = json.loads(path.read_text()) if path.exists() else {"boxes": {}}
    if protein.num_residues > MAX_RESIDUES:
        return {**result, "skipped": f"{protein.num_residues} residues > {MAX_RESIDUES}"}
    chosen = choose_ligand(protein)
    if isinstance(chosen, str):
        return {**result, "skipped": chosen}
    lig, ref, ligand = chosen
    work.mkdir(parents=True, exist_ok=True)
    boxes = [box_around(lig.coords, "crystal")]
    boxes += [Box(f"pocket{p['rank']}", np.asarray(p["center"]), np.asarray(p["size"]), p["rank"], p["score"])
              for p in (pockets or [])[:3]]
    if pockets is not None:
        result["pockets"] = len(pockets)
    boxes += [*extra, *([box_around(protein.coords, "blind")] if blind else [])]
    todo = [b for b in boxes if b.name not in result["boxes"]]
    if todo:
        rec, ignored = receptor_pdbqt(protein)
        atomic_write_text(work / "receptor.pdbqt", rec)
        result.update(ligand=f"{lig.name} {lig.chain_id}{lig.res_id}", heavy_atoms=lig.num_atoms,
                      receptor_residues_ignored=ignored)
    for box in todo:
        t0 = time.perf_counter()
        text, scores = dock_box(work / "receptor.pdbqt", ligand, box, exhaustiveness=EXHAUSTIVENESS, poses=POSES,
                                seed=0, cpu=cpu)
        seconds = time.perf_counter() - t0
        rmsd = [pose_rmsd(m, ref) for m in pose_molecules(text)]
        result["boxes"][box.name] = {"seconds": round(seconds, 1), "scores": [round(float(s), 3) for s in scores],
                                     "rmsd": [round(r, 3) for r in rmsd],
                                     "size": [round(float(x), 1) for x in box.size]}
        atomic_write_json(path, result, indent=1)
    atomic_write_json(path, result, indent=1)  # also when no box was left to run (e.g. the pocket count)
    return result


def setting_outcome(result: dict, setting: str) -> tuple[bool, bool, float] | None:
    """``(top pose < 2 A, any pose < 2 A, Vina seconds)`` of one setting, None when it was not run."""
    boxes = result.get("boxes", {})
    names = {"crystal": ["crystal"], "top1": ["pocket1"], "top3": ["pocket1", "pocket2", "pocket3"],
             "pocketeer-top1": ["pocketeer1"], "blind": ["blind"], "cavities-top1": ["cavity1"]}[setting]
    runs = [boxes[n] for n in names if n in boxes]
    if setting in ("top1", "top3") and result.get("pockets") == 0:
        return False, False, 0.0  # vabsnet found no pocket: no box to dock in
    if not runs:
        return None
    best = min(runs, key=lambda r: r["scores"][0])
    return (best["rmsd"][0] < SUCCESS_RMSD, any(r < SUCCESS_RMSD for run in runs for r in run["rmsd"]),
            sum(r["seconds"] for r in runs))
