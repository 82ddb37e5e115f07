"""Function labels: the DeepFRI / TorchDrug dataset layout, and EC numbers from structure headers.

DeepFRI layout (also what TorchDrug's ``EnzymeCommission`` and ``GeneOntology`` download), in one folder:

- ``nrPDB-EC_annot.tsv``: ``### EC-numbers``, a tab-separated line of every term, a header
  ``PDB-chain<TAB>EC-numbers``, then one ``1A0B-A<TAB>1.1.1.1,2.3.4.5`` row per chain.
- ``nrPDB-GO_annot.tsv``: three pairs ``### GO-terms (<branch>)`` + terms line and ``### GO-names (<branch>)``
  + names line for molecular_function, biological_process, cellular_component; a header; then rows of a
  chain and three comma lists (one per branch, possibly empty).
- split lists ``nrPDB-EC_train.txt`` / ``_valid.txt`` / ``_test.txt`` (one chain id per line; dated names
  such as ``nrPDB-GO_2019.06.18_test.txt`` are accepted), or TorchDrug's ``train/ valid/ test/`` folders of
  structure files named ``<chain id>_<anything>.pdb``.
- ``nrPDB-EC_test.csv``: ``PDB-chain,<30%,<40%,<50%,<70%,<95%`` with 0/1 per cutoff; a test chain is kept at
  cutoff c when its column is not ``0`` (TorchDrug's rule).

Chain ids are ``<PDB id upper-case>-<chain>``; :func:`deepfri_id` maps store keys (``entry/chain``) onto them.
"""

from __future__ import annotations

import csv
from pathlib import Path

from vabsnet.errors import VabsnetError

GO_BRANCHES = {"go-mf": "molecular_function", "go-bp": "biological_process", "go-cc": "cellular_component"}
CUTOFFS = (0.3, 0.4, 0.5, 0.7, 0.95)
SPLITS = ("train", "valid", "test")


class AnnotationError(VabsnetError):
    """A label file is missing or not in the DeepFRI format."""


def deepfri_id(key: str) -> str:
    """``"1a0b/A"`` -> ``"1A0B-A"``; ``"1A0B-A_A/A"`` (a TorchDrug file stem) -> ``"1A0B-A"``."""
    entry, _, chain = key.rpartition("/")
    stem = Path(entry).name.split("_")[0]
    if "-" in stem:
        pdb, _, own_chain = stem.partition("-")
        return f"{pdb.upper()}-{own_chain}"
    return f"{stem.upper()}-{chain}"


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: cannot read ({exc})") from None


def read_ec_annot(path: str | Path) -> tuple[list[str], dict[str, list[str]]]:
    """Terms (file order) and chain -> EC numbers of ``nrPDB-EC_annot.tsv``."""
    path = Path(path)
    lines = _lines(path)
    if len(lines) < 3 or not lines[0].startswith("### EC"):
        raise AnnotationError(f"{path}: not a DeepFRI EC annotation file (first line {lines[:1]!r})")
    terms = [t for t in lines[1].strip().split("\t") if t]
    return terms, _rows(path, lines[3:], columns=1)[0]


def read_go_annot(path: str | Path, branch: str) -> tuple[list[str], dict[str, list[str]]]:
    """Terms and chain -> GO terms of one branch (``molecular_function`` ...) of ``nrPDB-GO_annot.tsv``."""
    path = Path(path)
    lines = _lines(path)
    order = list(GO_BRANCHES.values())
    if branch not in order:
        raise AnnotationError(f"unknown GO branch {branch!r}; one of {order}")
    if len(lines) < 13 or not lines[0].startswith("### GO-terms"):
        raise AnnotationError(f"{path}: not a DeepFRI GO annotation file (first line {lines[:1]!r})")
    header = f"### GO-terms ({branch})"
    try:
        at = [line.strip() for line in lines[:12]].index(header)
    except ValueError:
        raise AnnotationError(f"{path}: no {header!r} line") from None
    terms = [t for t in lines[at + 1].strip().split("\t") if t]
    return terms, _rows(path, lines[13:], columns=3)[order.index(branch)]


def _rows(path: Path, rows: list[str], columns: int) -> list[dict[str, list[str]]]:
    out: list[dict[str, list[str]]] = [{} for _ in range(columns)]
    for number, row in enumerate(rows, start=1):
        if not row.strip():
            continue
        fields = row.rstrip("\n").split("\t")
        if len(fields) < 2:
            raise AnnotationError(f"{path}: data row {number} has no tab-separated terms: {row[:60]!r}")
        fields += [""] * (columns + 1 - len(fields))
        for i in range(columns):
            out[i][fields[0]] = [t for t in fields[1 + i].split(",") if t]
    return out


def _find(folder: Path, pattern: str) -> Path | None:
    hits = sorted(folder.glob(pattern))
    return hits[0] if hits else None


def annotation_file(folder: str | Path, kind: str) -> Path:
    """``nrPDB-EC_annot.tsv`` or ``nrPDB-GO_annot.tsv`` (dated variants accepted) in ``folder``."""
    folder = Path(folder)
    found = _find(folder, f"nrPDB-{kind}*_annot.tsv")
    if found is None:
        raise AnnotationError(f"{folder}: no nrPDB-{kind}_annot.tsv (the DeepFRI / TorchDrug label file)")
    return found


def split_ids(folder: str | Path, kind: str, test_cutoff: float = 0.95) -> dict[str, set[str]]:
    """Chain ids per split (``train``/``valid``/``test``), the test split filtered at ``test_cutoff``."""
    folder = Path(folder)
    out: dict[str, set[str]] = {}
    for split in SPLITS:
        listed = _find(folder, f"nrPDB-{kind}*_{split}.txt")
        if listed is not None:
            out[split] = {line.strip() for line in _lines(listed) if line.strip()}
        elif (folder / split).is_dir():
            out[split] = {p.name.split("_")[0].split(".")[0] for p in (folder / split).iterdir() if p.is_file()}
        else:
            raise AnnotationError(f"{folder}: no nrPDB-{kind}_{split}.txt and no {split}/ folder")
    table = _find(folder, f"nrPDB-{kind}*_test.csv")
    if table is not None:
        out["test"] -= _excluded(table, test_cutoff)
    return out


def _excluded(path: Path, cutoff: float) -> set[str]:
    """Test chains whose column for ``cutoff`` is ``0`` (identity to training chains above it)."""
    if cutoff not in CUTOFFS:
        raise AnnotationError(f"test cutoff {cutoff} is not one of {CUTOFFS}")
    column = CUTOFFS.index(cutoff) + 1
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or not rows[0] or rows[0][0] != "PDB-chain" or len(rows[0]) < len(CUTOFFS) + 1:
        raise AnnotationError(f"{path}: expected a header 'PDB-chain,<30%,<40%,<50%,<70%,<95%'")
    return {row[0] for row in rows[1:] if len(row) > column and row[column].strip() == "0"}


def truncate_ec(number: str, level: int) -> str | None:
    """``"3.4.21.4"`` at level 2 -> ``"3.4"``; ``None`` when a kept level is unknown (``-``)."""
    parts = number.split(".")[:level]
    if len(parts) < level or any(p in ("", "-") for p in parts):
        return None
    return ".".join(parts)


__all__ = ["AnnotationError", "GO_BRANCHES", "annotation_file", "deepfri_id", "read_ec_annot",
           "read_go_annot", "split_ids", "truncate_ec"]
