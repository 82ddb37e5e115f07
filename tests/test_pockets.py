"""Pocket clustering on hand-checkable geometry (``vabsnet.pockets``); the command end to end is tested with
the fine-tuned run in ``tests/tasks/test_binding_site.py``."""

from __future__ import annotations

import numpy as np
import pytest

from vabsnet.corpus import entry
from vabsnet.pockets import CSV_HEADER, find_pockets, pockets_csv
from vabsnet.structure import load_structure


def line(start: float, n: int, step: float) -> np.ndarray:
    return np.stack([start + step * np.arange(n), np.zeros(n), np.zeros(n)], 1)


def test_single_linkage_ranking_and_boxes():
    a = line(0.0, 6, 1.5)  # 6 atoms, p 0.9: score 5.4
    b = line(50.0, 5, 2.9)  # 5 atoms 2.9 A apart: one chain by single linkage though its ends are 11.6 A apart
    lone = np.array([[100.0, 0, 0]])  # one confident atom: below min_atoms
    bridge = np.array([[25.0, 0, 0]])  # low probability: never joins anything
    coords = np.concatenate([a, b, lone, bridge])
    probs = np.r_[np.full(6, 0.9), np.full(5, 0.6), 0.95, 0.1]
    residue = np.arange(len(coords)) // 2
    found = find_pockets(coords, probs, residue, 0.5, link=3.0, min_atoms=5, margin=4.0, min_box=12.0)
    assert [p.rank for p in found] == [1, 2]
    assert found[0].score == pytest.approx(5.4) and found[1].score == pytest.approx(3.0)
    assert found[0].atoms.tolist() == list(range(6)) and found[1].atoms.tolist() == list(range(6, 11))
    assert found[0].center == pytest.approx([3.75, 0, 0])
    assert found[1].center == pytest.approx([55.8, 0, 0])
    assert found[0].size == pytest.approx([7.5 + 8.0, 12.0, 12.0])  # extent + 2 margins; min 12 per axis
    assert found[0].residues.tolist() == [0, 1, 2]
    assert found[1].probability == pytest.approx(0.6)
    # a shorter link cuts b's chain into pieces smaller than min_atoms
    assert [len(p.atoms) for p in find_pockets(coords, probs, residue, 0.5, link=2.5)] == [6]
    assert find_pockets(coords, probs, residue, 0.99) == []


def test_pocket_centre_sits_in_the_cavity_not_in_the_wall():
    from vabsnet.pockets import cavity_center

    g = np.arange(-15.0, 15.1, 3.0)
    block = np.stack(np.meshgrid(g, g, np.arange(-15.0, 0.1, 3.0), indexing="ij"), -1).reshape(-1, 3)
    r = np.linalg.norm(block, axis=1)
    coords = block[r > 7.0]  # a slab of atoms 3 A apart with a hemispherical pit of radius 7 A at the origin
    lining = np.flatnonzero(np.linalg.norm(coords, axis=1) <= 10.0)
    probs = np.zeros(len(coords))
    probs[lining] = 0.9
    (pocket,) = find_pockets(coords, probs, np.arange(len(coords)), 0.5, link=3.5)
    assert sorted(pocket.atoms.tolist()) == lining.tolist()
    wall = coords[lining].mean(0)  # the lining atoms' own mean: 3.8 A below the pit's centre, in its wall
    assert wall == pytest.approx([0, 0, -3.8308], abs=1e-3)
    assert np.linalg.norm(pocket.center) < 0.5  # the accessible points' centre: where a ligand would sit
    radii = np.full(len(coords), 1.7)
    assert cavity_center(coords, radii, lining, probs[lining]) == pytest.approx(pocket.center)
    # the box is centred there and still holds every lining atom plus the margin
    assert (np.abs(coords[lining] - pocket.center) <= pocket.size / 2 - 4.0 + 1e-9).all()
    # atoms with no accessible point (inside a closed shell of others) fall back to their own mean
    shell = 3.0 * np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1.0]])
    buried = np.concatenate([np.zeros((1, 3)), shell, 2 * shell])
    assert cavity_center(buried, np.full(13, 1.7), np.array([0]), np.array([1.0])) == pytest.approx([0, 0, 0])


def test_csv_names_residues_like_p2rank():
    protein = load_structure(entry("1AFS").path).select_chain("A")
    atoms = np.flatnonzero(protein.atom_residue < 3)
    probs = np.zeros(protein.num_atoms)
    probs[atoms] = 0.8
    found = find_pockets(protein.coords, probs, protein.atom_residue, 0.5, link=4.0)
    text = pockets_csv(protein, found).splitlines()
    assert text[0] == CSV_HEADER and len(text) == 2
    fields = text[1].split(",")
    first = [f"{protein.chain_id[r]}_{int(protein.res_id[r])}" for r in range(3)]
    assert fields[0] == "1" and int(fields[9]) == len(atoms) and fields[10].split(" ") == first


def test_atom_threshold_calibrated_or_top_fraction():
    from vabsnet.errors import VabsnetError
    from vabsnet.pockets import atom_threshold

    probs = np.arange(1, 101) / 1000.0  # 0.001 .. 0.100
    assert atom_threshold(probs, 0.3) == 0.3  # calibrated: nothing passes, whatever the chain
    cut = atom_threshold(probs, 0.3, top_fraction=0.05)
    assert (probs >= cut).sum() == 5  # the 0.95 quantile (0.09505) lies between the 95th and 96th values
    assert cut == pytest.approx(np.quantile(probs, 0.95))
    assert (probs >= atom_threshold(probs, 0.3, top_fraction=1.0)).all()
    with pytest.raises(VabsnetError, match="top fraction"):
        atom_threshold(probs, 0.3, top_fraction=0.0)
