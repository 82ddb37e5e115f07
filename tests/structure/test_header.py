from vabsnet.structure import load_structure
from vabsnet.structure.header import ec_from_pdb_header


def test_ec_from_pdb_compnd_on_real_file(corpus_path):
    assert load_structure(corpus_path("1AFS")).ec == {"A": ("1.1.1.50",), "B": ("1.1.1.50",)}


def test_ec_from_mmcif_and_bcif(corpus_path):
    assert load_structure(corpus_path("1gbt")).ec["A"] == ("3.4.21.4",)
    ec = load_structure(corpus_path("9X2O")).ec
    assert ec["A"] == ec["B"] == ec["C"] == ("3.2.2.22",)


def test_ec_multiple_molecules_and_continuations():
    lines = [
        "COMPND    MOL_ID: 1;",
        "COMPND   2 MOLECULE: ALPHA;",
        "COMPND   3 CHAIN: A;",
        "COMPND   4 EC: 2.7.11.1, 2.7.11.24;",
        "COMPND   5 MOL_ID: 2;",
        "COMPND   6 MOLECULE: BETA;",
        "COMPND   7 CHAIN: B, C;",
        "COMPND   8 ENGINEERED: YES",
    ]
    assert ec_from_pdb_header(lines) == {"A": ("2.7.11.1", "2.7.11.24")}
    assert ec_from_pdb_header(["COMPND    MOL_ID: 1; CHAIN: A; EC: 3.4.-.-;"]) == {"A": ("3.4.-.-",)}
