"""``vabsnet dock`` with real AutoDock Vina runs (small exhaustiveness) on a bundled real complex: trypsin
1GBT with its ligand GBS (4-guanidinobenzoate, 12 heavy atoms) in the S1 pocket. The model-driven boxes are
tested with the fine-tuned run in ``tests/tasks/test_binding_site.py``."""

from __future__ import annotations

import numpy as np
import pytest

from vabsnet.cli import main
from vabsnet.corpus import entry
from vabsnet.dock import DockError, box_around, ligand_molecule
from vabsnet.structure import load_structure

BENZAMIDINE = "NC(=N)c1ccccc1"  # the classic S1-pocket trypsin inhibitor


@pytest.fixture(scope="module")
def trypsin():
    protein = load_structure(entry("1gbt").path)
    ligand = next(lig for lig in protein.ligands if lig.name == "GBS")
    return entry("1gbt").path, protein, ligand


def test_dock_in_the_crystal_ligand_box(trypsin, tmp_path, capsys):
    path, protein, ligand = trypsin
    box = box_around(ligand.coords, "crystal", margin=4.0)
    spec = ",".join(f"{v:.3f}" for v in (*box.center, *box.size))
    assert main(["dock", str(path), "--smiles", BENZAMIDINE, "--box", spec, "--out", str(tmp_path),
                 "--exhaustiveness", "2", "--poses", "3", "--cpu", "1"]) == 0
    assert "receptor residues without a template: 0" in capsys.readouterr().out
    rows = [r.split(",") for r in (tmp_path / "summary.csv").read_text().splitlines()[1:]]
    scores = [float(r[10]) for r in rows]
    assert rows and scores == sorted(scores) and scores[0] < -4.0  # benzamidine-trypsin: about -5 to -6
    from rdkit import Chem

    poses = [m for m in Chem.SDMolSupplier(str(tmp_path / "poses.sdf"))]
    assert len(poses) == len(rows) and poses[0].GetProp("vina_score") == rows[0][10]
    heavy = poses[0].GetConformer().GetPositions()[[a.GetAtomicNum() > 1 for a in poses[0].GetAtoms()]]
    assert heavy.shape == (9, 3)  # benzamidine's heavy atoms
    assert (np.abs(heavy - box.center) <= box.size / 2 + 1e-3).all()  # inside the box
    # the pose sits in the S1 pocket the crystal ligand occupies
    assert np.linalg.norm(heavy.mean(0) - ligand.coords.mean(0)) < 4.0
    assert (tmp_path / "receptor.pdbqt").read_text().count("ATOM") > protein.num_atoms  # hydrogens added


def test_bad_ligands_and_no_box_are_clear_errors(trypsin, tmp_path, capsys):
    path, _, _ = trypsin
    with pytest.raises(DockError, match="cannot parse"):
        ligand_molecule(smiles="not a smiles(")
    bad = tmp_path / "bad.sdf"
    bad.write_text("nothing here\n")
    with pytest.raises(DockError, match="no readable molecule"):
        ligand_molecule(sdf=bad)
    assert main(["dock", str(path), "--smiles", BENZAMIDINE, "--out", str(tmp_path / "x")]) != 0
    assert "no box" in capsys.readouterr().err
