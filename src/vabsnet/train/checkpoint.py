"""Saving and loading: encoder weights (safetensors + config.json) and full training checkpoints."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import torch

from vabsnet.config import Config
from vabsnet.errors import VabsnetError
from vabsnet.model import VabsEncoder

ENCODER_FILE, CONFIG_FILE, CHECKPOINT_FILE = "encoder.safetensors", "config.json", "last.ckpt"


class CheckpointError(VabsnetError):
    """A checkpoint or weights file is missing, damaged, or does not match its config."""


def save_weights(module: torch.nn.Module, path: str | Path, config: Config, kind: str) -> None:
    """A module's weights as safetensors with the config in the metadata (temporary name, then rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(tmp), metadata={"format": kind, "config": config.to_json()})
    os.replace(tmp, path)


def save_encoder(encoder: VabsEncoder, path: str | Path, config: Config) -> None:
    """Encoder weights as safetensors."""
    save_weights(encoder, path, config, "vabsnet-encoder")


def load_encoder(path: str | Path, map_location: str = "cpu") -> tuple[VabsEncoder, Config]:
    """Encoder from ``encoder.safetensors`` and the ``config.json`` beside it (or the file's metadata)."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if path.is_dir():
        path = path / ENCODER_FILE
    if not path.exists():
        raise CheckpointError(f"{path}: no such weights file")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        state = load_file(str(path), device=map_location)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    cfg_path = path.with_name(CONFIG_FILE)
    try:
        config = Config.load(cfg_path) if cfg_path.exists() else Config.from_dict(json.loads(meta["config"]))
    except (KeyError, ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: no usable config.json beside it nor in its metadata ({exc})") from None
    encoder = VabsEncoder(config.encoder)
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not fit the config (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]})")
    return encoder, config


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
