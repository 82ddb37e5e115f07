"""The one batched evaluation loop: items grouped under an atom budget, collated, moved to the device and
computed in eval mode without gradients, in the run's precision."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from vabsnet.constants import ATOM_BUDGET
from vabsnet.data.batch import atom_batches
from vabsnet.runtime.device import autocast

R = TypeVar("R")


@torch.no_grad()
def run_batches(model: nn.Module, sizes: Sequence[int], item: Callable[[int], Any],
                collate: Callable[[list], Any], compute: Callable[[Any], R], *, precision: str = "32",
                budget: int = ATOM_BUDGET, groups: Iterable[list[int]] | None = None) -> list[R]:
    """``compute(batch)`` for every batch of items ``0 .. len(sizes) - 1`` (``sizes``: atoms per item;
    ``groups``: other index groups than the atom-budget ones), with ``model`` in eval mode on its own device
    (its training mode restored after). ``collate`` builds a batch with a ``.to(device)`` from the items."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        for group in (groups if groups is not None else atom_batches(sizes, budget)):
            batch = collate([item(i) for i in group]).to(device)  # type: ignore[attr-defined]
            with autocast(device, precision):
                out.append(compute(batch))
    finally:
        model.train(was)
    return out
