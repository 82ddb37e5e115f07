"""A fine-tuned model and its evaluation: ``vabsnet evaluate`` and the validation passes of fine-tuning.

Evaluation scores whole chains (no crop, as ``predict`` does), batched by an atom budget on any device;
a chain's scores never depend on the other chains in its batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vabsnet.atomic import atomic_write_json
from vabsnet.constants import ATOM_BUDGET
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError
from vabsnet.metrics import score_spread
from vabsnet.runtime import FinetuneModel, load_model, resolve_device, run_batches
from vabsnet.tasks.base import Task
from vabsnet.tasks.data import LabelledBatch, TaskDataset


@dataclass(frozen=True, eq=False)
class SplitScores:
    """A fine-tuned run's predictions on one split: per protein ``scores`` and ``targets`` (per residue for
    residue-level tasks, ``[T]`` for protein-level ones), the chain keys, and the bound task."""

    task: Task
    scores: list[np.ndarray]
    targets: list[np.ndarray]
    chains: list[str]
    atom_pairs: list[tuple] | None = None  # per protein (atom scores, atom labels), atom-level tasks only


def predict_split(model: FinetuneModel, task: Task, dataset: TaskDataset, precision: str = "32",
                  atom_budget: int = ATOM_BUDGET, shard: tuple[int, int] = (0, 1)) -> SplitScores:
    """Scores of every record of an evaluation dataset, on the model's device. ``shard=(r, n)``: only the
    records ``r, r + n, r + 2n, ...`` (rank ``r`` of ``n``; :func:`merge_shards` puts the parts together)."""
    rank, world = shard
    keep = list(range(rank, len(dataset), world))

    def compute(batch: LabelledBatch) -> tuple:
        logits = model.logits(task, batch.graph)
        return (task.scores(logits, batch.graph), task.targets(batch.target, batch.graph),
                task.atom_pairs(logits, batch.target, batch.graph))

    scores, targets, atoms = [], [], []  # type: list[np.ndarray], list[np.ndarray], list[tuple]
    for s, t, pairs in run_batches(model, [dataset.atoms[i] for i in keep], lambda j: dataset[keep[j]],
                                   task.collate, compute, precision=precision, budget=atom_budget):
        scores += s
        targets += t
        atoms += pairs or []
    return SplitScores(task, scores, targets, [dataset.keys[i] for i in keep], atoms or None)


def merge_shards(parts: list[SplitScores]) -> SplitScores:
    """The predictions of ``predict_split`` shards ``(0, n) ... (n - 1, n)``, in ``parts`` by rank, as the
    unsharded call returns them (record order restored)."""
    n, total = len(parts), sum(len(p.chains) for p in parts)
    order = [(i % n, i // n) for i in range(total)]  # record i was shard i % n's (i // n)-th
    atom_pairs = None
    if all(p.atom_pairs is not None for p in parts):
        atom_pairs = [parts[r].atom_pairs[k] for r, k in order]  # type: ignore[index]
    return SplitScores(parts[0].task, [parts[r].scores[k] for r, k in order],
                       [parts[r].targets[k] for r, k in order], [parts[r].chains[k] for r, k in order], atom_pairs)


def gather_shards(pred: SplitScores, world: int) -> SplitScores:
    """Every rank's shard of one split, gathered onto every rank (``torch.distributed``) and merged."""
    import torch.distributed as dist

    parts: list[tuple | None] = [None] * world
    dist.all_gather_object(parts, (pred.scores, pred.targets, pred.chains, pred.atom_pairs))
    return merge_shards([SplitScores(pred.task, *part) for part in parts if part is not None])


def split_scores(run: str | Path, store_path: str | Path, split: str = "test", device: str = "cpu",
                 precision: str | None = None) -> SplitScores:
    store = Store(store_path)
    model, config, task = load_model(run, store, resolve_device(device))
    precision = precision or config.train.precision  # the model's own, unless asked otherwise
    dataset = task.dataset(store, task.split_keys(store)[split], config, train=False, seed=0)
    if len(dataset) == 0:
        raise VabsnetError(f"{store_path}: no {split} chain has labels for task {task.name}")
    return predict_split(model, task, dataset, precision)


def report(pred: SplitScores, split: str, run: str | Path | None = None, extra: dict | None = None) -> dict:
    """Metrics of one split's predictions (the task's metrics, atom metrics where the task has them, and the
    score spread: ``spread.max_score``, ``spread.score_sd`` ...), plus ``extra`` entries. With ``run``:
    written to ``RUN/metrics.json`` (test) or ``RUN/metrics_<split>.json`` with the ROC/PR plots."""
    task = pred.task
    result = {"task": task.name, "split": split, "chains": pred.chains,
              **task.metrics(pred.scores, pred.targets).to_dict()}
    if pred.atom_pairs is not None:
        result.update(task.atom_metrics(pred.atom_pairs))
    result["spread"] = score_spread(pred.scores, pred.targets, task.level)
    result.update(extra or {})
    if run is not None:
        name = "metrics.json" if split == "test" else f"metrics_{split}.json"
        atomic_write_json(Path(run) / name, result, indent=2)
        save_scores(Path(run) / f"scores_{split}.npz", pred)
        task.plot(pred.scores, pred.targets, Path(run), split)
    return result


def save_scores(path: Path, pred: SplitScores) -> None:
    """Per-chain scores and targets of a split, flattened with offsets (``scores``, ``targets``, ``offsets``,
    ``chains``), for plots and independent checks without re-running the model."""
    sizes = [int(np.size(s)) for s in pred.scores]
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, scores=np.concatenate([np.ravel(s) for s in pred.scores]).astype(np.float32),
             targets=np.concatenate([np.ravel(t) for t in pred.targets]).astype(np.float32),
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
             extra: dict | None = None, device: str = "auto", precision: str | None = None) -> dict:
    """Metrics of a fine-tuned run (read from disk) on one split of a store (plus ``extra`` entries); writes
    ``RUN/metrics[_split].json`` and the ROC/PR plots."""
    out = split_scores(run, store_path, split, device, precision)
    return report(out, split, run if write else None, extra)
