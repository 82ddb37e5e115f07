"""The task plug-in contract: labels, head, loss, scores and metrics. Adding a task adds a file."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import nn

from vabsnet.config import TaskConfig
from vabsnet.data.batch import Batch
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError
from vabsnet.model.outputs import EncoderOutput
from vabsnet.structure.protein import Protein


class Task(Protocol):
    name: str
    config: TaskConfig
    level: str  # "residue" (scores per residue) or "protein"

    def split_keys(self, store: Store) -> dict[str, list[str]]:
        """Store keys of ``train``, ``valid`` and ``test`` for this task."""

    def usable(self, protein: Protein) -> bool:
        """Whether a record has labels for this task (records without are left out, not negatives)."""

    def labels(self, protein: Protein) -> np.ndarray:
        """Targets of one (cropped) record: ``[A]`` per atom for atom-level tasks."""

    def head(self, dim: int, layers: int) -> nn.Module: ...

    def logits(self, head: nn.Module, out: EncoderOutput, batch: Batch) -> torch.Tensor: ...

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...

    def scores(self, logits: torch.Tensor, batch: Batch) -> list[np.ndarray]:
        """Per protein of the batch: its scores (per residue for residue-level tasks)."""

    def targets(self, target: torch.Tensor, batch: Batch) -> list[np.ndarray]: ...

    def metrics(self, scores: list[np.ndarray], targets: list[np.ndarray]) -> dict: ...

    selection_metric: str

    # Optional, for tasks with atom-level labels (binding-site): ``atom_pairs(logits, target, batch)`` gives
    # per protein (atom scores, atom labels) and ``atom_metrics(pairs)`` their metrics, added by `evaluate`.


def build_task(config: TaskConfig, store: Store | None = None) -> Task:
    """The task named by ``config.name``. ``task.config`` is ``config`` with what the task derived from
    the data filled in (e.g. the label vocabulary), so a run saved with it rebuilds without the store."""
    from vabsnet.tasks import TASKS

    if config.name not in TASKS:
        raise VabsnetError(f"unknown task {config.name!r}; available: {sorted(TASKS)}")
    return TASKS[config.name](config, store)
