"""Where and in what precision a model runs."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from vabsnet.errors import VabsnetError


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``; a clear error for CUDA without a GPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VabsnetError(f"--device {device}: no CUDA device is available to this process")
    return torch.device(device)


def autocast(device: torch.device | str, precision: str) -> AbstractContextManager:
    """bf16 autocast for ``bf16-mixed`` (as in training), nothing for ``32``."""
    if precision != "bf16-mixed":
        return nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
