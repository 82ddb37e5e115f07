"""``vabsnet finetune``: a task head on the encoder, trained by the one engine and selected on valid.

The recipe (LP-FT), applied by :func:`finetune` itself to every setting the caller did not give:

1. the task's schedule (:func:`recipe`): learning rate, length in epochs of the task's train chains, warm-up;
2. head first: the encoder's frozen readouts of the whole train chains fix the head's standardisation and
   its last bias (the training base rate, so the head starts as the naive predictor), and the head is fitted
   on them (``task.probe_steps``), selected on valid (:mod:`vabsnet.train.probe`); its test
   metrics are the run's probe figure (``metrics.json["probe"]``);
3. end to end: encoder at ``train.lr``, head at ``train.lr * task.head_lr_mult``, validation every
   ``task.eval_every`` steps keeping the best state (the probe's state is the one to beat), stopping after
   ``task.patience`` passes without improvement when set. With ``task.reprobe`` the head is re-fitted on
   the current encoder's frozen train readouts before each validation pass. Why it exists: a function head
   reads features whose spread across proteins is ~0.1 of their size, so its fixed standardisation turns a
   small drift of the encoder into shifts of several standard deviations (GO-MF from ``span``, 50 steps at
   5e-5: valid Fmax 0.464 -> 0.423 as trained, 0.454 with the mean re-centred, 0.467 re-fitted). Why it is
   off by default: in a full 200-step GO-MF run at 5e-5 it made end to end win on valid (0.468 against the
   probe's 0.464) but not on test (Fmax <30% 0.468 against 0.473), and each pass costs a readout of every
   train chain;
4. the decision settings calibrated on valid from the selected state's own valid pass, then the test split
   scored with the model in memory: ``RUN/metrics.json`` with ROC and PR curve PNGs.

RUN also holds ``config.json`` (the resolved recipe included), ``model.safetensors``, ``calibration.json``,
``last.ckpt`` and ``metrics.csv``. A killed run resumes from ``last.ckpt`` when run again.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import cast

import lightning as L
import torch

from vabsnet.atomic import atomic_write_json
from vabsnet.config import PRESETS, Config, preset
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError
from vabsnet.runtime import CALIBRATION_FILE, MODEL_FILE, FinetuneModel, load_encoder, load_model, save_weights
from vabsnet.runtime.shipped import resolve
from vabsnet.tasks.base import Task, build_task
from vabsnet.tasks.data import LabelledBatch, TaskDataset
from vabsnet.train.checkpoint import CHECKPOINT_FILE, read_checkpoint
from vabsnet.train.engine import EngineModule, _flat, fit, prepare_run, uses_cuda
from vabsnet.train.evaluate import SplitScores, gather_shards, predict_split, report, save_scores
from vabsnet.train.probe import ProbeResult, collect, fit_head

__all__ = ["FinetuneModule", "finetune", "recipe"]


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
        self.best_pred: SplitScores | None = None  # the best state's valid predictions (not checkpointed)
        self.stale = 0  # validation passes since the last improvement
        self.stopped = False  # stopped early (patience)
        self.probe: dict = {}

    def param_groups(self) -> list[dict]:
        lr = self.config.train.lr
        head = [p for p in self.model.head.parameters() if p.requires_grad]
        encoder = [p for p in self.model.encoder.parameters() if p.requires_grad]
        return [{"params": encoder, "lr": lr}, {"params": head, "lr": lr * self.config.task.head_lr_mult}]

    def training_step(self, batch: LabelledBatch, batch_idx: int) -> torch.Tensor:
        logits = self.model.logits(self.task, batch.graph)
        loss = self.task.loss(logits, batch.target)
        self.last_losses = {"loss": loss.detach()}
        return loss

    def consider(self, metric: float, pred: SplitScores | None) -> bool:
        """Keep the current state when ``metric`` beats the best so far; returns whether it did."""
        if math.isnan(metric) or metric <= self.best:
            self.stale += 1
            return False
        self.best, self.stale, self.best_pred = metric, 0, pred
        self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        return True

    def extra_state(self) -> dict:
        return {"identity": self.identity, "best": self.best, "best_state": self.best_state, "stale": self.stale,
                "stopped": self.stopped, "probe": self.probe}

    def load_extra_state(self, state: dict) -> None:
        self.best = state.get("best", -math.inf)
        self.best_state = state.get("best_state")
        self.stale, self.stopped = state.get("stale", 0), state.get("stopped", False)
        self.probe = state.get("probe", {})


class Selection(L.Callback):
    """Every ``every`` optimizer steps and at the last: the selection metric on valid, the best state, and
    early stopping after ``patience`` passes without improvement (0: never). Under DDP each rank scores
    1/world of the valid chains and the predictions are gathered, so every rank sees the same numbers."""

    def __init__(self, valid: TaskDataset, every: int, patience: int = 0,
                 train_whole: TaskDataset | None = None) -> None:
        self.valid, self.every, self.patience, self._last = valid, every, patience, -1
        self.train_whole = train_whole  # the train chains as predict sees them (for task.reprobe)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: object, batch: object,
                           batch_idx: int) -> None:
        module = cast(FinetuneModule, pl_module)
        step = trainer.global_step
        if step == self._last or (step % self.every and step != trainer.max_steps):
            return
        self._last = step
        if module.config.task.reprobe and module.config.task.probe_steps and self.train_whole is not None:
            fit_on_readouts(module, self.train_whole, self.valid)  # every rank: the same fit on the same readouts
            for p in module.model.head.parameters():
                p.grad = None
        world = trainer.world_size
        pred = predict_split(module.model, module.task, self.valid, module.config.train.precision,
                             shard=(trainer.global_rank, world))
        if world > 1:  # each rank scored 1/world of valid; every rank gets the whole, the same numbers
            pred = gather_shards(pred, world)
        metric = float(module.task.metrics(pred.scores, pred.targets)[module.task.selection_metric])
        module.last_eval = {f"valid_{module.task.selection_metric}": metric}
        module.consider(metric, pred)
        if self.patience and module.stale >= self.patience:
            module.stopped = True
            trainer.should_stop = True


def recipe(config: Config, train_chains: int) -> dict[str, object]:
    """The task's fine-tuning schedule for ``config``'s preset, as overrides (spec section 5). ``paper``:
    the official rate, warm-up and length (binding site 1e-5 / 10k / 100k at kNN 30/30; EC and GO 5e-5 /
    5k / 200k). Other presets: the official ratio of fine-tuning to pre-training rate (0.1 binding site,
    0.5 EC and GO) times the preset's rate, ``task.epochs`` over ``train_chains`` (batch and accumulation
    counted), 10% warm-up."""
    from vabsnet.registry import task_class

    task = task_class(config.task.name)
    if config.preset == "paper":
        return dict(task.paper_schedule)
    base = preset(config.preset).train.lr if config.preset in PRESETS else config.train.lr
    per_step = config.data.batch_size * config.train.accumulate
    steps = max(1, math.ceil(config.task.epochs * train_chains / per_step))
    return {"train.lr": base * task.lr_ratio, "train.max_steps": steps, "train.warmup_steps": max(1, steps // 10)}


def with_recipe(config: Config, train_chains: int, given: Collection[str] | None = None) -> tuple[Config, dict]:
    """``config`` with the recipe's values for the keys the caller did not give: those in ``given`` are kept,
    and so is every key whose value differs from the preset's (a custom preset keeps everything)."""
    if config.preset not in PRESETS:
        return config, {}
    defaults = _flat(preset(config.preset).override(**{"task.name": config.task.name}))
    mine = _flat(config)
    keep = set(given or ()) | {k for k in mine if k in defaults and mine[k] != defaults[k]}
    schedule = {k: v for k, v in recipe(config, train_chains).items() if k not in keep}
    if "train.max_steps" in keep and "train.warmup_steps" in schedule and config.preset != "paper":
        schedule["train.warmup_steps"] = max(1, config.train.max_steps // 10)  # 10% of the length given
    return (config.override(**schedule) if schedule else config), schedule


def _probe_device(accelerator: str) -> torch.device:
    if not uses_cuda(accelerator):
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def whole_chains(train: TaskDataset) -> TaskDataset:
    """The train chains as predict sees them (no crop, no augmentation)."""
    return train.task.dataset(train.store, train.keys, train.config, train=False, seed=0)


def fit_on_readouts(module: FinetuneModule, whole: TaskDataset, valid: TaskDataset) -> tuple[ProbeResult, int]:
    """Fit the head (standardisation, base-rate bias, then ``task.probe_steps`` steps selected on valid) on
    the current encoder's frozen readouts of ``whole`` (train chains, whole), on the model's device; returns
    the fit's result and the number of train rows."""
    model, task, cfg = module.model, module.task, module.config
    tr = collect(model.encoder, task, whole, cfg.train.precision, seed=cfg.train.seed)
    va = collect(model.encoder, task, valid, cfg.train.precision, keep_batches=True, max_rows=None)
    with torch.enable_grad():
        result = fit_head(model.head, task, tr, va, steps=cfg.task.probe_steps,
                          lr=cfg.task.probe_lr, seed=cfg.train.seed)
    return result, len(tr.x)


def head_first(module: FinetuneModule, train: TaskDataset, valid: TaskDataset, test: TaskDataset | None,
               accelerator: str, run: Path | None = None) -> dict:
    """The head-first phase on the frozen encoder (standardisation always; the fit when ``probe_steps``);
    returns the probe's figures (valid selection metric, and test metrics when ``test`` is given, whose
    per-chain scores go to ``RUN/scores_probe_test.npz``)."""
    model, task, cfg = module.model, module.task, module.config
    device = _probe_device(accelerator)
    model.to(device)
    precision = cfg.train.precision
    result, rows = fit_on_readouts(module, whole_chains(train), valid)
    probe: dict[str, object] = {"steps": result.steps, "best_step": result.best_step, "seconds": result.seconds,
             f"valid_{task.selection_metric}": result.valid_metric, "train_rows": rows}
    module.consider(result.valid_metric, None)
    if test is not None and cfg.task.probe_steps:
        pred = predict_split(model, task, test, precision)
        probe["test"] = {k: v for k, v in report(pred, "test").items() if k != "chains"}
        if run is not None:
            save_scores(run / "scores_probe_test.npz", pred)
    model.cpu()
    return probe


def finetune(store_path: str | Path, run: str | Path, config: Config, *, init: str | Path | None = None,
             devices: int = 1, accelerator: str = "auto", progress: bool | str = True,
             given: Collection[str] | None = None) -> dict:
    """Train (head first, then end to end), select on valid, evaluate test. Returns the test metrics.
    ``given``: config keys the caller set on purpose (kept even where they equal the preset's value)."""
    run, store = Path(run), Store(store_path)
    task = build_task(config.validate().task, store)
    config = replace(config, task=task.config)
    splits = task.split_keys(store)
    train = task.dataset(store, splits["train"], config, train=True, seed=config.train.seed)
    valid = task.dataset(store, splits["valid"], config, train=False, seed=0)
    if len(train) == 0 or len(valid) == 0:
        raise VabsnetError(f"{store_path}: task {task.name} needs labelled chains in train and valid "
                           f"(have {len(train)} and {len(valid)})")
    config, schedule = with_recipe(config, len(train), given)
    if schedule and progress and int(os.environ.get("LOCAL_RANK", "0")) == 0:
        print(f"{run}: task schedule: " + ", ".join(f"{k}={v:g}" for k, v in schedule.items()), flush=True)
    train.config = valid.config = config
    test = task.dataset(store, splits["test"], config, train=False, seed=0)
    identity = {"init": str(resolve(init).resolve()) if init else ""}  # a shipped name: its folder
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
    if start == 0:
        module.probe = head_first(module, train, valid, test if len(test) else None, accelerator, run)
    ckpt = read_checkpoint(run / CHECKPOINT_FILE).get("vabsnet_extra", {}) if start else {}
    finished = (start >= config.train.max_steps or ckpt.get("stopped")) and (run / MODEL_FILE).exists()
    if finished:
        model, _, task = load_model(run, store)
        return _test(model, task, test, run, config, ckpt.get("best", math.nan), ckpt.get("probe", {}),
                     ckpt.get("stopped", False))
    trainer = fit(module, lambda: (train, task.collate), run, start=start, devices=devices,
                  accelerator=accelerator, progress=progress,
                  callbacks=[Selection(valid, config.task.eval_every, config.task.patience,
                                       whole_chains(train) if config.task.reprobe else None)])
    if trainer.global_rank != 0:
        return {}
    model = module.model
    if module.best_state is not None:
        model.load_state_dict(module.best_state)
    model.to(_probe_device(accelerator))
    pred = module.best_pred or predict_split(model, task, valid, config.train.precision)
    calibrate(task, pred, run)
    save_weights(model, run / MODEL_FILE, config, "vabsnet-finetuned")
    return _test(model, task, test, run, config, module.best, module.probe, module.stopped)


def calibrate(task: Task, valid: SplitScores, run: Path) -> None:
    """The task's decision settings chosen on the valid predictions of the selected weights
    (``Task.calibrate``), applied to ``task`` and written to ``RUN/calibration.json`` (none: removed)."""
    chosen = task.calibrate(valid.scores, valid.targets)
    if chosen is None:
        (run / CALIBRATION_FILE).unlink(missing_ok=True)
    else:
        task.use_calibration(chosen)
        atomic_write_json(run / CALIBRATION_FILE, chosen, indent=1)


def _test(model: FinetuneModel, task: Task, test: TaskDataset, run: Path, config: Config, best: float,
          probe: dict, stopped: bool) -> dict:
    if len(test) == 0:
        raise VabsnetError(f"{run}: no test chain has labels for task {task.name}")
    pred = predict_split(model, task, test, config.train.precision)
    extra = {"selection": {"metric": f"valid {task.selection_metric}", "best": best, "stopped_early": stopped},
             "probe": probe}
    return report(pred, "test", run, extra)
