"""Weight files: safetensors with the full config (``config.json`` beside them and in their metadata)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from vabsnet.config import Config
from vabsnet.errors import VabsnetError
from vabsnet.model import VabsEncoder

ENCODER_FILE, CONFIG_FILE = "encoder.safetensors", "config.json"
MODEL_FILE = "model.safetensors"  # a fine-tuned run: encoder + task head
CALIBRATION_FILE = "calibration.json"  # decision settings chosen on valid after fine-tuning (Task.calibrate)


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
    """Encoder from ``encoder.safetensors`` and the ``config.json`` beside it (or the file's metadata);
    ``path`` may also name a shipped encoder (``vabsnet models``). Weights stored as float16 load into the
    float32 model."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    from vabsnet.runtime.shipped import resolve

    path = resolve(path)
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
