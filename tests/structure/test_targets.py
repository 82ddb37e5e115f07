from __future__ import annotations

import dataclasses

import numpy as np

from vabsnet.structure import load_structure
from vabsnet.structure.geometry import backbone_frames, dihedral
from vabsnet.structure.targets import atom_sasa, chain_links, torsion_angles


def test_dihedral_hand_computed():
    p0, p1, p2 = np.array([1.0, 0, 0]), np.zeros(3), np.array([0.0, 1, 0])
    for deg in (-150, -90, -30, 0, 45, 120, 180):
        r = np.radians(deg)
        p3 = np.array([np.cos(r), 1.0, np.sin(r)])  # rotate about the y axis (p1 -> p2)
        got = float(np.degrees(dihedral(p0, p1, p2, p3)))
        assert abs((got + deg + 180) % 360 - 180) < 1e-6  # got == -deg, modulo 360


def test_backbone_torsions_on_real_protein(corpus_path):
    p = load_structure(corpus_path("1AFS"), chains=["A"])
    t = torsion_angles(p)
    assert t.angles.shape == (319, 7) and t.sin_cos.shape == (319, 7, 2)
    omega = np.degrees(t.angles[t.mask[:, 0], 0])
    assert np.mean(np.abs(omega) > 150) > 0.97  # trans peptide bonds
    phi = np.degrees(t.angles[t.mask[:, 1], 1])
    assert np.mean(phi < 0) > 0.85  # most residues sit left in the Ramachandran plot
    assert not t.mask[0, :2].any() and not t.mask[-1, 2]
    np.testing.assert_allclose(np.linalg.norm(t.sin_cos[t.mask], axis=-1), 1.0, atol=1e-5)
    # chi counts follow the residue types
    assert not t.mask[p.sequence.index("G"), 3]
    assert t.mask[[i for i, a in enumerate(p.sequence) if a == "K"], 3:].all()


def test_torsions_invariant_to_rigid_motion(corpus_path):
    p = load_structure(corpus_path("1AFS"), chains=["A"])
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    moved = dataclasses.replace(p, coords=p.coords @ q.T + np.array([10.0, -5.0, 3.0]))
    np.testing.assert_allclose(torsion_angles(moved).sin_cos, torsion_angles(p).sin_cos, atol=1e-4)


def test_chain_breaks_are_not_linked(corpus_path):
    p = load_structure(corpus_path("1AFS"))
    links = chain_links(p)
    first_b = np.flatnonzero(p.chain_id == "B")[0]
    assert not links[first_b] and not links[0]


def test_sasa_of_isolated_atom_matches_sphere(corpus_path):
    p = load_structure(corpus_path("1AFS"), chains=["A"]).take_residues(np.array([0]))
    # spread the atoms of one residue far apart: each is an isolated sphere of radius r + 1.4
    far = dataclasses.replace(p, coords=p.coords + 100.0 * np.arange(p.num_atoms)[:, None])
    radii = {"N": 1.6, "C": 1.7, "O": 1.4, "S": 1.8}
    expected = [4 * np.pi * (radii[e] + 1.4) ** 2 for e in far.element]
    np.testing.assert_allclose(atom_sasa(far, points=2000), expected, rtol=0.01)


def test_sasa_buried_atoms_are_less_exposed(corpus_path):
    p = load_structure(corpus_path("1AFS"), chains=["A"])
    sasa = atom_sasa(p)
    assert sasa.shape == (p.num_atoms,) and (sasa >= 0).all()
    centre = p.coords.mean(0)
    depth = np.linalg.norm(p.coords - centre, axis=1)
    core, surface = depth < np.percentile(depth, 20), depth > np.percentile(depth, 80)
    assert sasa[core].mean() < 0.3 * sasa[surface].mean()


def test_frames_are_orthonormal_and_right_handed(corpus_path):
    p = load_structure(corpus_path("1AFS"), chains=["A"])
    x = p.atom37_coords
    f = backbone_frames(x[:, 0], x[:, 1], x[:, 2])
    np.testing.assert_allclose(f @ np.swapaxes(f, -1, -2), np.broadcast_to(np.eye(3), f.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(f), 1.0, atol=1e-5)
