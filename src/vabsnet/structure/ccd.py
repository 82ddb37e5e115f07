"""What a residue name is, from the Chemical Component Dictionary (CCD) that biotite ships.

Used for names the small built-in tables do not know: a modified amino acid maps to its parent (ABA ->
ALA, via ``mon_nstd_parent_comp_id`` or the one-letter code), a saccharide is recognised as one (glycans).
Lookups are cached per name; a name the CCD lacks is "not an amino acid, not a sugar".
"""

from __future__ import annotations

from functools import lru_cache

from vabsnet.constants import RESTYPE_1TO3, RESTYPE_3TO1

_PEPTIDE_LINKING = ("L-PEPTIDE", "D-PEPTIDE", "PEPTIDE LINKING")


@lru_cache(maxsize=4096)
def link_type(res_name: str) -> str:
    """The CCD ``chem_comp.type`` in upper case (``L-PEPTIDE LINKING``, ``D-SACCHARIDE``, ...), or ``""``."""
    import biotite.structure.info as info

    try:
        value = info.link_type(res_name)
    except (KeyError, ValueError):
        return ""
    return str(value or "").upper()


@lru_cache(maxsize=4096)
def amino_acid_parent(res_name: str) -> str | None:
    """Parent standard amino acid (3 letters) of a peptide-linking CCD component, ``"UNK"`` when it links
    like an amino acid but has no standard parent, ``None`` when it is no amino acid."""
    if not link_type(res_name).startswith(_PEPTIDE_LINKING):
        return None
    import biotite.structure.info as info

    try:
        parent = info.get_from_ccd("chem_comp", res_name, "mon_nstd_parent_comp_id")
        parent = str(parent.as_item()).upper() if parent is not None else ""
    except (KeyError, ValueError, AttributeError):
        parent = ""
    if parent in RESTYPE_3TO1:
        return parent
    try:
        letter = str(info.one_letter_code(res_name) or "")
    except (KeyError, ValueError):
        letter = ""
    return RESTYPE_1TO3.get(letter, "UNK")


def is_saccharide(res_name: str) -> bool:
    return "SACCHARIDE" in link_type(res_name)
