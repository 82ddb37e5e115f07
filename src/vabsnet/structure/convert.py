"""Conversion of a parsed biotite ``AtomArray`` into a :class:`Protein`: modified residues, atom naming,
backbone checks, duplicate atoms and ligands."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from vabsnet.constants import (
    ATOM37,
    ATOM37_INDEX,
    ATOM_NAME_ALIASES,
    LIGAND_EXCLUDED,
    MODIFIED_RESIDUES,
    NUCLEIC_NAMES,
    RESIDUE_ATOM_ALIASES,
    RESIDUE_ATOMS,
    RESTYPE_3TO1,
    RESTYPE_INDEX,
    RESTYPE_X,
    UNKNOWN_RESIDUES,
    WATER_NAMES,
)
from vabsnet.errors import StructureError
from vabsnet.structure.ccd import amino_acid_parent
from vabsnet.structure.labels import glycan_attachment
from vabsnet.structure.protein import Ligand, Protein

MAX_ABS_COORD = 9999.0  # beyond the PDB format's range: a sign of a broken file


@dataclass(frozen=True)
class LoadReport:
    """What the loader dropped from a file, for logging."""

    residues_without_backbone: int
    incomplete_residues: int
    excluded_hetero_groups: int


PEPTIDE_BOND_MAX = 2.0  # Angstrom: a HETATM amino acid this close to another residue is part of the chain


def _parent_name(res_name: str) -> str | None:
    """Parent amino acid (3 letters) of a residue name, or None when it is no amino acid. Names outside the
    built-in table are looked up in the Chemical Component Dictionary (ABA -> ALA)."""
    if res_name in RESTYPE_3TO1 or res_name in UNKNOWN_RESIDUES:
        return res_name
    if res_name in MODIFIED_RESIDUES:
        return MODIFIED_RESIDUES[res_name]
    if res_name in WATER_NAMES or res_name in NUCLEIC_NAMES or res_name in LIGAND_EXCLUDED:
        return None
    return amino_acid_parent(res_name)


def _residue_ids(chain_id: np.ndarray, res_id: np.ndarray, ins_code: np.ndarray,
                 res_name: np.ndarray) -> np.ndarray:
    """``[N]`` residue ordinal of every atom (a new residue where any of the four keys changes)."""
    change = np.ones(len(res_id), dtype=bool)
    change[1:] = ((chain_id[1:] != chain_id[:-1]) | (res_id[1:] != res_id[:-1])
                  | (ins_code[1:] != ins_code[:-1]) | (res_name[1:] != res_name[:-1]))
    return np.cumsum(change) - 1


def _free_amino_acids(residue: np.ndarray, amino: np.ndarray, hetero: np.ndarray, heavy: np.ndarray,
                      coord: np.ndarray) -> np.ndarray:
    """``[N]`` atoms of HETATM amino acids (standard or modified) bonded to no other amino acid: free
    ligands such as a bound arginine, not chain residues. A modified residue inside the chain is bonded
    to its neighbours (peptide bonds, under ``PEPTIDE_BOND_MAX``)."""
    het = amino & hetero & heavy & np.isfinite(coord).all(1)
    if not het.any():
        return np.zeros(len(residue), dtype=bool)
    pool = np.flatnonzero(amino & heavy & np.isfinite(coord).all(1))
    tree = cKDTree(coord[pool])
    linked = set()
    for i, near in zip(np.flatnonzero(het), tree.query_ball_point(coord[het], PEPTIDE_BOND_MAX), strict=True):
        if np.any(residue[pool[near]] != residue[i]):
            linked.add(int(residue[i]))
    het_res = residue[het]
    free_res = np.setdiff1d(het_res, np.fromiter(linked, dtype=np.int64, count=len(linked)))
    return np.isin(residue, free_res) & amino & hetero


def atoms_to_protein(
    atoms: object,
    *,
    source: str,
    name: str,
    ec: dict[str, tuple[str, ...]] | None = None,
    chains: list[str] | tuple[str, ...] | None = None,
    max_residues: int | None = None,
) -> tuple[Protein, LoadReport]:
    """Convert a biotite ``AtomArray`` into a :class:`Protein` (see :func:`load_structure`)."""
    chain_id = np.asarray(atoms.chain_id).astype(str)  # type: ignore[attr-defined]
    res_id = np.asarray(atoms.res_id, dtype=np.int64)  # type: ignore[attr-defined]
    ins_code = np.asarray(atoms.ins_code).astype(str)  # type: ignore[attr-defined]
    res_name = np.char.upper(np.asarray(atoms.res_name).astype(str))  # type: ignore[attr-defined]
    atom_name = np.char.upper(np.asarray(atoms.atom_name).astype(str))  # type: ignore[attr-defined]
    element = np.char.upper(np.asarray(atoms.element).astype(str))  # type: ignore[attr-defined]
    hetero = np.asarray(atoms.hetero).astype(bool)  # type: ignore[attr-defined]
    coord = np.asarray(atoms.coord, dtype=np.float64)  # type: ignore[attr-defined]
    if len(coord) == 0:
        raise StructureError(source, "no atoms in the selected model")

    # Element from the name where the file has no element column (old or MD-written files).
    missing = element == ""
    if missing.any():
        element[missing] = np.char.lstrip(atom_name[missing], "0123456789").astype("<U1")
    heavy = (element != "H") & (element != "D")

    # ---- classify residues by name --------------------------------------------------------------------
    names, inverse = np.unique(res_name, return_inverse=True)
    parent_of_name = [_parent_name(n) for n in names]
    parent = np.array([p or "" for p in parent_of_name], dtype="<U3")[inverse]
    residue = _residue_ids(chain_id, res_id, ins_code, res_name)
    free = _free_amino_acids(residue, parent != "", hetero, heavy, coord)
    polymer = (parent != "") & ~free  # free amino acids (HETATM, bonded to no residue) are ligands
    is_protein = polymer.copy()
    if chains is not None:
        is_protein &= np.isin(chain_id, list(chains))

    aliased = np.array([RESIDUE_ATOM_ALIASES.get((p, a), ATOM_NAME_ALIASES.get(a, a))
                        for p, a in zip(parent, atom_name, strict=True)], dtype="<U4")
    allowed = np.zeros(len(coord), dtype=bool)
    for par in np.unique(parent[is_protein]):
        sel = is_protein & (parent == par)
        allowed[sel] = np.isin(aliased[sel], RESIDUE_ATOMS[par] + ("OXT",))
    keep = is_protein & allowed & heavy

    if not np.isfinite(coord[keep]).all() or np.abs(coord[keep]).max(initial=0.0) > MAX_ABS_COORD:
        raise StructureError(source, "non-finite or absurd atom coordinates")

    # ---- group protein atoms into residues ------------------------------------------------------------
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        where = f" in chains {list(chains)}" if chains is not None else ""
        raise StructureError(source, f"no protein residues{where}")
    atom_res = _residue_ids(chain_id[idx], res_id[idx], ins_code[idx], res_name[idx])  # of each kept atom
    starts = np.flatnonzero(np.r_[True, atom_res[1:] != atom_res[:-1]])
    names37 = np.array([ATOM37_INDEX[a] for a in aliased[idx]], dtype=np.int64)

    # Exact repeats of an atom (some files list stripped alternate locations twice) are dropped; the
    # same atom at two different places is an error: we cannot tell which one is meant.
    pair = atom_res * 37 + names37
    _, first = np.unique(pair, return_index=True)
    if len(first) != len(pair):
        first_of = np.empty(int(pair.max()) + 1, dtype=np.int64)
        first_of[pair[first]] = first
        original = first_of[pair]
        repeat = original != np.arange(len(pair))
        moved = np.abs(coord[idx] - coord[idx][original]).max(1) > 1e-3
        if np.any(repeat & moved):
            bad = int(np.flatnonzero(repeat & moved)[0])
            r = starts[atom_res[bad]]
            raise StructureError(
                source, f"atom {ATOM37[names37[bad]]} of residue {chain_id[idx][r]}:{res_name[idx][r]}"
                f"{res_id[idx][r]}{ins_code[idx][r]} appears twice at different positions")
        idx, atom_res, names37 = idx[~repeat], atom_res[~repeat], names37[~repeat]
        starts = np.flatnonzero(np.r_[True, atom_res[1:] != atom_res[:-1]])

    n_res = len(starts)
    present = np.zeros((n_res, 37), dtype=bool)
    present[atom_res, names37] = True
    has_backbone = present[:, 0] & present[:, 1] & present[:, 2]
    res_parent = parent[idx][starts]
    expected = np.array([len(RESIDUE_ATOMS[p]) for p in res_parent])
    incomplete = int(np.sum(has_backbone & (present[:, :36].sum(1) < expected)))
    good_res = np.flatnonzero(has_backbone)
    if len(good_res) == 0:
        raise StructureError(source, "no residue has all backbone atoms N, CA and C")
    if max_residues is not None and len(good_res) > max_residues:
        raise StructureError(source, f"{len(good_res)} protein residues exceed the limit of {max_residues}")

    atom_keep = has_backbone[atom_res]
    remap = np.full(n_res, -1, dtype=np.int64)
    remap[good_res] = np.arange(len(good_res))
    # Sort atoms inside each residue by atom37 index so records are canonical whatever the file order.
    order = np.lexsort((names37[atom_keep], remap[atom_res[atom_keep]]))
    sel = idx[atom_keep][order]
    res_first = idx[starts[good_res]]
    restype = np.array(
        [RESTYPE_INDEX.get(RESTYPE_3TO1.get(p, "X"), RESTYPE_X) for p in res_parent[good_res]], dtype=np.int8
    )
    atom_elem = element[sel].copy()
    protein_ligands, excluded = _ligands(chain_id, res_id, ins_code, res_name, aliased, element, hetero,
                                         heavy, coord, polymer)
    glycan = glycan_attachment(protein_ligands, coord[polymer & heavy & np.isfinite(coord).all(1)])
    protein_ligands = tuple(dataclasses.replace(lig, attached_glycan=True) if g else lig
                            for lig, g in zip(protein_ligands, glycan, strict=True))
    protein = Protein(
        name=name,
        restype=restype,
        chain_id=chain_id[res_first],
        res_id=res_id[res_first],
        ins_code=ins_code[res_first],
        atom_name=names37[atom_keep][order],
        element=atom_elem,
        coords=coord[sel],
        atom_residue=remap[atom_res[atom_keep]][order],
        ligands=protein_ligands,
        ec={c: v for c, v in (ec or {}).items() if chains is None or c in chains},
        source=source,
    )
    report = LoadReport(int(n_res - len(good_res)), incomplete, excluded)
    return protein, report


def _ligands(chain_id: np.ndarray, res_id: np.ndarray, ins_code: np.ndarray, res_name: np.ndarray,
             atom_name: np.ndarray, element: np.ndarray, hetero: np.ndarray, heavy: np.ndarray,
             coord: np.ndarray, amino: np.ndarray) -> tuple[tuple[Ligand, ...], int]:
    """Non-polymer hetero groups, minus water, nucleotides, ions and additives."""
    cand = hetero & ~amino & ~np.isin(res_name, list(WATER_NAMES | NUCLEIC_NAMES))
    idx = np.flatnonzero(cand & heavy & np.isfinite(coord).all(1))
    ligands: list[Ligand] = []
    excluded = 0
    if len(idx) == 0:
        return (), 0
    group_of = _residue_ids(chain_id[idx], res_id[idx], ins_code[idx], res_name[idx])
    bounds = np.append(np.flatnonzero(np.r_[True, group_of[1:] != group_of[:-1]]), len(idx))
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        group = idx[a:b]
        rname = str(res_name[group[0]])
        if rname in LIGAND_EXCLUDED:
            excluded += 1
            continue
        ligands.append(Ligand(name=rname, chain_id=str(chain_id[group[0]]), res_id=int(res_id[group[0]]),
                              atom_names=atom_name[group], elements=element[group], coords=coord[group]))
    return tuple(ligands), excluded
