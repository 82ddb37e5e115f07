"""The bundled corpus: real protein structures from package test data (see ``scripts/build_corpus.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class CorpusEntry:
    """One bundled file: which chains were kept, where it came from, and its annotations."""

    id: str
    path: Path
    chains: tuple[str, ...]
    source_package: str
    source_version: str
    licence: str
    ligands: tuple[str, ...]
    ec: dict[str, tuple[str, ...]]
    residues: dict[str, int]


def _data_dir() -> Path:
    return Path(str(resources.files("vabsnet.corpus") / "data"))


@cache
def entries() -> tuple[CorpusEntry, ...]:
    """All entries of ``corpus.json``, in file order."""
    index = json.loads((_data_dir() / "corpus.json").read_text())
    return tuple(
        CorpusEntry(
            id=e["id"], path=_data_dir() / e["file"], chains=tuple(e["chains"]),
            source_package=e["source_package"], source_version=e["source_version"], licence=e["licence"],
            ligands=tuple(e["ligands"]), ec={k: tuple(v) for k, v in e["ec"].items()},
            residues=dict(e["residues"]),
        )
        for e in index["entries"]
    )


def bundled() -> list[Path]:
    """Paths of the bundled structure files."""
    return [e.path for e in entries()]


def entry(entry_id: str) -> CorpusEntry:
    """The entry with this id (raises ``KeyError`` with the known ids' count otherwise)."""
    for e in entries():
        if e.id == entry_id:
            return e
    raise KeyError(f"no bundled entry {entry_id!r} among {len(entries())}")
