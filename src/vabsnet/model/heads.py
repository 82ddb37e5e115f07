"""Prediction heads shared by pre-training and tasks."""

from __future__ import annotations

from torch import nn


class ClsHead(nn.Sequential):
    """``Linear(d, d) -> LayerNorm -> GELU -> Linear(d, out)``, last layer zero-initialised (spec 3.4)."""

    def __init__(self, dim: int, out: int, hidden: int | None = None) -> None:
        hidden = hidden or dim
        super().__init__(nn.Linear(dim, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Linear(hidden, out))
        nn.init.zeros_(self[-1].weight)
        nn.init.zeros_(self[-1].bias)
