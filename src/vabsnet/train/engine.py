"""The one training engine: every run (pre-training, fine-tuning) is a :class:`EngineModule` fitted by
:func:`fit` on Lightning, so devices, precision, DDP, accumulation, workers, the LR schedule, per-step
``metrics.csv`` and exact resume after a kill come once, for all.

A run directory holds ``config.json`` (the complete config), ``last.ckpt`` (full training state, written
atomically every ``train.checkpoint_every`` steps and at the end) and ``metrics.csv`` (one row per
optimizer step, growing while it trains). Running the same command again resumes from ``last.ckpt`` and
reproduces the uninterrupted run's rows; a different config (or identity, e.g. the initial weights) for the
same directory is refused.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from vabsnet.atomic import atomic_write_text
from vabsnet.config import Config
from vabsnet.data.sampler import StepSampler
from vabsnet.errors import VabsnetError
from vabsnet.runtime import CONFIG_FILE
from vabsnet.train.callbacks import AtomicCheckpoint, MetricsCSV, StepProgress, truncate_metrics
from vabsnet.train.checkpoint import CHECKPOINT_FILE, read_checkpoint


def warmup_linear(warmup: int, total: int) -> Callable[[int], float]:
    """LR factor: linear warm-up to 1 over ``warmup`` steps, then linear decay to 0 at ``total``."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


class EngineModule(L.LightningModule):
    """Base of every trainable module. Subclasses set ``metric_columns`` (the columns of ``metrics.csv``
    besides step, lr and time), fill ``last_losses`` (tensors, averaged over ranks) and ``last_eval``
    (plain numbers, identical on every rank) for the step, and may keep extra state across a resume
    through :meth:`extra_state` / :meth:`load_extra_state`."""

    metric_columns: tuple[str, ...] = ("loss",)

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.last_losses: dict[str, torch.Tensor] = {}
        self.last_eval: dict[str, float] = {}

    def param_groups(self) -> list[dict]:
        """Optimizer parameter groups; a group's ``lr`` (default ``train.lr``) is its peak rate, scaled by
        the shared warm-up/decay schedule."""
        return [{"params": [p for p in self.parameters() if p.requires_grad]}]

    def configure_optimizers(self) -> Any:  # Lightning's optimizer + scheduler dict
        t = self.config.train
        groups = [g for g in self.param_groups() if g["params"]]
        opt = torch.optim.AdamW(groups, lr=t.lr, weight_decay=t.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_linear(t.warmup_steps, t.max_steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def transfer_batch_to_device(self, batch: object, device: torch.device, dataloader_idx: int) -> object:
        return batch.to(device)  # type: ignore[attr-defined]

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["vabsnet_config"] = self.config.to_json()
        checkpoint["vabsnet_extra"] = self.extra_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.load_extra_state(checkpoint.get("vabsnet_extra", {}))


def prepare_run(run: Path, config: Config, identity: dict[str, str] | None = None) -> int:
    """Write or check ``config.json``; return the optimizer step to resume from (0 for a new run).
    ``identity``: what else must match for a resume (e.g. the initial weights)."""
    run.mkdir(parents=True, exist_ok=True)
    cfg_path, ckpt_path = run / CONFIG_FILE, run / CHECKPOINT_FILE
    if cfg_path.exists():
        have = Config.load(cfg_path)
        if have != config:
            old, new = _flat(have), _flat(config)
            diff = [k for k in old.keys() | new.keys() if old.get(k) != new.get(k)]
            raise VabsnetError(f"{run}: holds a run with another config ({', '.join(sorted(diff))}); "
                               "use another --out")
    else:
        atomic_write_text(cfg_path, config.to_json() + "\n")
    if not ckpt_path.exists():
        (run / "metrics.csv").unlink(missing_ok=True)
        return 0
    ckpt = read_checkpoint(ckpt_path)
    if Config.from_dict(json.loads(ckpt["vabsnet_config"])) != config:
        raise VabsnetError(f"{ckpt_path}: checkpoint config differs from {cfg_path}")
    saved = ckpt.get("vabsnet_extra", {}).get("identity", {})
    for key, value in (identity or {}).items():
        if saved.get(key, value) != value:
            raise VabsnetError(f"{run}: holds a run with another {key} ({saved[key]!r}, not {value!r}); "
                               "use another --out")
    step = int(ckpt["global_step"])
    truncate_metrics(run / "metrics.csv", step)
    return step


def _flat(config: Config) -> dict[str, object]:
    """``{"section.field": value}`` of a config (top-level fields under their own name)."""
    out: dict[str, object] = {}
    for section, value in config.to_dict().items():
        if isinstance(value, dict):
            out.update({f"{section}.{k}": v for k, v in value.items()})
        else:
            out[section] = value
    return out


def uses_cuda(accelerator: str) -> bool:
    return accelerator in ("cuda", "gpu") or (accelerator == "auto" and torch.cuda.is_available())


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def num_workers(config: Config, accelerator: str = "auto", devices: int = 1) -> int:
    """``data.num_workers``, or for -1 (auto): none on CPU (the cores compute), and on a GPU enough
    processes to featurise ahead of it (up to 8 per device, one core left for the training process)."""
    if config.data.num_workers >= 0:
        return config.data.num_workers
    if not uses_cuda(accelerator):
        return 0
    return max(0, min(8, available_cores() // max(1, devices) - 1))


def step_loader(dataset: Dataset, collate_fn: Callable, config: Config, trainer: L.Trainer,
                workers: int, pin: bool = False) -> DataLoader:
    """Training batches of a dataset indexed by global sample number, from the trainer's current step."""
    sampler = StepSampler(lambda: trainer.global_step, config.train.max_steps, config.data.batch_size,
                          config.train.accumulate, trainer.global_rank, trainer.world_size)
    return DataLoader(dataset, batch_size=config.data.batch_size, sampler=sampler, collate_fn=collate_fn,
                      num_workers=workers, persistent_workers=workers > 0, pin_memory=pin,
                      prefetch_factor=4 if workers > 0 else None)


def fit(module: EngineModule, make_dataset: Callable[[], tuple[Dataset, Callable]], run: Path, *, start: int,
        devices: int = 1, accelerator: str = "auto", progress: bool | str = True,
        callbacks: Sequence[L.Callback] = ()) -> L.Trainer:
    """Train ``module`` for ``train.max_steps`` optimizer steps, resuming at ``start`` from ``last.ckpt``.
    ``callbacks`` run before the metrics row and the checkpoint of each step (e.g. validation).
    ``progress``: a step progress bar (a string: its label, and the bar is cleared at the end)."""
    config = module.config
    for name in ("lightning.pytorch", "lightning.fabric"):  # no banners, tips or summaries: our own line
        logging.getLogger(name).setLevel(logging.WARNING)
    workers = num_workers(config, accelerator, devices)
    if progress is True and int(os.environ.get("LOCAL_RANK", "0")) == 0:
        nodes = config.train.num_nodes
        where = (f"{nodes} nodes x " if nodes > 1 else "") + (f"{devices} x CUDA" if uses_cuda(accelerator)
                                                              else f"{devices} x CPU")
        print(f"{run}: {where}, precision {config.train.precision}, {workers} data workers, "
              f"steps {start} -> {config.train.max_steps}", flush=True)

    def loader() -> DataLoader:
        dataset, collate_fn = make_dataset()
        return step_loader(dataset, collate_fn, config, module.trainer, workers, uses_cuda(accelerator))

    module.train_dataloader = loader  # type: ignore[method-assign]
    all_callbacks = [*callbacks, MetricsCSV(run / "metrics.csv", module.metric_columns),
                     AtomicCheckpoint(run / CHECKPOINT_FILE, config.train.checkpoint_every)]
    if progress:
        label = progress if isinstance(progress, str) else run.name
        all_callbacks.append(StepProgress(label, leave=not isinstance(progress, str)))
    trainer = L.Trainer(
        accelerator=accelerator, devices=devices, num_nodes=config.train.num_nodes,
        strategy="ddp" if devices * config.train.num_nodes > 1 else "auto",
        precision=config.train.precision, max_steps=config.train.max_steps, max_epochs=-1,
        gradient_clip_val=config.train.grad_clip, accumulate_grad_batches=config.train.accumulate,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0, use_distributed_sampler=False, callbacks=all_callbacks,
        default_root_dir=str(run),
    )
    ckpt = run / CHECKPOINT_FILE
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="lightning.*")
        warnings.filterwarnings("ignore", category=FutureWarning, module="lightning.*")
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*restarting mid-epoch.*|.*resuming from a checkpoint.*")
        warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")
        trainer.fit(module, ckpt_path=str(ckpt) if start > 0 else None, weights_only=True)
    return trainer


def set_threads() -> None:
    """Lightning's DDP on CPU starts one process per device; share the cores between them."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
