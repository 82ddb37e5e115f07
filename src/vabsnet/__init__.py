"""vabsnet: bi-level (residue + atom) protein representations pre-trained with span masking (SMPC)."""

from vabsnet.errors import StoreError, StructureError, VabsnetError

__version__ = "0.1.0"

__all__ = ["StoreError", "StructureError", "VabsnetError", "__version__"]
