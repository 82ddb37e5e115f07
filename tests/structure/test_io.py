from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

from vabsnet import StructureError
from vabsnet.constants import ATOM37, ATOM37_INDEX, RESTYPE_INDEX
from vabsnet.corpus import bundled, entries, entry
from vabsnet.structure import load_structure
from vabsnet.structure.io import load_structure_with_report


def test_every_bundled_file_loads_with_its_chains():
    assert len(entries()) >= 100
    for e in entries():
        protein = load_structure(e.path, chains=list(e.chains))
        assert set(protein.chains) == set(e.chains), e.id
        for chain in e.chains:
            assert (protein.chain_id == chain).sum() >= 30


def test_record_invariants_on_real_file(corpus_path):
    p = load_structure(corpus_path("1AFS"), chains=["A"])
    assert p.num_residues == 319
    assert p.atom37_coords.shape == (319, 37, 3) and p.atom37_mask.shape == (319, 37)
    assert p.atom37_mask[:, ATOM37_INDEX["CA"]].all()
    np.testing.assert_allclose(p.atom37_coords[p.atom_residue, p.atom_name], p.coords)
    assert p.residue_atom_count.sum() == p.num_atoms
    assert not p.coords.flags.writeable
    with pytest.raises(ValueError):
        p.coords[0, 0] = 1.0


def test_altloc_first_and_occupancy(corpus_path, tmp_path):
    """1orc's GLN 27 has side-chain locations A and B at occupancy 0.50 each; with B raised to 0.60 (A 0.40),
    ``first`` keeps A's coordinates and ``occupancy`` B's, read back from the records themselves."""
    text = gzip.decompress(corpus_path("1orc").read_bytes()).decode().splitlines()
    alt = [ln for ln in text if ln.startswith("ATOM") and ln[16] != " "]
    assert [ln[16] for ln in alt] == ["A", "B"] * 4
    edited = [(ln[:54] + ("  0.60" if ln[16] == "B" else "  0.40") + ln[60:]) if ln in alt else ln for ln in text]
    path = tmp_path / "1orc_b_major.pdb"
    path.write_text("\n".join(edited) + "\n")
    expected = {loc: {ln[12:16].strip(): [float(ln[30:38]), float(ln[38:46]), float(ln[46:54])]
                      for ln in alt if ln[16] == loc} for loc in "AB"}
    for mode, loc in (("first", "A"), ("occupancy", "B")):
        protein = load_structure(path, altloc=mode)
        res = int(np.flatnonzero(protein.res_id == 27)[0])
        start = protein.residue_atom_start[res]
        atoms = range(start, start + protein.residue_atom_count[res])
        names = {ATOM37[protein.atom_name[i]]: protein.coords[i].tolist() for i in atoms}
        for name, xyz in expected[loc].items():
            np.testing.assert_allclose(names[name], xyz, atol=1e-3)
        assert protein.num_atoms == load_structure(corpus_path("1orc")).num_atoms  # one location per atom


def test_insertion_codes_are_kept(corpus_path):
    p = load_structure(corpus_path("1osm"))
    codes = set(p.ins_code.tolist()) - {""}
    assert codes
    # residues that share a number differ by insertion code
    pairs = list(zip(p.chain_id.tolist(), p.res_id.tolist(), p.ins_code.tolist(), strict=True))
    assert len(set(pairs)) == len(pairs)


def test_selenomethionine_becomes_methionine(corpus_path):
    p = load_structure(corpus_path("a_structure"))
    from biotite.structure.io import pdbx

    raw = pdbx.get_structure(pdbx.CIFFile.read(gzip.open(corpus_path("a_structure"), "rt")), model=1)
    mse = np.unique(raw.res_id[raw.res_name == "MSE"])
    assert len(mse) > 0
    for res in mse:
        i = np.flatnonzero(p.res_id == res)[0]
        assert p.restype[i] == RESTYPE_INDEX["M"]
        sd = (p.atom_residue == i) & (p.atom_name == ATOM37_INDEX["SD"])
        assert p.element[sd].tolist() == ["SE"]


def test_md_residue_and_atom_names(corpus_path):
    p, report = load_structure_with_report(corpus_path("adk_closed"))
    assert p.num_residues == 214 and p.chains == ("",)
    assert report.incomplete_residues == 0  # HSD -> HIS, CHARMM ILE CD -> CD1, OT1/OT2 -> O/OXT
    assert "X" not in p.sequence


def test_missing_backbone_dropped_and_counted(corpus_path):
    p, report = load_structure_with_report(corpus_path("2XHE"))
    assert report.residues_without_backbone == 1
    assert p.atom37_mask[:, :3].all()
    _, report = load_structure_with_report(corpus_path("2xr6A"))
    assert report.incomplete_residues >= 1


def test_models_nucleic_acids_water_and_hydrogens(corpus_path):
    path = corpus_path("1LCD")
    p1 = load_structure(path)
    p2 = load_structure(path, model=2)
    assert p1.num_residues == p2.num_residues == 51
    assert np.abs(p1.coords - p2.coords).max() > 0.1  # different NMR models
    assert set(p1.element.tolist()) <= {"C", "N", "O", "S", "SE"}  # hydrogens dropped
    assert p1.ligands == ()  # DNA and water are neither protein nor ligand
    with pytest.raises(StructureError, match="cannot parse"):
        load_structure(path, model=99)


def test_ligands_kept_and_additives_excluded(corpus_path):
    p = load_structure(corpus_path("1AFS"))
    names = sorted({lig.name for lig in p.ligands})
    assert names == ["NAP", "TES"]
    nap = next(lig for lig in p.ligands if lig.name == "NAP")
    assert nap.num_atoms == 48 and nap.coords.shape == (48, 3)


def test_formats_agree_and_gzip_is_transparent(corpus_path, tmp_path):
    src = corpus_path("1gbt")  # BinaryCIF
    p = load_structure(src)
    assert p.num_residues > 200
    plain = tmp_path / "1gbt.bcif"
    plain.write_bytes(gzip.decompress(src.read_bytes()))
    q = load_structure(plain)
    np.testing.assert_array_equal(p.coords, q.coords)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.pdb", b"", "empty file"),
        ("garbage.pdb", bytes(range(256)) * 40, "binary content"),
        ("garbage.cif", os.urandom(4096).replace(b"\n", b"x"), "cannot parse|binary|no _atom_site"),
        ("text.pdb", b"HEADER    NOTHING HERE\nREMARK 1\n", "no ATOM/HETATM"),
        ("notgz.pdb.gz", b"ATOM this is not gzip", "gzip"),
        ("file.xyz", b"ATOM", "unsupported file extension"),
    ],
)
def test_bad_input_raises_structure_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(StructureError, match=reason) as info:
        load_structure(path)
    assert str(path) in str(info.value)


def test_truncated_and_protein_free_files(corpus_path, tmp_path):
    text = gzip.decompress(corpus_path("1AFS").read_bytes()).decode()
    cut = tmp_path / "cut.pdb"
    atom_at = text.index("\nATOM", len(text) // 2)
    cut.write_text(text[: atom_at + 40])  # stops inside a coordinate record
    with pytest.raises(StructureError, match="cut.pdb"):
        load_structure(cut)
    water = tmp_path / "water.pdb"
    water.write_text("\n".join(ln for ln in text.splitlines() if ln[17:20] == "HOH") + "\nEND\n")
    with pytest.raises(StructureError, match="no protein residues"):
        load_structure(water)
    gz = tmp_path / "cut.pdb.gz"
    gz.write_bytes(corpus_path("1AFS").read_bytes()[:5000])
    with pytest.raises(StructureError, match="gzip"):
        load_structure(gz)


def test_large_nonsense_file_fails_fast(tmp_path):
    path = tmp_path / "nonsense.pdb"
    rng = np.random.default_rng(0)
    line = "".join(rng.choice(list("ABCDEFGHIJ0123456789 "), 79)) + "\n"
    path.write_text(line * (50 * 2**20 // 80))
    assert path.stat().st_size > 49 * 2**20
    with pytest.raises(StructureError, match="no ATOM/HETATM"):
        load_structure(path)


def test_missing_file_and_chain(tmp_path, corpus_path):
    with pytest.raises(StructureError, match="file not found"):
        load_structure(tmp_path / "absent.pdb")
    with pytest.raises(StructureError, match="no protein residues in chains"):
        load_structure(corpus_path("1AFS"), chains=["Q"])


def test_bundled_paths_exist():
    paths = bundled()
    assert all(p.exists() for p in paths)
    assert entry("1AFS").ec == {"A": ("1.1.1.50",)}


def _edited_5pti(tmp_path, edit):
    """5PTI (BPTI, real) read with biotite, edited by ``edit(atoms) -> atoms`` (the edit is the test's, the
    coordinates are the entry's), written as PDB."""
    import biotite.structure as struc
    from biotite.structure.io import pdb, pdbx

    atoms = pdbx.get_structure(pdbx.CIFFile.read(gzip.open(entry("5PTI").path, "rt")), model=1,
                               use_author_fields=True)
    atoms = atoms[atoms.element != "D"]
    atoms = edit(atoms)
    out = tmp_path / "edited.pdb"
    f = pdb.PDBFile()
    f.set_structure(atoms)
    f.write(str(out))
    assert isinstance(atoms, struc.AtomArray)
    return out


def test_modified_residue_maps_to_parent_through_the_ccd(tmp_path):
    def aba(atoms):  # Cys14 written as HETATM ABA (alpha-aminobutyric acid; SG -> CG), as in C14A-like entries
        sel = atoms.res_id == 14
        atoms.res_name[sel] = "ABA"
        atoms.hetero[sel] = True
        sg = sel & (atoms.atom_name == "SG")
        atoms.atom_name[sg], atoms.element[sg] = "CG", "C"
        return atoms

    plain = load_structure(entry("5PTI").path)
    p = load_structure(_edited_5pti(tmp_path, aba))
    assert "ABA" not in {lig.name for lig in p.ligands} and not p.ligands
    assert p.num_residues == plain.num_residues
    i = int(np.flatnonzero(p.res_id == 14)[0])
    assert p.restype[i] == RESTYPE_INDEX["A"]
    assert sorted(p.atom_name[p.atom_residue == i]) == sorted(ATOM37_INDEX[a] for a in ("N", "CA", "C", "O", "CB"))


def test_free_amino_acid_is_a_ligand_and_a_bonded_hetatm_residue_is_not(tmp_path):
    def edit(atoms):
        import biotite.structure as struc

        tyr = atoms[atoms.res_id == 35].copy()  # Tyr35 copied 20 A along -x (7.4 A from the chain) as a free HETATM
        tyr.coord += np.array([-20.0, 0.0, 0.0])
        tyr.res_id[:] = 900
        tyr.hetero[:] = True
        atoms.hetero[atoms.res_id == 14] = True  # Cys14 flagged HETATM but peptide-bonded: still a residue
        return struc.concatenate([atoms, tyr])

    plain = load_structure(entry("5PTI").path)
    p = load_structure(_edited_5pti(tmp_path, edit))
    assert p.num_residues == plain.num_residues
    assert [(lig.name, lig.res_id, lig.num_atoms) for lig in p.ligands] == [("TYR", 900, 12)]


def test_altloc_occupancy_is_chosen_per_residue(corpus_path):
    # 3U7T residue 22 is SER (altloc A, occupancy 0.53) or PRO (altloc B, 0.47)
    p = load_structure(corpus_path("3U7T"), altloc="occupancy")
    i = np.flatnonzero(p.res_id == 22)
    assert len(i) == 1 and p.restype[i[0]] == RESTYPE_INDEX["S"]
    assert sorted(p.atom_name[p.atom_residue == i[0]]) == sorted(ATOM37_INDEX[a] for a in ("N", "CA", "C", "O",
                                                                                            "CB", "OG"))
