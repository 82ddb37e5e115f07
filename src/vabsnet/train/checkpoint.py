"""Full training checkpoints (``last.ckpt``: weights, optimizer, scheduler and loop state, with the config)."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from vabsnet.runtime.weights import CheckpointError

CHECKPOINT_FILE = "last.ckpt"


def read_checkpoint(path: str | Path) -> dict:
    """Load a full training checkpoint with ``weights_only=True``; clear errors for damaged files."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CheckpointError(f"{path}: damaged or foreign checkpoint ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200]})") from None
    if not isinstance(ckpt, dict) or "vabsnet_config" not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(f"{path}: not a vabsnet training checkpoint")
    return ckpt
