from __future__ import annotations

import numpy as np

from vabsnet.structure import Ligand, load_structure
from vabsnet.structure.labels import binding_site_labels


def test_binding_site_matches_brute_force(corpus_path):
    p = load_structure(corpus_path("1AFS"), chains=["A"])
    labels = binding_site_labels(p, cutoff=4.0)
    lig = np.concatenate([x.coords for x in p.ligands])
    d = np.linalg.norm(p.coords[:, None] - lig[None], axis=-1).min(1)
    np.testing.assert_array_equal(labels.atom, d <= 4.0)
    expected_res = np.zeros(p.num_residues, bool)
    expected_res[p.atom_residue[d <= 4.0]] = True
    np.testing.assert_array_equal(labels.residue, expected_res)
    assert 10 < labels.residue.sum() < 80  # a pocket, not the protein


def test_cutoff_and_min_atoms(corpus_path):
    p = load_structure(corpus_path("1AFS"), chains=["A"])
    small, large = binding_site_labels(p, 3.0), binding_site_labels(p, 6.0)
    assert small.residue.sum() < large.residue.sum()
    assert not (small.residue & ~large.residue).any()
    none = binding_site_labels(p, 4.0, min_ligand_atoms=1000)
    assert not none.residue.any()


def test_hand_placed_ligand(corpus_path):
    p = load_structure(corpus_path("1AFS"), chains=["A"])
    ca = p.ca_coords[10]
    lig = Ligand("TST", "Z", 1, ["C1"], ["C"], (ca + np.array([0.0, 0.0, 1.0]))[None])
    import dataclasses

    q = dataclasses.replace(p, ligands=(lig,))
    labels = binding_site_labels(q, cutoff=1.5)
    assert labels.residue[10]
    assert labels.atom[p.ca_index[10]]


def test_cutoff_is_inclusive(corpus_path):
    import dataclasses

    p = load_structure(corpus_path("1AFS"), chains=["A"])
    ca = p.ca_coords[10].astype(np.float64)
    lig = Ligand("TST", "Z", 1, ["C1"], ["C"], (ca + np.array([0.0, 0.0, 4.0]))[None])
    q = dataclasses.replace(p, ligands=(lig,))
    d = np.linalg.norm(q.coords.astype(np.float64) - q.ligands[0].coords[0], axis=-1)
    assert d[p.ca_index[10]] == 4.0  # exactly at the cutoff
    assert binding_site_labels(q, cutoff=4.0).atom[p.ca_index[10]]
    np.testing.assert_array_equal(binding_site_labels(q, cutoff=4.0).atom, d <= 4.0)


def test_attached_glycans_are_not_ligands_by_default(corpus_path):
    from vabsnet.structure.labels import attached_glycans

    p = load_structure(corpus_path("pdb3o21"))  # nine N-linked NAG, no other ligand
    assert [lig.name for lig in p.ligands] == ["NAG"] * 9
    assert attached_glycans(p).all()
    assert binding_site_labels(p, 4.0, 6, glycans=True).residue.sum() == 43
    assert not binding_site_labels(p, 4.0, 6).residue.any()
    # per-chain records keep every ligand of the entry: a NAG on chain D is still a glycan for chain A's
    # record (marked when the whole entry was read), so chain A has no ligand left, not a 'ligand' far away
    from vabsnet.structure.labels import binding_ligands

    for chain in p.chains:
        one = p.select_chain(chain)
        assert attached_glycans(one).all() and not binding_ligands(one, 6)
    assert [lig.attached_glycan for lig in p.ligands] == [True] * 9
    # 2HA2: four attached NAG, a fucose 2.7 A from a NAG (not bonded) and the ligand SCK stay
    q = load_structure(corpus_path("2HA2_SCK_2HA3_CHT_larger_receptor"))
    assert [(lig.name, bool(a)) for lig, a in zip(q.ligands, attached_glycans(q), strict=True)] == [
        ("NAG", True), ("NAG", True), ("FUC", False), ("NAG", True), ("NAG", True), ("SCK", False)]
