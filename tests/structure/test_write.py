"""PDB writing: a round trip through vabsnet's own reader, and chain ids PDB cannot hold."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from vabsnet.corpus import entry
from vabsnet.structure import load_structure
from vabsnet.structure.write import pdb_chain_ids, to_pdb


def test_round_trip_keeps_atoms_and_residues(tmp_path):
    protein = load_structure(entry("1AFS").path)
    path = tmp_path / "x.pdb"
    path.write_text(to_pdb(protein, np.arange(protein.num_atoms) % 7))
    back = load_structure(path)
    assert back.num_atoms == protein.num_atoms and back.sequence == protein.sequence
    np.testing.assert_allclose(back.coords, protein.coords, atol=1e-3)


def test_long_chain_ids_stay_distinct(tmp_path):
    protein = load_structure(entry("1AFS").path)  # chains A and B
    renamed = replace(protein, chain_id=np.where(protein.chain_id == "A", "1.A", "1.B"))
    path = tmp_path / "x.pdb"
    path.write_text(to_pdb(renamed))
    back = load_structure(path)
    assert sorted(set(back.chain_id)) == ["A", "B"] and back.num_residues == protein.num_residues
    assert pdb_chain_ids(["A", "B"]) == {"A": "A", "B": "B"}
    assert pdb_chain_ids(["1.A", "1.B", "2"]) == {"1.A": "A", "1.B": "B", "2": "2"}
