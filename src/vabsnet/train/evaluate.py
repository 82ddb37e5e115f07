"""A fine-tuned model and its evaluation: ``vabsnet evaluate`` and the validation passes of fine-tuning.

Evaluation scores whole chains (no crop, as ``predict`` does), batched by an atom budget on any device;
a chain's scores never depend on the other chains in its batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vabsnet.atomic import atomic_write_json
from vabsnet.config import Config
from vabsnet.constants import ATOM_BUDGET
from vabsnet.data.batch import atom_batches
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError
from vabsnet.model import VabsEncoder
from vabsnet.tasks.base import Task, build_task
from vabsnet.tasks.data import TaskDataset
from vabsnet.train.checkpoint import CONFIG_FILE, CheckpointError
from vabsnet.train.engine import autocast
from vabsnet.train.plots import plot_roc_pr

MODEL_FILE = "model.safetensors"
CALIBRATION_FILE = "calibration.json"  # decision settings chosen on valid after fine-tuning (Task.calibrate)


class FinetuneModel(nn.Module):
    """Encoder + task head; its state dict is what ``model.safetensors`` holds."""

    def __init__(self, config: Config, task: Task) -> None:
        super().__init__()
        self.encoder = VabsEncoder(config.encoder)
        self.head = task.head(config.encoder.dim, config.encoder.layers)


def resolve_device(device: str) -> torch.device:
    """``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``; a clear error for CUDA without a GPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VabsnetError(f"--device {device}: no CUDA device is available to this process")
    return torch.device(device)


@dataclass(frozen=True, eq=False)
class SplitScores:
    """A fine-tuned run's predictions on one split: per protein ``scores`` and ``targets`` (per residue for
    residue-level tasks, ``[T]`` for protein-level ones), the chain keys, and the bound task."""

    task: Task
    scores: list[np.ndarray]
    targets: list[np.ndarray]
    chains: list[str]
    atom_pairs: list[tuple] | None = None  # per protein (atom scores, atom labels), atom-level tasks only


@torch.no_grad()
def predict_split(model: FinetuneModel, task: Task, dataset: TaskDataset, precision: str = "32",
                  atom_budget: int = ATOM_BUDGET) -> SplitScores:
    """Scores of every record of an evaluation dataset, on the model's device."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    scores, targets, atoms = [], [], []
    for group in atom_batches(dataset.atoms, atom_budget):
        batch = task.collate([dataset[i] for i in group]).to(device)
        with autocast(device, precision):
            logits = task.logits(model.head, model.encoder(batch.graph), batch.graph)
        scores += task.scores(logits, batch.graph)
        targets += task.targets(batch.target, batch.graph)
        pairs = task.atom_pairs(logits, batch.target, batch.graph)
        if pairs is not None:
            atoms += pairs
    model.train(was_training)
    return SplitScores(task, scores, targets, dataset.keys, atoms or None)


def load_model(run: str | Path, store: Store | None = None,
               device: str | torch.device = "cpu") -> tuple[FinetuneModel, Config, Task]:
    """A fine-tuned run's model (eval mode, on ``device``), config and task (bound to ``store`` when given,
    for its labels)."""
    from safetensors.torch import load_file

    run = Path(run)
    if not (run / MODEL_FILE).exists() or not (run / CONFIG_FILE).exists():
        raise CheckpointError(f"{run}: no {MODEL_FILE} + {CONFIG_FILE} (run `vabsnet finetune` first)")
    config = Config.load(run / CONFIG_FILE)
    task = build_task(config.task, store)
    model = FinetuneModel(config, task)
    model.load_state_dict(load_file(str(run / MODEL_FILE)))
    if (run / CALIBRATION_FILE).exists():
        task.use_calibration(json.loads((run / CALIBRATION_FILE).read_text()))
    return model.to(device).eval(), config, task


def split_scores(run: str | Path, store_path: str | Path, split: str = "test", device: str = "cpu",
                 precision: str = "32") -> SplitScores:
    store = Store(store_path)
    model, config, task = load_model(run, store, resolve_device(device))
    dataset = task.dataset(store, task.split_keys(store)[split], config, train=False, seed=0)
    if len(dataset) == 0:
        raise VabsnetError(f"{store_path}: no {split} chain has labels for task {task.name}")
    return predict_split(model, task, dataset, precision)


def evaluate(run: str | Path, store_path: str | Path, split: str = "test", write: bool = True,
             extra: dict | None = None, device: str = "auto", precision: str = "32") -> dict:
    """Metrics of a fine-tuned run on one split of a store (plus ``extra`` entries); writes
    ``RUN/metrics[_split].json`` and the ROC/PR plots."""
    out = split_scores(run, store_path, split, device, precision)
    scores, targets = out.scores, out.targets
    result = {"task": out.task.name, "split": split, "chains": out.chains, **out.task.metrics(scores, targets)}
    if out.atom_pairs is not None:
        result.update(out.task.atom_metrics(out.atom_pairs))
    result.update(extra or {})
    if write:
        name = "metrics.json" if split == "test" else f"metrics_{split}.json"
        atomic_write_json(Path(run) / name, result, indent=2)
        plot_roc_pr(np.concatenate(scores).ravel(), np.concatenate(targets).astype(bool).ravel(), Path(run), split)
    return result
