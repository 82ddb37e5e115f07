"""The canonical structure record: residue arrays and heavy-atom arrays linked by index.

Shape convention used throughout vabsnet: ``R`` residues, ``A`` atoms, ``L`` ligand atoms.
Atoms are stored grouped by residue, in residue order; ``atom_residue[a]`` is the residue of atom ``a``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from vabsnet.constants import ATOM_CA, NUM_ATOM37, NUM_RESTYPES, RESTYPES
from vabsnet.errors import StructureError


def _frozen(array: np.ndarray, dtype: np.dtype | type | str) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Ligand:
    """A non-polymer group kept beside the protein (e.g. a drug-like molecule or cofactor).

    Attributes
    ----------
    name : str
        Chemical component id (residue name), e.g. ``"ATP"``.
    chain_id, res_id : str, int
        Where the group sits in the source file.
    atom_names : np.ndarray
        ``[L]`` heavy-atom names.
    elements : np.ndarray
        ``[L]`` element symbols, upper case.
    coords : np.ndarray
        ``[L, 3]`` float32 coordinates in Angstrom.
    attached_glycan : bool
        A saccharide covalently attached to a protein chain of the entry (an N-glycan on Asn, directly or
        through other sugars), found on the whole entry when it was read: a modification, not a bound ligand.
    """

    name: str
    chain_id: str
    res_id: int
    atom_names: np.ndarray
    elements: np.ndarray
    coords: np.ndarray
    attached_glycan: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "atom_names", _frozen(self.atom_names, "<U4"))
        set_(self, "elements", _frozen(self.elements, "<U2"))
        set_(self, "coords", _frozen(self.coords, np.float32).reshape(-1, 3))
        n = len(self.atom_names)
        if len(self.elements) != n or len(self.coords) != n:
            raise ValueError(f"ligand {self.name}: atom arrays of different lengths")

    @property
    def num_atoms(self) -> int:
        return len(self.atom_names)


@dataclass(frozen=True, eq=False)
class Protein:
    """One protein (one or several chains) as validated, read-only arrays.

    Attributes
    ----------
    name : str
        Identifier, usually the file stem, plus ``"/chain"`` for single-chain records.
    restype : np.ndarray
        ``[R]`` int8 residue type in the 21-letter vocabulary (:data:`vabsnet.constants.RESTYPES` + X).
    chain_id, res_id, ins_code : np.ndarray
        ``[R]`` author chain id, residue number and insertion code (``""`` when none).
    atom_name : np.ndarray
        ``[A]`` int8 atom37 index of each heavy atom.
    element : np.ndarray
        ``[A]`` element symbol.
    coords : np.ndarray
        ``[A, 3]`` float32 coordinates in Angstrom.
    atom_residue : np.ndarray
        ``[A]`` int32 residue index of each atom; non-decreasing.
    ligands : tuple[Ligand, ...]
        Kept non-polymer groups (see :data:`vabsnet.constants.LIGAND_EXCLUDED` for what is left out).
    ec : Mapping[str, tuple[str, ...]]
        EC numbers per chain, from the file header.
    source : str
        The file this record was read from.
    backbone_only : bool
        True when the source has only backbone atoms (e.g. ProMod3's StructureDB).
    modelled_sidechains : bool
        True when the side chains are a model, not experiment (``prepare --modelled-sidechains``, e.g.
        ProMod3-packed side chains on StructureDB backbones).
    """

    name: str
    restype: np.ndarray
    chain_id: np.ndarray
    res_id: np.ndarray
    ins_code: np.ndarray
    atom_name: np.ndarray
    element: np.ndarray
    coords: np.ndarray
    atom_residue: np.ndarray
    ligands: tuple[Ligand, ...] = ()
    ec: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""
    backbone_only: bool = False
    modelled_sidechains: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "restype", _frozen(self.restype, np.int8))
        set_(self, "chain_id", _frozen(self.chain_id, "<U4"))
        set_(self, "res_id", _frozen(self.res_id, np.int32))
        set_(self, "ins_code", _frozen(self.ins_code, "<U1"))
        set_(self, "atom_name", _frozen(self.atom_name, np.int8))
        set_(self, "element", _frozen(self.element, "<U2"))
        set_(self, "coords", _frozen(self.coords, np.float32).reshape(-1, 3))
        set_(self, "atom_residue", _frozen(self.atom_residue, np.int32))
        set_(self, "ligands", tuple(self.ligands))
        set_(self, "ec", {str(k): tuple(v) for k, v in dict(self.ec).items()})
        self._validate()

    # ---- validation -------------------------------------------------------------------------------------
    def _fail(self, reason: str) -> None:
        raise StructureError(self.source or self.name, reason)

    def _validate(self) -> None:
        n_res, n_atom = len(self.restype), len(self.atom_name)
        if n_res == 0:
            self._fail("no protein residues")
        for label, arr in (("chain_id", self.chain_id), ("res_id", self.res_id), ("ins_code", self.ins_code)):
            if len(arr) != n_res:
                self._fail(f"{label} has {len(arr)} entries for {n_res} residues")
        for label, arr in (("element", self.element), ("coords", self.coords),
                           ("atom_residue", self.atom_residue)):
            if len(arr) != n_atom:
                self._fail(f"{label} has {len(arr)} entries for {n_atom} atoms")
        if self.restype.min() < 0 or self.restype.max() >= NUM_RESTYPES:
            self._fail("residue type index out of range")
        if self.atom_name.min() < 0 or self.atom_name.max() >= NUM_ATOM37:
            self._fail("atom name index out of range")
        if not np.isfinite(self.coords).all():
            self._fail("non-finite atom coordinates")
        res = self.atom_residue
        if res.min() < 0 or res.max() >= n_res or np.any(np.diff(res) < 0):
            self._fail("atoms are not grouped by residue in residue order")
        counts = np.bincount(res, minlength=n_res)
        if np.any(counts == 0):
            self._fail("a residue has no atoms")
        keys = res.astype(np.int64) * NUM_ATOM37 + self.atom_name
        if len(np.unique(keys)) != n_atom:
            self._fail("an atom name occurs twice in one residue")
        ca_count = np.bincount(res[self.atom_name == ATOM_CA], minlength=n_res)
        if np.any(ca_count != 1):
            self._fail("every residue needs exactly one CA atom")

    # ---- derived views ---------------------------------------------------------------------------------
    @property
    def num_residues(self) -> int:
        return len(self.restype)

    @property
    def num_atoms(self) -> int:
        return len(self.atom_name)

    @cached_property
    def residue_atom_start(self) -> np.ndarray:
        """``[R]`` index of each residue's first atom."""
        return np.searchsorted(self.atom_residue, np.arange(self.num_residues)).astype(np.int64)

    @cached_property
    def residue_atom_count(self) -> np.ndarray:
        """``[R]`` number of heavy atoms of each residue."""
        return np.bincount(self.atom_residue, minlength=self.num_residues).astype(np.int64)

    @cached_property
    def ca_index(self) -> np.ndarray:
        """``[R]`` atom index of each residue's CA (the residue node)."""
        return np.flatnonzero(self.atom_name == ATOM_CA)

    @property
    def ca_coords(self) -> np.ndarray:
        """``[R, 3]``."""
        return self.coords[self.ca_index]

    @cached_property
    def atom37_mask(self) -> np.ndarray:
        """``[R, 37]`` bool, True where the atom is present."""
        mask = np.zeros((self.num_residues, NUM_ATOM37), dtype=bool)
        mask[self.atom_residue, self.atom_name] = True
        mask.flags.writeable = False
        return mask

    @cached_property
    def atom37_coords(self) -> np.ndarray:
        """``[R, 37, 3]`` float32, zeros where an atom is absent."""
        pos = np.zeros((self.num_residues, NUM_ATOM37, 3), dtype=np.float32)
        pos[self.atom_residue, self.atom_name] = self.coords
        pos.flags.writeable = False
        return pos

    @property
    def sequence(self) -> str:
        return "".join(RESTYPES[t] if t < len(RESTYPES) else "X" for t in self.restype)

    @property
    def chains(self) -> tuple[str, ...]:
        """Chain ids in order of first appearance."""
        _, first = np.unique(self.chain_id, return_index=True)
        return tuple(str(c) for c in self.chain_id[np.sort(first)])

    # ---- slicing (returns new records) -----------------------------------------------------------------
    def take_residues(self, index: np.ndarray, name: str | None = None) -> Protein:
        """A new record with the residues ``index`` (sorted, unique) and all their atoms."""
        index = np.unique(np.asarray(index, dtype=np.int64))
        keep_atom = np.isin(self.atom_residue, index)
        new_res = np.searchsorted(index, self.atom_residue[keep_atom])
        return dataclasses.replace(
            self,
            name=self.name if name is None else name,
            restype=self.restype[index],
            chain_id=self.chain_id[index],
            res_id=self.res_id[index],
            ins_code=self.ins_code[index],
            atom_name=self.atom_name[keep_atom],
            element=self.element[keep_atom],
            coords=self.coords[keep_atom],
            atom_residue=new_res,
        )

    def select_chain(self, chain_id: str) -> Protein:
        """The residues of one chain, named ``"<name>/<chain>"``, with all ligands and the chain's EC."""
        index = np.flatnonzero(self.chain_id == chain_id)
        if len(index) == 0:
            raise StructureError(self.source or self.name, f"no protein chain {chain_id!r}")
        base = self.name.split("/")[0]
        sub = self.take_residues(index, name=f"{base}/{chain_id or '_'}")
        return dataclasses.replace(sub, ec={k: v for k, v in self.ec.items() if k == chain_id})

    def crop(self, start: int, stop: int) -> Protein:
        """Residues ``start:stop`` (a contiguous window in record order)."""
        return self.take_residues(np.arange(max(start, 0), min(stop, self.num_residues)))
