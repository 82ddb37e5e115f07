"""vabsnet: bi-level (residue + atom) protein representations pre-trained with span masking (SMPC).

The shipped models load by name, with no training (``vabsnet models`` lists them)::

    import vabsnet
    encoder, config = vabsnet.load_encoder("tiny-span")            # VabsEncoder, Config
    model, config, task = vabsnet.load_model("tiny-binding-site")  # FinetuneModel, Config, Task
    vabsnet.models()                                                # name -> ModelCard

Both loaders take a run directory (or weights file) as well as a name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vabsnet.errors import StoreError, StructureError, VabsnetError

if TYPE_CHECKING:
    from vabsnet.runtime.shipped import ModelCard

__version__ = "0.1.0"

__all__ = ["StoreError", "StructureError", "VabsnetError", "__version__", "load_encoder", "load_model", "models"]


def models() -> dict[str, ModelCard]:
    """The models shipped with this version, by name (their cards)."""
    from vabsnet.runtime.shipped import shipped_models

    return dict(shipped_models())


def __getattr__(name: str) -> Any:  # the loaders import torch: only when asked for
    if name in ("load_encoder", "load_model"):
        import vabsnet.runtime as runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'vabsnet' has no attribute {name!r}")
