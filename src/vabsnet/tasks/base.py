"""The task plug-in contract. A task owns its labels, dataset and collation (defaults here), head, loss,
scores, typed metrics with the headline it names, plots and prediction writer; adding one is a module plus a
line in ``vabsnet.registry.TASKS`` (tests/test_toy_task.py adds a residue-level regression that way)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from vabsnet.config import Config, TaskConfig
from vabsnet.data.batch import Batch
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError
from vabsnet.model.heads import TaskHead
from vabsnet.model.outputs import EncoderOutput
from vabsnet.plots import plot_roc_pr
from vabsnet.structure.protein import Protein
from vabsnet.tasks.augment import Augmented
from vabsnet.tasks.data import TaskDataset, collate_labelled


class PredictionWriter(Protocol):
    """Receives every chain's scores during ``vabsnet predict TASK``; ``close`` finishes the outputs."""

    def add(self, stem: str, chain: str, protein: Protein, scores: np.ndarray) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Metrics:
    """A task's metrics of one split: ``values`` (the figures, higher or lower is better as the task says),
    ``counts`` (proteins, terms ...) and ``notes`` (how each figure is averaged, where a threshold came from,
    figures at other settings). ``metrics["auroc"]`` reads a value; :meth:`to_dict` is the flat form written
    to ``metrics.json``."""

    values: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def to_dict(self) -> dict[str, object]:
        return {**self.values, **self.counts, **self.notes}


class Task:
    """Base class of tasks. Subclasses set ``name``, ``level`` (``"residue"``: scores per residue;
    ``"protein"``: one score vector per chain), ``selection_metric`` (a value of :meth:`metrics`, higher is
    better) and ``headline`` (the values a one-line summary shows), and implement the methods that raise
    ``NotImplementedError`` here."""

    name: str
    level: str
    selection_metric: str
    headline: tuple[str, ...] = ()
    config_class: type[TaskConfig] = TaskConfig  # the task's ``task.*`` section
    config: TaskConfig
    # fine-tuning schedule (vabsnet.train.finetune.recipe): official fine-tuning rate / pre-training rate,
    # and the official schedule used on the ``paper`` preset
    lr_ratio: float = 0.5
    paper_schedule: dict[str, object] = {"train.lr": 5e-5, "train.warmup_steps": 5_000, "train.max_steps": 200_000}

    def split_keys(self, store: Store) -> dict[str, list[str]]:
        """Store keys of ``train``, ``valid`` and ``test`` for this task."""
        return store.splits()

    def usable(self, protein: Protein) -> bool:
        """Whether a record has labels for this task (records without are left out, not negatives)."""
        raise NotImplementedError

    def labels(self, protein: Protein) -> np.ndarray:
        """Targets of one (cropped) record: ``[A]`` per atom for atom-level tasks, ``[1, T]`` per protein."""
        raise NotImplementedError

    def calibrate(self, scores: list[np.ndarray], targets: list[np.ndarray]) -> dict | None:
        """Decision settings chosen on the valid split once training ends (a threshold, say), saved with the
        model as ``calibration.json``; None: the task has none."""
        return None

    def use_calibration(self, calibration: dict) -> None:
        """Apply what :meth:`calibrate` chose (to metrics and predictions)."""

    def augment(self, protein: Protein, rng: np.random.Generator) -> Augmented | None:
        """Training-time augmentation of a (cropped) record after its labels are taken; None: none."""
        return None

    def dataset(self, store: Store, keys: list[str], config: Config, *, train: bool, seed: int) -> TaskDataset:
        return TaskDataset(store, keys, config, self, train=train, seed=seed)

    collate = staticmethod(collate_labelled)

    def readout_dim(self, dim: int, layers: int) -> int:
        """Width of :meth:`readout`'s rows for an encoder of width ``dim`` and ``layers`` layers."""
        raise NotImplementedError

    def readout(self, out: EncoderOutput, batch: Batch) -> torch.Tensor:
        """What the head reads: ``[rows, F]``, one row per target row (per atom for atom-level labels, per
        protein for protein-level ones), float32."""
        raise NotImplementedError

    def head_body(self, features: int, dim: int) -> nn.Module:
        """The trainable part of the head: ``[rows, features]`` standardised readouts -> logits."""
        raise NotImplementedError

    def head(self, dim: int, layers: int) -> TaskHead:
        """:class:`TaskHead`: fixed standardisation of the readout (fitted by fine-tuning's head-first
        phase on the training readouts), then :meth:`head_body`."""
        features = self.readout_dim(dim, layers)
        return TaskHead(features, self.head_body(features, dim))

    def init_head(self, head: TaskHead, x: torch.Tensor, y: torch.Tensor) -> None:
        """Before the head-first fit: the standardisation from the training readouts ``x [rows, F]``, and the
        last layer's bias at the training base rate of each output (``y [rows, ...]``, the loss targets), so
        the head starts as the naive predictor (every protein or atom gets the training frequency) and the fit
        starts from there instead of from p = 0.5."""
        head.norm.fit(x)
        last = [m for m in head.body.modules() if isinstance(m, nn.Linear)][-1]
        rate = y.detach().double().mean(0).clamp(1e-4, 1.0 - 1e-4)
        with torch.no_grad():
            last.bias.copy_(torch.log(rate / (1.0 - rate)).reshape(last.bias.shape))

    def head_logits(self, head: nn.Module, features: torch.Tensor) -> torch.Tensor:
        """Logits from readout rows (the shape :meth:`loss` takes)."""
        return head(features).float()

    def logits(self, head: nn.Module, out: EncoderOutput, batch: Batch) -> torch.Tensor:
        return self.head_logits(head, self.readout(out, batch))

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def scores(self, logits: torch.Tensor, batch: Batch) -> list[np.ndarray]:
        """Per protein of the batch: its scores (per residue for residue-level tasks)."""
        raise NotImplementedError

    def targets(self, target: torch.Tensor, batch: Batch) -> list[np.ndarray]:
        raise NotImplementedError

    def metrics(self, scores: list[np.ndarray], targets: list[np.ndarray]) -> Metrics:
        raise NotImplementedError

    def plot(self, scores: list[np.ndarray], targets: list[np.ndarray], out: Path, split: str) -> None:
        """Figures of one split's predictions into ``out`` (default: ROC and PR curves of the pooled scores
        against binary targets, ``roc_<split>.png`` and ``pr_<split>.png``)."""
        plot_roc_pr(np.concatenate([np.ravel(s) for s in scores]),
                    np.concatenate([np.ravel(t) for t in targets]).astype(bool), out, split)

    def atom_pairs(self, logits: torch.Tensor, target: torch.Tensor, batch: Batch) -> list[tuple] | None:
        """Per protein (atom scores, atom labels), for tasks with atom-level labels; None otherwise."""
        return None

    def atom_metrics(self, pairs: list[tuple]) -> dict:
        return {}

    def prediction_writer(self, out: Path) -> PredictionWriter:
        raise NotImplementedError


def build_task(config: TaskConfig, store: Store | None = None) -> Task:
    """The task named by ``config.name``. ``task.config`` is ``config`` with what the task derived from
    the data filled in (e.g. the label vocabulary), so a run saved with it rebuilds without the store."""
    from vabsnet.registry import TASKS, task_class

    if config.name not in TASKS:
        raise VabsnetError(f"unknown task {config.name!r}; available: {sorted(TASKS)}")
    return task_class(config.name)(config, store)
