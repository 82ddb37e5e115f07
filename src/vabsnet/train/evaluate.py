"""A fine-tuned model and its evaluation: ``vabsnet evaluate`` and the validation passes of fine-tuning.

Evaluation scores whole chains (no crop, as ``predict`` does), batched by an atom budget on any device;
a chain's scores never depend on the other chains in its batch.
"""

from __future__ import annotations

import json
import os
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
from vabsnet.metrics import score_spread
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


def upgrade_state(state: dict[str, torch.Tensor], model: FinetuneModel) -> dict[str, torch.Tensor]:
    """Weights saved before heads had a standardisation (``head.0.weight`` ...): the same head behind an
    identity standardisation (``head.body.0.weight`` ..., mean 0, scale 1), so older runs still load and
    predict exactly as before."""
    if any(k.startswith("head.body.") for k in state) or not any(k.startswith("head.") for k in state):
        return state
    out = {(f"head.body.{k[5:]}" if k.startswith("head.") else k): v for k, v in state.items()}
    out["head.norm.mean"] = torch.zeros_like(model.head.norm.mean)
    out["head.norm.scale"] = torch.ones_like(model.head.norm.scale)
    return out


def load_model(run: str | Path, store: Store | None = None,
               device: str | torch.device = "cpu") -> tuple[FinetuneModel, Config, Task]:
    """A fine-tuned run's model (eval mode, on ``device``), config and task (bound to ``store`` when given,
    for its labels)."""
    from safetensors.torch import load_file

    run = Path(run)
    if not (run / MODEL_FILE).exists() or not (run / CONFIG_FILE).exists():
        raise CheckpointError(f"{run}: no {MODEL_FILE} + {CONFIG_FILE} (run `vabsnet finetune` first)")
    config = Config.load(run / CONFIG_FILE)
    state = load_file(str(run / MODEL_FILE))
    if "head.body.3.weight" in state and getattr(config.task, "head", "mlp") == "linear":
        config = config.override(**{"task.head": "mlp"})  # saved before function heads had a choice
    task = build_task(config.task, store)
    model = FinetuneModel(config, task)
    try:
        model.load_state_dict(upgrade_state(state, model))
    except RuntimeError as exc:
        raise CheckpointError(f"{run / MODEL_FILE}: does not fit this version's {task.name} model (function "
                              f"tasks read a wider readout since the fine-tuning recipe changed; fine-tune again): "
                              f"{str(exc).splitlines()[0]}") from None
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


def report(pred: SplitScores, split: str, run: str | Path | None = None, extra: dict | None = None) -> dict:
    """Metrics of one split's predictions (the task's metrics, atom metrics where the task has them, and the
    score spread: ``spread.max_score``, ``spread.score_sd`` ...), plus ``extra`` entries. With ``run``:
    written to ``RUN/metrics.json`` (test) or ``RUN/metrics_<split>.json`` with the ROC/PR plots."""
    task = pred.task
    result = {"task": task.name, "split": split, "chains": pred.chains, **task.metrics(pred.scores, pred.targets)}
    if pred.atom_pairs is not None:
        result.update(task.atom_metrics(pred.atom_pairs))
    result["spread"] = score_spread(pred.scores, pred.targets, task.level)
    result.update(extra or {})
    if run is not None:
        name = "metrics.json" if split == "test" else f"metrics_{split}.json"
        atomic_write_json(Path(run) / name, result, indent=2)
        save_scores(Path(run) / f"scores_{split}.npz", pred)
        plot_roc_pr(np.concatenate(pred.scores).ravel(), np.concatenate(pred.targets).astype(bool).ravel(),
                    Path(run), split)
    return result


def save_scores(path: Path, pred: SplitScores) -> None:
    """Per-chain scores and targets of a split, flattened with offsets (``scores``, ``targets``, ``offsets``,
    ``chains``), for plots and independent checks without re-running the model."""
    sizes = [int(np.size(s)) for s in pred.scores]
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, scores=np.concatenate([np.ravel(s) for s in pred.scores]).astype(np.float32),
             targets=np.concatenate([np.ravel(t) for t in pred.targets]).astype(bool),
             offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), chains=np.array(pred.chains))
    os.replace(tmp, path)


def read_scores(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(scores, targets) pooled over every chain of a ``scores_<split>.npz``."""
    with np.load(path) as data:
        return data["scores"], data["targets"]


def read_chain_scores(path: str | Path) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """(chains, per-chain scores, per-chain targets) of a ``scores_<split>.npz``."""
    with np.load(path) as data:
        cut = data["offsets"]
        parts = [(data["scores"][a:b], data["targets"][a:b]) for a, b in zip(cut[:-1], cut[1:], strict=True)]
        return [str(c) for c in data["chains"]], [s for s, _ in parts], [t for _, t in parts]


def evaluate(run: str | Path, store_path: str | Path, split: str = "test", write: bool = True,
             extra: dict | None = None, device: str = "auto", precision: str = "32") -> dict:
    """Metrics of a fine-tuned run (read from disk) on one split of a store (plus ``extra`` entries); writes
    ``RUN/metrics[_split].json`` and the ROC/PR plots."""
    out = split_scores(run, store_path, split, device, precision)
    return report(out, split, run if write else None, extra)
