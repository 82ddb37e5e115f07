"""Vocabularies and special token ids, in one place.

Residue and atom vocabularies follow the AlphaFold conventions that the Vabs-Net reference code uses
(spec section 1.2): 20 amino acids in the order ``ARNDCQEGHILKMFPSTWYV`` plus ``X``, and the 37 heavy-atom
names of the atom37 layout.
"""

from __future__ import annotations

# Chains longer than this are refused by prepare/embed/predict (the file is skipped with that reason).
MAX_CHAIN_RESIDUES = 10_000
ATOM_BUDGET = 20_000  # atoms per inference batch (embed, predict, evaluate): a few hundred MB on a GPU

# ---- residues -------------------------------------------------------------------------------------------
RESTYPES: tuple[str, ...] = tuple("ARNDCQEGHILKMFPSTWYV")
RESTYPE_X = 20  # unknown amino acid
RESTYPE_PAD = 21
RESTYPE_MASK = 22
RESTYPE_VIRTUAL = 23  # the global (virtual) node
NUM_RESTYPES = 21  # real residue classes, X included
NUM_RESIDUE_TOKENS = 24  # embedding table size: 21 + pad + mask + virtual

RESTYPE_3TO1: dict[str, str] = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E", "GLY": "G",
    "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F", "PRO": "P", "SER": "S",
    "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V",
}
RESTYPE_1TO3: dict[str, str] = {v: k for k, v in RESTYPE_3TO1.items()}
RESTYPE_INDEX: dict[str, int] = {aa: i for i, aa in enumerate(RESTYPES)}

# Modified residues mapped to their parent amino acid. Covers the common PDB chemical components and the
# protonation-state names of MD force fields (AMBER/CHARMM), which appear in simulation test files.
MODIFIED_RESIDUES: dict[str, str] = {
    "MSE": "MET", "FME": "MET", "SEP": "SER", "SAC": "SER", "TPO": "THR", "PTR": "TYR", "TYS": "TYR",
    "CSO": "CYS", "CME": "CYS", "CSD": "CYS", "OCS": "CYS", "CSS": "CYS", "CAS": "CYS", "CSX": "CYS",
    "SMC": "CYS", "SEC": "CYS", "CYX": "CYS", "CYM": "CYS", "HYP": "PRO", "MLY": "LYS", "M3L": "LYS",
    "KCX": "LYS", "LLP": "LYS", "ALY": "LYS", "PYL": "LYS", "LYN": "LYS", "MLZ": "LYS", "HIC": "HIS",
    "HSD": "HIS", "HSE": "HIS", "HSP": "HIS", "HID": "HIS", "HIE": "HIS", "HIP": "HIS", "HISA": "HIS",
    "HISB": "HIS", "HISH": "HIS", "MLE": "LEU", "NLE": "LEU", "CGU": "GLU", "PCA": "GLU", "GLH": "GLU",
    "ASH": "ASP", "DAL": "ALA", "DLE": "LEU", "DVA": "VAL", "DPN": "PHE", "DSN": "SER", "DTH": "THR",
    "DGL": "GLU", "DAS": "ASP", "DLY": "LYS", "DAR": "ARG", "DPR": "PRO", "DTY": "TYR", "DTR": "TRP",
    "DCY": "CYS", "DGN": "GLN", "DHI": "HIS", "DIL": "ILE", "MED": "MET", "DSG": "ASN",
}
UNKNOWN_RESIDUES: frozenset[str] = frozenset({"UNK"})

# ---- atoms (atom37, AlphaFold order) ---------------------------------------------------------------------
ATOM37: tuple[str, ...] = (
    "N", "CA", "C", "CB", "O", "CG", "CG1", "CG2", "OG", "OG1", "SG", "CD", "CD1", "CD2", "ND1", "ND2",
    "OD1", "OD2", "SD", "CE", "CE1", "CE2", "CE3", "NE", "NE1", "NE2", "OE1", "OE2", "CH2", "NH1", "NH2",
    "OH", "CZ", "CZ2", "CZ3", "NZ", "OXT",
)
ATOM37_INDEX: dict[str, int] = {name: i for i, name in enumerate(ATOM37)}
NUM_ATOM37 = 37
ATOM_N, ATOM_CA, ATOM_C, ATOM_CB, ATOM_O = 0, 1, 2, 3, 4
ATOM_MASK = 37  # atom-name token of a masked atom (fine-tuning augmentation)
ATOM_VIRTUAL = 38  # atom-name token of the virtual node
NUM_ATOM_TOKENS = 39

# Atom names used by other naming schemes, mapped to atom37 (terminal oxygens of CHARMM/GROMACS files,
# selenium of selenomethionine).
ATOM_NAME_ALIASES: dict[str, str] = {"OT1": "O", "OT2": "OXT", "O1": "O", "O2": "OXT", "OC1": "O",
                                     "OC2": "OXT", "SE": "SD"}

# Residue-specific aliases: CHARMM names isoleucine's CD1 "CD".
RESIDUE_ATOM_ALIASES: dict[tuple[str, str], str] = {("ILE", "CD"): "CD1"}

_BACKBONE = ("N", "CA", "C", "O")
RESIDUE_ATOMS: dict[str, tuple[str, ...]] = {
    "ALA": _BACKBONE + ("CB",),
    "ARG": _BACKBONE + ("CB", "CG", "CD", "NE", "CZ", "NH1", "NH2"),
    "ASN": _BACKBONE + ("CB", "CG", "OD1", "ND2"),
    "ASP": _BACKBONE + ("CB", "CG", "OD1", "OD2"),
    "CYS": _BACKBONE + ("CB", "SG"),
    "GLN": _BACKBONE + ("CB", "CG", "CD", "OE1", "NE2"),
    "GLU": _BACKBONE + ("CB", "CG", "CD", "OE1", "OE2"),
    "GLY": _BACKBONE,
    "HIS": _BACKBONE + ("CB", "CG", "ND1", "CD2", "CE1", "NE2"),
    "ILE": _BACKBONE + ("CB", "CG1", "CG2", "CD1"),
    "LEU": _BACKBONE + ("CB", "CG", "CD1", "CD2"),
    "LYS": _BACKBONE + ("CB", "CG", "CD", "CE", "NZ"),
    "MET": _BACKBONE + ("CB", "CG", "SD", "CE"),
    "PHE": _BACKBONE + ("CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ"),
    "PRO": _BACKBONE + ("CB", "CG", "CD"),
    "SER": _BACKBONE + ("CB", "OG"),
    "THR": _BACKBONE + ("CB", "OG1", "CG2"),
    "TRP": _BACKBONE + ("CB", "CG", "CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2"),
    "TYR": _BACKBONE + ("CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "OH"),
    "VAL": _BACKBONE + ("CB", "CG1", "CG2"),
    "UNK": _BACKBONE + ("CB",),
}

# Side-chain torsions chi1..chi4: four atoms each (standard IUPAC definitions).
CHI_ATOMS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "ALA": (), "GLY": (), "UNK": (),
    "ARG": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD"), ("CB", "CG", "CD", "NE"),
            ("CG", "CD", "NE", "CZ")),
    "ASN": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "OD1")),
    "ASP": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "OD1")),
    "CYS": (("N", "CA", "CB", "SG"),),
    "GLN": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD"), ("CB", "CG", "CD", "OE1")),
    "GLU": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD"), ("CB", "CG", "CD", "OE1")),
    "HIS": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "ND1")),
    "ILE": (("N", "CA", "CB", "CG1"), ("CA", "CB", "CG1", "CD1")),
    "LEU": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD1")),
    "LYS": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD"), ("CB", "CG", "CD", "CE"),
            ("CG", "CD", "CE", "NZ")),
    "MET": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "SD"), ("CB", "CG", "SD", "CE")),
    "PHE": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD1")),
    "PRO": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD")),
    "SER": (("N", "CA", "CB", "OG"),),
    "THR": (("N", "CA", "CB", "OG1"),),
    "TRP": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD1")),
    "TYR": (("N", "CA", "CB", "CG"), ("CA", "CB", "CG", "CD1")),
    "VAL": (("N", "CA", "CB", "CG1"),),
}
# chi angles that are pi-periodic because of side-chain symmetry (used by torsion losses).
CHI_PI_PERIODIC: dict[str, tuple[int, ...]] = {"ASP": (1,), "GLU": (2,), "PHE": (1,), "TYR": (1,)}
TORSION_NAMES: tuple[str, ...] = ("pre_omega", "phi", "psi", "chi1", "chi2", "chi3", "chi4")

# Atomic radii (Angstrom) for solvent accessibility, by element; spec section 4.3.
SASA_RADII: dict[str, float] = {"N": 1.6, "C": 1.7, "O": 1.4, "S": 1.8, "SE": 1.9}
SASA_PROBE_RADIUS = 1.4

# ---- hetero groups -----------------------------------------------------------------------------------------
WATER_NAMES: frozenset[str] = frozenset({"HOH", "WAT", "DOD", "H2O", "SOL", "TIP", "TIP3", "SPC", "OH2"})
NUCLEIC_NAMES: frozenset[str] = frozenset(
    {"A", "C", "G", "U", "T", "I", "N", "DA", "DC", "DG", "DT", "DU", "DI", "ADE", "CYT", "GUA", "THY", "URA"}
)
# Not counted as ligands for binding-site labels: ions and common crystallisation / buffer additives.
ION_NAMES: frozenset[str] = frozenset({
    "NA", "CL", "K", "MG", "CA", "ZN", "MN", "FE", "FE2", "CO", "NI", "CU", "CU1", "CD", "HG", "BR", "IOD",
    "F", "SR", "BA", "CS", "RB", "LI", "AL", "PB", "PT", "AU", "AG", "YB", "GD", "SM", "TL", "OH", "SOD",
    "CLA", "POT", "CAL", "ZN2", "NA+", "CL-", "MG2", "3CO", "CU2", "KR", "XE", "AR",
})
ADDITIVE_NAMES: frozenset[str] = frozenset({
    "GOL", "EDO", "SO4", "PO4", "PEG", "PGE", "PG4", "1PE", "P6G", "2PE", "12P", "15P", "ACT", "ACY",
    "FMT", "DMS", "MPD", "MES", "EPE", "TRS", "BME", "CIT", "FLC", "IPA", "EOH", "MOH", "NO3", "SCN",
    "AZI", "IMD", "NH4", "CO3", "TAR", "MLI", "SIN", "HEZ", "BTB", "PGO", "PGR", "DIO", "ETF", "BU3",
    "MRD", "SGM", "CXS", "TLA", "ACN", "DMF", "NHE", "BCN", "CAC", "UNL", "UNX", "CPS", "BOG", "LDA",
    "DTT", "DTU", "GSH", "SPM", "SPD", "P33", "PE4", "PE8", "7PE", "PEU", "MPO", "HED", "OXY", "PER",
})
LIGAND_EXCLUDED: frozenset[str] = WATER_NAMES | ION_NAMES | ADDITIVE_NAMES
