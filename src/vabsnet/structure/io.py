"""Reading PDB / mmCIF / BinaryCIF files (optionally gzipped) into :class:`Protein` records.

Parsing is delegated to biotite, a maintained pure-Python/Cython library that reads all three formats,
resolves alternate locations and models, and installs as a small wheel everywhere (gemmi is faster but its
Python API returns its own object model; biotite gives numpy arrays, which is what we store).
The protein-specific clean-up (modified residues, atom naming, ligands) lives in ``convert.py``.
"""

from __future__ import annotations

import gzip
import io
import warnings
import zlib
from pathlib import Path
from typing import Literal

from vabsnet.errors import StructureError
from vabsnet.structure.convert import LoadReport, atoms_to_protein
from vabsnet.structure.header import ec_from_cif_block, ec_from_pdb_header
from vabsnet.structure.protein import Protein

PDB_SUFFIXES = (".pdb", ".ent")
CIF_SUFFIXES = (".cif", ".mmcif")
BCIF_SUFFIXES = (".bcif",)
SUPPORTED_SUFFIXES = PDB_SUFFIXES + CIF_SUFFIXES + BCIF_SUFFIXES
Altloc = Literal["first", "occupancy"]


def structure_format(path: str | Path) -> tuple[str, bool]:
    """``(format, gzipped)`` from the file name, format one of ``pdb``, ``cif``, ``bcif``."""
    name = Path(path).name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    for fmt, suffixes in (("pdb", PDB_SUFFIXES), ("cif", CIF_SUFFIXES), ("bcif", BCIF_SUFFIXES)):
        if name.endswith(suffixes):
            return fmt, gz
    raise StructureError(str(path), f"unsupported file extension; expected one of {SUPPORTED_SUFFIXES} "
                         "(optionally .gz)")


def _read_bytes(path: Path, gz: bool) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StructureError(str(path), "file not found") from None
    except OSError as exc:
        raise StructureError(str(path), f"cannot read file: {exc.strerror or exc}") from None
    if gz:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise StructureError(str(path), f"corrupt or truncated gzip data ({exc})") from None
    if not data.strip():
        raise StructureError(str(path), "empty file")
    return data


def _as_text(path: Path, data: bytes) -> str:
    if b"\x00" in data[:65536]:
        raise StructureError(str(path), "binary content in a text structure format")
    # Headers of old files carry Latin-1 characters; coordinates are ASCII either way.
    return data.decode("utf-8", errors="replace")


def _check_pdb_records(path: Path, lines: list[str]) -> None:
    """Clear reasons for the common ways a PDB file is broken, before the parser sees it."""
    first = next((line for line in lines if line.strip()), "")
    if first.startswith("data_"):
        raise StructureError(str(path), "mmCIF content in a PDB-named file (rename it to .cif)")
    records = [i for i, line in enumerate(lines) if line.startswith(("ATOM", "HETATM"))]
    if not records:
        raise StructureError(str(path), "no ATOM/HETATM records")
    for i in records:
        if len(lines[i].rstrip()) < 54:  # x, y, z end at column 54
            raise StructureError(str(path), f"line {i + 1}: ATOM/HETATM record cut short before its "
                                 "coordinates end (truncated file?)")


def _parse(path: Path, model: int, altloc: Altloc) -> tuple[object, dict[str, tuple[str, ...]]]:
    """Biotite ``AtomArray`` of one model and the EC annotation of the header."""
    from biotite.structure.io import pdb, pdbx

    fmt, gz = structure_format(path)
    data = _read_bytes(path, gz)
    try:
        if fmt == "pdb":
            text = _as_text(path, data)
            lines = text.splitlines()
            _check_pdb_records(path, lines)
            pdb_file = pdb.PDBFile.read(io.StringIO(text))
            with warnings.catch_warnings():  # "elements were guessed from atom name"
                warnings.simplefilter("ignore", UserWarning)
                atoms = pdb_file.get_structure(model=model, **_altloc_args(altloc))
            ec = ec_from_pdb_header(line for line in lines[:5000] if line.startswith("COMPND"))
        else:
            if fmt == "cif":
                cif = pdbx.CIFFile.read(io.StringIO(_as_text(path, data)))
            else:
                cif = pdbx.BinaryCIFFile.read(io.BytesIO(data))
            blocks = [cif[name] for name in cif if "atom_site" in cif[name]]
            if not blocks:
                raise StructureError(str(path), "no _atom_site category")
            block = blocks[0]  # the first data block with coordinates
            with warnings.catch_warnings():  # missing auth_* columns fall back to label_* silently
                warnings.simplefilter("ignore", UserWarning)
                atoms = pdbx.get_structure(block, model=model, use_author_fields=True, **_altloc_args(altloc))
            ec = ec_from_cif_block(block)
    except StructureError:
        raise
    except Exception as exc:  # biotite raises many types on malformed input
        raise StructureError(str(path), f"cannot parse as {fmt.upper()}: {type(exc).__name__}: {exc}") from None
    if altloc == "occupancy":
        atoms = atoms[altloc_by_residue(atoms)]
    return atoms, ec


def _altloc_args(altloc: Altloc) -> dict:
    return {"altloc": "all", "extra_fields": ["occupancy"]} if altloc == "occupancy" else {"altloc": altloc}


def altloc_by_residue(atoms: object) -> object:
    """``[N]`` bool: per residue (chain, number, insertion code), the atoms without an alternate location
    plus those of the location with the highest mean occupancy (the first on ties). Per residue, not per
    atom, so one conformer is never mixed with another, and where the locations are different residues
    (3U7T 22: SER at 0.53 or PRO at 0.47) the more occupied residue is the one kept."""
    import numpy as np

    alt = np.asarray(atoms.altloc_id).astype(str)  # type: ignore[attr-defined]
    alt = np.where(np.isin(alt, ["", ".", "?", " "]), "", alt)
    keep = alt == ""
    if keep.all():
        return keep
    occ = np.asarray(atoms.occupancy, dtype=np.float64)  # type: ignore[attr-defined]
    key = np.char.add(np.char.add(np.asarray(atoms.chain_id).astype(str), "|"),  # type: ignore[attr-defined]
                      np.char.add(np.asarray(atoms.res_id).astype(str),  # type: ignore[attr-defined]
                                  np.char.add("|", np.asarray(atoms.ins_code).astype(str))))  # type: ignore[attr-defined]
    alt_rows = np.flatnonzero(~keep)
    _, group = np.unique(key[alt_rows], return_inverse=True)
    order = np.argsort(group, kind="stable")  # rows of one residue together, in file order
    for rows in np.split(alt_rows[order], np.flatnonzero(np.diff(group[order])) + 1):
        ids = list(dict.fromkeys(alt[rows]))  # in file order
        best = max(ids, key=lambda a: (occ[rows][alt[rows] == a].mean(), -ids.index(a)))
        keep[rows[alt[rows] == best]] = True
    return keep


def load_structure(
    path: str | Path,
    *,
    chains: list[str] | tuple[str, ...] | None = None,
    model: int = 1,
    altloc: Altloc = "first",
    max_residues: int | None = None,
) -> Protein:
    """Read a structure file into a :class:`Protein` of its protein chains, heavy atoms only.

    Parameters
    ----------
    path
        ``.pdb``, ``.ent``, ``.cif``, ``.mmcif`` or ``.bcif``, optionally gzipped (``.gz``).
    chains
        Author chain ids to keep; all protein chains when ``None``.
    model
        1-based model number (multi-model files: the first by default).
    altloc
        ``"first"`` keeps the first alternate location, ``"occupancy"`` the most occupied one.
    max_residues
        Refuse structures with more protein residues than this (a guard for batch jobs).

    Returns
    -------
    Protein
        Residues are standard amino acids, modified residues mapped to their parent (MSE -> MET), and
        unknown amino acids (X). Residues missing N, CA or C are dropped. Ligands (non-polymer groups other
        than water, ions and additives) are kept in ``Protein.ligands``.

    Raises
    ------
    StructureError
        When the file is missing, unreadable, malformed, or holds no protein residue.
    """
    path = Path(path)
    protein, _ = load_structure_with_report(path, chains=chains, model=model, altloc=altloc,
                                            max_residues=max_residues)
    return protein


def load_structure_with_report(
    path: str | Path,
    *,
    chains: list[str] | tuple[str, ...] | None = None,
    model: int = 1,
    altloc: Altloc = "first",
    max_residues: int | None = None,
) -> tuple[Protein, LoadReport]:
    """As :func:`load_structure`, also returning what was dropped."""
    path = Path(path)
    if model < 1:
        raise StructureError(str(path), f"model must be >= 1, got {model}")
    atoms, ec = _parse(path, model, altloc)
    return atoms_to_protein(atoms, source=str(path), name=_stem(path), ec=ec, chains=chains,
                            max_residues=max_residues)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz",) + SUPPORTED_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name
