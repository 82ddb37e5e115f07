"""``vabsnet finetune`` / ``vabsnet evaluate``: a task head on the encoder, selected on validation.

Trains on the store's train split (records the task can label), evaluates on valid every
``task.eval_every`` steps and keeps the best state by the task's selection metric, then writes
``RUN2/metrics.json`` for the test split with ROC and PR curve PNGs. RUN2 also holds ``config.json``,
``model.safetensors`` (encoder + head of the selected state) and ``metrics.csv`` (training loss per step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from vabsnet.config import Config
from vabsnet.data.batch import Batch, collate
from vabsnet.data.store import Store, atomic_write_json, atomic_write_text
from vabsnet.errors import VabsnetError
from vabsnet.features.featurize import crop_window, featurize
from vabsnet.model import VabsEncoder
from vabsnet.tasks.base import Task, build_task
from vabsnet.train.checkpoint import CONFIG_FILE, CheckpointError, load_encoder, save_weights
from vabsnet.train.plots import plot_roc_pr

MODEL_FILE = "model.safetensors"
RESUME_FILE = "last.pt"


class FinetuneModel(nn.Module):
    def __init__(self, config: Config, task: Task) -> None:
        super().__init__()
        self.encoder = VabsEncoder(config.encoder)
        self.head = task.head(config.encoder.dim, config.encoder.layers)


@dataclass(frozen=True, eq=False)
class LabelledBatch:
    graph: Batch
    target: torch.Tensor


class TaskDataset(Dataset):
    def __init__(self, store: Store, keys: list[str], config: Config, task: Task, train: bool, seed: int) -> None:
        self.store, self.config, self.task, self.train, self.seed = store, config, task, train, seed
        self.keys = [k for k in keys if task.usable(store[k].protein)]

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> tuple:
        """Training indices run over epochs, each a seeded permutation of the keys."""
        n = len(self.keys)
        position = index % n
        if self.train:
            position = int(np.random.default_rng([self.seed, index // n, 7]).permutation(n)[position])
        protein = self.store[self.keys[position]].protein
        rng = np.random.default_rng([self.seed, index]) if self.train else None
        limit = self.config.data.crop_residues if self.train else max(self.config.data.crop_residues, 2000)
        start, stop = crop_window(protein.num_residues, limit, rng)
        crop = protein.crop(start, stop)
        return featurize(crop, self.config.encoder), self.task.labels(crop)


def collate_labelled(items: list[tuple]) -> LabelledBatch:
    return LabelledBatch(collate([g for g, _ in items]), torch.from_numpy(np.concatenate([t for _, t in items])))


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
def predict_split(model: FinetuneModel, task: Task, dataset: TaskDataset) -> SplitScores:
    model.eval()
    scores, targets, atoms = [], [], []
    atom_pairs = getattr(task, "atom_pairs", None)
    loader = DataLoader(dataset, batch_size=4, collate_fn=collate_labelled)
    for batch in loader:
        logits = task.logits(model.head, model.encoder(batch.graph), batch.graph)
        scores += task.scores(logits, batch.graph)
        targets += task.targets(batch.target, batch.graph)
        if atom_pairs is not None:
            atoms += atom_pairs(logits, batch.target, batch.graph)
    return SplitScores(task, scores, targets, dataset.keys, atoms if atom_pairs is not None else None)


def load_model(run: str | Path, store: Store | None = None) -> tuple[FinetuneModel, Config, Task]:
    """A fine-tuned run's model, config and task (bound to ``store`` when given, for its labels)."""
    from safetensors.torch import load_file

    run = Path(run)
    if not (run / MODEL_FILE).exists() or not (run / CONFIG_FILE).exists():
        raise CheckpointError(f"{run}: no {MODEL_FILE} + {CONFIG_FILE} (run `vabsnet finetune` first)")
    config = Config.load(run / CONFIG_FILE)
    task = build_task(config.task, store)
    model = FinetuneModel(config, task)
    model.load_state_dict(load_file(str(run / MODEL_FILE)))
    return model.eval(), config, task


def split_scores(run: str | Path, store_path: str | Path, split: str = "test") -> SplitScores:
    store = Store(store_path)
    model, config, task = load_model(run, store)
    dataset = TaskDataset(store, task.split_keys(store)[split], config, task, train=False, seed=0)
    if len(dataset) == 0:
        raise VabsnetError(f"{store_path}: no {split} chain has labels for task {task.name}")
    return predict_split(model, task, dataset)


def evaluate(run: str | Path, store_path: str | Path, split: str = "test", write: bool = True,
             extra: dict | None = None) -> dict:
    """Metrics of a fine-tuned run on one split of a store (plus ``extra`` entries); writes
    ``RUN/metrics[_split].json`` and the ROC/PR plots."""
    out = split_scores(run, store_path, split)
    scores, targets = out.scores, out.targets
    result = {"task": out.task.name, "split": split, "chains": out.chains, **out.task.metrics(scores, targets)}
    if out.atom_pairs is not None:
        result.update(out.task.atom_metrics(out.atom_pairs))  # type: ignore[attr-defined]
    result.update(extra or {})
    if write:
        name = "metrics.json" if split == "test" else f"metrics_{split}.json"
        atomic_write_json(Path(run) / name, result, indent=2)
        plot_roc_pr(np.concatenate(scores), np.concatenate(targets).astype(bool), Path(run), split)
    return result


def finetune(store_path: str | Path, run: str | Path, config: Config, *, init: str | Path | None = None,
             progress: bool = True) -> dict:
    """Train, select on valid, evaluate test. Returns the test metrics.

    Every ``task.eval_every`` steps the whole training state goes to ``RUN/last.pt`` (atomically); running
    the same command again after a kill resumes there and gives the uninterrupted run's result.
    """
    from tqdm import tqdm

    run, store = Path(run), Store(store_path)
    task = build_task(config.validate().task, store)
    config = replace(config, task=task.config)
    run.mkdir(parents=True, exist_ok=True)
    splits = task.split_keys(store)
    torch.manual_seed(config.train.seed)
    model = FinetuneModel(config, task)
    if init is not None:
        encoder, enc_config = load_encoder(init)
        if enc_config.encoder != config.encoder:
            raise VabsnetError(f"{init}: encoder config differs from the --preset given")
        model.encoder.load_state_dict(encoder.state_dict())
    if config.task.freeze_encoder:
        model.encoder.requires_grad_(False)
    train = TaskDataset(store, splits["train"], config, task, train=True, seed=config.train.seed)
    valid = TaskDataset(store, splits["valid"], config, task, train=False, seed=0)
    if len(train) == 0 or len(valid) == 0:
        raise VabsnetError(f"{store_path}: task {task.name} needs labelled chains in train and valid "
                           f"(have {len(train)} and {len(valid)})")
    t = config.train
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / max(1, t.warmup_steps), max(0.0, (t.max_steps - s) / max(1, t.max_steps))))
    state = {"step": 0, "best": -math.inf, "best_state": None,
             "rows": ["step,loss,valid_" + task.selection_metric]}
    identity = {"config": config.to_json(), "init": str(init or "")}
    state.update(_resume(run, identity, model, opt, sched))
    atomic_write_text(run / CONFIG_FILE, config.to_json() + "\n")
    bs = config.data.batch_size
    for step in tqdm(range(state["step"], t.max_steps), desc=f"finetune {task.name}", disable=not progress,
                     initial=state["step"], total=t.max_steps):
        model.train()
        batch = collate_labelled([train[step * bs + i] for i in range(bs)])
        loss = task.loss(task.logits(model.head, model.encoder(batch.graph), batch.graph), batch.target)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, t.grad_clip)
        opt.step()
        sched.step()
        value = ""
        if (step + 1) % config.task.eval_every == 0 or step + 1 == t.max_steps:
            pred = predict_split(model, task, valid)
            metric = task.metrics(pred.scores, pred.targets)[task.selection_metric]
            value = f"{metric:.6g}"
            if not math.isnan(metric) and metric > state["best"]:
                state["best"] = metric
                state["best_state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        state["rows"].append(f"{step + 1},{loss.item():.6g},{value}")
        state["step"] = step + 1
        if value:
            _save_state(run, identity, state, model, opt, sched)
    atomic_write_text(run / "metrics.csv", "\n".join(state["rows"]) + "\n")
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    save_weights(model, run / MODEL_FILE, config, "vabsnet-finetuned")
    result = evaluate(run, store_path, "test", extra={"selection": {
        "metric": f"valid {task.selection_metric}", "best": state["best"]}})
    return result


def _save_state(run: Path, identity: dict, state: dict, model: nn.Module, opt: torch.optim.Optimizer,
                sched: object) -> None:
    payload = {**identity, **state, "model": model.state_dict(), "opt": opt.state_dict(),
               "sched": sched.state_dict(), "torch_rng": torch.get_rng_state()}  # type: ignore[attr-defined]
    tmp = run / f".{RESUME_FILE}.tmp"
    torch.save(payload, tmp)
    tmp.replace(run / RESUME_FILE)


def _resume(run: Path, identity: dict, model: nn.Module, opt: torch.optim.Optimizer, sched: object) -> dict:
    """The saved training state when ``RUN/last.pt`` belongs to the same config and init; else nothing."""
    path = run / RESUME_FILE
    if not path.exists():
        return {}
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if any(saved.get(k) != v for k, v in identity.items()):
        raise VabsnetError(f"{run}: holds a run with another config or --init ({RESUME_FILE}); "
                           "use a new --out or delete it")
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["opt"])
    sched.load_state_dict(saved["sched"])  # type: ignore[attr-defined]
    torch.set_rng_state(saved["torch_rng"])
    return {k: saved[k] for k in ("step", "best", "best_state", "rows")}
