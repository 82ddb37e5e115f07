"""Reading structures into :class:`Protein` records, and pure functions of a structure."""

from vabsnet.structure.io import load_structure
from vabsnet.structure.protein import Ligand, Protein

__all__ = ["Ligand", "Protein", "load_structure"]
