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
                 "--exhaustiveness", "2", "--poses", "3", "--cpu", "1", "--top-k", "0"]) == 0
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
    assert main(["dock", str(path), "--smiles", BENZAMIDINE, "--out", str(tmp_path / "x"), "--top-k", "0"]) != 0
    assert "no box" in capsys.readouterr().err


def _ligand(entry_id: str, name: str):
    return next(lig for lig in load_structure(entry(entry_id).path).ligands if lig.name == name)


def test_crystal_ligand_by_name_keeps_the_crystal_pose_and_ccd_bond_orders():
    from rdkit import Chem

    from vabsnet.bench.redock import crystal_ligand, pose_rmsd

    ligand = _ligand("6WQA", "ZMA")  # ZM241385 in the adenosine A2A receptor; atom names match the CCD
    mol = crystal_ligand(ligand)
    assert Chem.MolToSmiles(mol) == "Nc1nc(NCCc2ccc(O)cc2)nc2nc(-c3ccco3)nn12"  # ZMA's CCD chemistry
    names = list(ligand.atom_names)
    import biotite.structure.info as info

    template = info.residue("ZMA")
    order = [names.index(n) for n in template.atom_name[template.element != "H"]]
    np.testing.assert_allclose(mol.GetConformer().GetPositions(), ligand.coords[order], atol=1e-3)
    assert pose_rmsd(mol, mol) == 0.0
    moved = Chem.Mol(mol)
    conf = moved.GetConformer()
    for i in range(moved.GetNumAtoms()):
        p = conf.GetAtomPosition(i)
        conf.SetAtomPosition(i, (p.x + 1.5, p.y, p.z))
    assert pose_rmsd(moved, mol) == pytest.approx(1.5, abs=1e-6)  # in place: no superposition


def test_crystal_ligand_by_graph_when_names_differ_and_rmsd_is_symmetry_aware():
    from rdkit import Chem

    from vabsnet.bench.redock import crystal_ligand, pose_rmsd

    ligand = _ligand("1hvr", "XK2")  # old file: one oxygen is "O" where the CCD says "O1"
    assert "O1" not in set(ligand.atom_names)
    mol = crystal_ligand(ligand)
    assert mol.GetNumAtoms() == ligand.num_atoms == 46
    assert all(a.GetNumRadicalElectrons() == 0 for a in mol.GetAtoms())
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    assert smiles == "O=C1N(Cc2ccc3ccccc3c2)C(Cc2ccccc2)C(O)C(O)C(Cc2ccccc2)N1Cc1ccc2ccccc2c1"
    np.testing.assert_allclose(mol.GetConformer().GetPositions(), ligand.coords, atol=1e-3)  # file order kept
    # XK2 is C2-symmetric: moving every atom onto its symmetry mate is the same pose
    xyz = mol.GetConformer().GetPositions()
    naive = {m: float(np.sqrt(((xyz[list(m)] - xyz) ** 2).sum(1).mean()))
             for m in mol.GetSubstructMatches(mol, uniquify=False, useChirality=True, maxMatches=10000)}
    mate = max(naive, key=naive.get)  # the automorphism that moves atoms furthest: the C2 swap
    swapped = Chem.Mol(mol)
    for i, j in enumerate(mate):
        swapped.GetConformer().SetAtomPosition(i, xyz[j].tolist())
    assert naive[mate] > 3.0
    assert pose_rmsd(swapped, mol) == pytest.approx(0.0, abs=0.05)


def test_crystal_ligand_errors_name_the_ligand():
    from vabsnet.bench.redock import crystal_ligand

    gbs = _ligand("1gbt", "GBS")  # covalent acyl-enzyme: the crystal group is the CCD component minus atoms
    with pytest.raises(DockError, match="GBS A"):
        crystal_ligand(gbs)


def test_dock_without_a_run_uses_the_shipped_pocket_model(trypsin, tmp_path):
    import json

    from vabsnet.runtime.shipped import default_model

    path, _, _ = trypsin
    assert main(["dock", str(path), "--smiles", BENZAMIDINE, "--out", str(tmp_path), "--top-k", "1",
                 "--exhaustiveness", "1", "--poses", "1", "--cpu", "1", "--device", "cpu"]) == 0
    rows = [r.split(",") for r in (tmp_path / "summary.csv").read_text().splitlines()[1:]]
    assert [r[0] for r in rows] == ["pocket1"]
    assert json.loads((tmp_path / "provenance.json").read_text())["model"] == default_model("binding-site")
