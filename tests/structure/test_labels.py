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
