"""``vabsnet finetune``: a task head on the encoder, trained by the one engine and selected on valid.

Trains on the task's train split, evaluates on valid every ``task.eval_every`` steps (and at the end),
keeps the best state by the task's selection metric, then writes ``RUN/metrics.json`` for the test split
with ROC and PR curve PNGs. RUN also holds ``config.json``, ``model.safetensors`` (encoder + head of the
selected state), ``last.ckpt`` and ``metrics.csv`` (training loss every step, the valid metric at each
evaluation, growing while it trains). A killed run resumes from ``last.ckpt`` when run again.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import lightning as L
import torch

from vabsnet.atomic import atomic_write_json
from vabsnet.config import Config
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError
from vabsnet.tasks.base import Task, build_task
from vabsnet.tasks.data import LabelledBatch, TaskDataset
from vabsnet.train.checkpoint import CHECKPOINT_FILE, load_encoder, read_checkpoint, save_weights
from vabsnet.train.engine import EngineModule, fit, prepare_run, uses_cuda
from vabsnet.train.evaluate import CALIBRATION_FILE, MODEL_FILE, FinetuneModel, evaluate, predict_split

__all__ = ["MODEL_FILE", "FinetuneModel", "FinetuneModule", "finetune"]


class FinetuneModule(EngineModule):
    """Encoder + head trained on a task's loss; remembers the best state seen on valid."""

    def __init__(self, config: Config, task: Task, identity: dict[str, str]) -> None:
        super().__init__(config)
        torch.manual_seed(config.train.seed)
        self.task, self.identity = task, identity
        self.model = FinetuneModel(config, task)
        self.metric_columns = ("loss", f"valid_{task.selection_metric}")
        self.best = -math.inf
        self.best_state: dict[str, torch.Tensor] | None = None

    def training_step(self, batch: LabelledBatch, batch_idx: int) -> torch.Tensor:
        logits = self.task.logits(self.model.head, self.model.encoder(batch.graph), batch.graph)
        loss = self.task.loss(logits, batch.target)
        self.last_losses = {"loss": loss.detach()}
        return loss

    def extra_state(self) -> dict:
        return {"identity": self.identity, "best": self.best, "best_state": self.best_state}

    def load_extra_state(self, state: dict) -> None:
        self.best = state.get("best", -math.inf)
        self.best_state = state.get("best_state")


class Selection(L.Callback):
    """Every ``every`` optimizer steps and at the last: the selection metric on valid, and the best state.
    Every rank evaluates the whole valid split (same numbers everywhere, no communication)."""

    def __init__(self, valid: TaskDataset, every: int) -> None:
        self.valid, self.every, self._last = valid, every, -1

    def on_train_batch_end(self, trainer: L.Trainer, module: FinetuneModule, outputs: object, batch: object,
                           batch_idx: int) -> None:
        step = trainer.global_step
        if step == self._last or (step % self.every and step != trainer.max_steps):
            return
        self._last = step
        pred = predict_split(module.model, module.task, self.valid, module.config.train.precision)
        metric = float(module.task.metrics(pred.scores, pred.targets)[module.task.selection_metric])
        module.last_eval = {f"valid_{module.task.selection_metric}": metric}
        if not math.isnan(metric) and metric > module.best:
            module.best = metric
            module.best_state = {k: v.detach().cpu().clone() for k, v in module.model.state_dict().items()}


def calibrate(model: FinetuneModel, task: Task, valid: TaskDataset, run: Path, precision: str) -> None:
    """The task's decision settings chosen on ``valid`` with the selected weights (``Task.calibrate``),
    written to ``RUN/calibration.json`` beside the model (none: the file is removed)."""
    pred = predict_split(model, task, valid, precision)
    chosen = task.calibrate(pred.scores, pred.targets)
    if chosen is None:
        (run / CALIBRATION_FILE).unlink(missing_ok=True)
    else:
        atomic_write_json(run / CALIBRATION_FILE, chosen, indent=1)


def recipe(config: Config) -> dict[str, object]:
    """The task's fine-tuning schedule for ``config``'s preset, as overrides (spec section 5): on ``paper``,
    the official rate, warm-up and length (binding site 1e-5 / 10k / 100k; EC and GO 5e-5 / 5k / 200k);
    on other presets, the official ratio of fine-tuning to pre-training rate (0.1 binding site, 0.5 EC and
    GO) applied to the preset's own rate, with a 10% warm-up. ``vabsnet finetune`` applies the keys the
    user did not give."""
    from vabsnet.config import preset
    from vabsnet.tasks import task_class

    task = task_class(config.task.name)
    if config.preset == "paper":
        return dict(task.paper_schedule)
    base = preset(config.preset).train.lr if config.preset in ("tiny", "base") else config.train.lr
    return {"train.lr": base * task.lr_ratio, "train.warmup_steps": max(1, config.train.max_steps // 10)}


def finetune(store_path: str | Path, run: str | Path, config: Config, *, init: str | Path | None = None,
             devices: int = 1, accelerator: str = "auto", progress: bool | str = True) -> dict:
    """Train, select on valid, evaluate test. Returns the test metrics."""
    run, store = Path(run), Store(store_path)
    task = build_task(config.validate().task, store)
    config = replace(config, task=task.config)
    splits = task.split_keys(store)
    train = task.dataset(store, splits["train"], config, train=True, seed=config.train.seed)
    valid = task.dataset(store, splits["valid"], config, train=False, seed=0)
    if len(train) == 0 or len(valid) == 0:
        raise VabsnetError(f"{store_path}: task {task.name} needs labelled chains in train and valid "
                           f"(have {len(train)} and {len(valid)})")
    identity = {"init": str(Path(init).resolve()) if init else ""}
    start = prepare_run(run, config, identity)
    module = FinetuneModule(config, task, identity)
    if init is not None:
        encoder, enc_config = load_encoder(init)
        mine, theirs = config.encoder.architecture(), enc_config.encoder.architecture()
        differ = [f"encoder.{k}: {theirs[k]!r} in --init, {mine[k]!r} here" for k in mine if mine[k] != theirs[k]]
        if differ:
            raise VabsnetError(f"{init}: another encoder architecture than this run's ({'; '.join(differ)}); "
                               f"use the preset it was trained with ({enc_config.preset!r})")
        module.model.encoder.load_state_dict(encoder.state_dict())
    if config.task.freeze_encoder:
        module.model.encoder.requires_grad_(False)
    finished = start >= config.train.max_steps and (run / MODEL_FILE).exists()
    if not finished:
        trainer = fit(module, lambda: (train, task.collate), run, start=start, devices=devices,
                      accelerator=accelerator, progress=progress,
                      callbacks=[Selection(valid, config.task.eval_every)])
        if trainer.global_rank != 0:
            return {}
        if module.best_state is not None:
            module.model.load_state_dict(module.best_state)
        calibrate(module.model, task, valid, run, config.train.precision)
        save_weights(module.model, run / MODEL_FILE, config, "vabsnet-finetuned")
        best = module.best
    else:
        best = read_checkpoint(run / CHECKPOINT_FILE).get("vabsnet_extra", {}).get("best", math.nan)
    device = "cuda" if uses_cuda(accelerator) else "cpu"
    return evaluate(run, store_path, "test", device=device, precision=config.train.precision,
                    extra={"selection": {"metric": f"valid {task.selection_metric}", "best": best}})
