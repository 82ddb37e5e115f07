"""Annotations read from structure-file headers: EC numbers per chain."""

from __future__ import annotations

import re
from collections.abc import Iterable

_EC_RE = re.compile(r"^\d+\.(\d+|-)\.(\d+|-)\.(n?\d+|-)$")


def _clean_ec(values: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        for token in re.split(r"[,\s]+", value.strip()):
            token = token.strip().rstrip(".;")
            if _EC_RE.match(token) and token not in out:
                out.append(token)
    return tuple(out)


def ec_from_pdb_header(lines: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """EC numbers per chain from the ``COMPND`` records of a PDB file.

    ``COMPND`` holds ``KEY: value;`` pairs per molecule (``MOL_ID``), continued over several lines; the
    ``CHAIN`` key lists the molecule's chains and ``EC`` its EC numbers.

    >>> ec_from_pdb_header(["COMPND    MOL_ID: 1;", "COMPND   2 MOLECULE: LYSOZYME;",
    ...                     "COMPND   3 CHAIN: A, B;", "COMPND   4 EC: 3.2.1.17;"])
    {'A': ('3.2.1.17',), 'B': ('3.2.1.17',)}
    """
    text = " ".join(line[10:80].strip() for line in lines if line.startswith("COMPND"))
    result: dict[str, tuple[str, ...]] = {}
    chains: list[str] = []
    ecs: list[str] = []

    def flush() -> None:
        cleaned = _clean_ec(ecs)
        if cleaned:
            for chain in chains:
                result[chain] = tuple(dict.fromkeys(result.get(chain, ()) + cleaned))

    for item in text.split(";"):
        key, sep, value = item.partition(":")
        if not sep:
            continue
        key = key.strip().upper()
        if key == "MOL_ID":
            flush()
            chains, ecs = [], []
        elif key == "CHAIN":
            chains = [c.strip() for c in value.split(",") if c.strip()]
        elif key == "EC":
            ecs.append(value)
    flush()
    return result


def ec_from_cif_block(block: object) -> dict[str, tuple[str, ...]]:
    """EC numbers per author chain id from ``_entity.pdbx_ec`` and ``_entity_poly.pdbx_strand_id``.

    ``block`` is a biotite ``CIFBlock`` or ``BinaryCIFBlock``.
    """
    try:
        entity = block["entity"]  # type: ignore[index]
        poly = block["entity_poly"]  # type: ignore[index]
    except KeyError:
        return {}
    if "pdbx_ec" not in entity or "pdbx_strand_id" not in poly:
        return {}
    ec_by_entity = {
        str(eid): _clean_ec([str(ec)])
        for eid, ec in zip(entity["id"].as_array(str), entity["pdbx_ec"].as_array(str), strict=True)
    }
    result: dict[str, tuple[str, ...]] = {}
    for eid, strands in zip(poly["entity_id"].as_array(str), poly["pdbx_strand_id"].as_array(str),
                            strict=True):
        ecs = ec_by_entity.get(str(eid), ())
        if ecs:
            for chain in str(strands).split(","):
                result[chain.strip()] = ecs
    return result
