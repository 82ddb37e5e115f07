"""Prediction heads shared by pre-training and tasks."""

from __future__ import annotations

import torch
from torch import nn


class ClsHead(nn.Sequential):
    """``Linear(d, d) -> LayerNorm -> GELU -> Linear(d, out)``, last layer zero-initialised (spec 3.4)."""

    def __init__(self, dim: int, out: int, hidden: int | None = None) -> None:
        hidden = hidden or dim
        last = nn.Linear(hidden, out)
        super().__init__(nn.Linear(dim, hidden), nn.LayerNorm(hidden), nn.GELU(), last)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)


class Standardize(nn.Module):
    """``(x - mean) / sqrt(var + eps)`` per feature, with statistics fitted once on training readouts
    (:meth:`fit`) and kept as buffers, so they are saved with the model and fixed while it trains.

    Why: a fresh encoder's readouts can vary across proteins by 1e-6 of their scale (the residual branches
    start at zero), which a head reading them raw cannot tell apart. ``eps`` keeps features that do not vary
    at all (float noise) from being blown up: a feature with sd well below ``sqrt(eps)`` stays near zero.
    Before :meth:`fit` it is the identity.
    """

    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self, dim: int, eps: float = 1e-4) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """``x [N, D]``: rows of training readouts."""
        x = x.detach().to(self.mean.device, torch.float64)
        self.mean.copy_(x.mean(0))
        self.scale.copy_(1.0 / torch.sqrt(x.var(0, unbiased=False) + self.eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) * self.scale.to(x.dtype)


class TaskHead(nn.Module):
    """A task head: :class:`Standardize` on the readout, then ``body`` (the trainable part)."""

    norm: Standardize

    def __init__(self, dim: int, body: nn.Module) -> None:
        super().__init__()
        self.norm = Standardize(dim)
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.norm(x))
