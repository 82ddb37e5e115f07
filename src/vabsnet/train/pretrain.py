"""``vabsnet pretrain``: SMPC (or an ablation) on a prepared store, resumable, single- or multi-process.

RUN holds ``config.json`` (complete), ``encoder.safetensors``, ``last.ckpt`` (full state), ``metrics.csv``
(one row per optimizer step) and ``loss_curves.png``. Running the same command again resumes from
``last.ckpt``; a different config for the same RUN is refused.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from vabsnet.config import Config
from vabsnet.data.store import Store, atomic_write_text
from vabsnet.errors import VabsnetError
from vabsnet.pretrain.dataset import PretrainDataset, StepSampler, collate_pretrain
from vabsnet.train.callbacks import AtomicCheckpoint, MetricsCSV, truncate_metrics
from vabsnet.train.checkpoint import CHECKPOINT_FILE, CONFIG_FILE, ENCODER_FILE, read_checkpoint, save_encoder
from vabsnet.train.module import PretrainModule
from vabsnet.train.plots import plot_pretrain_curves


@dataclass(frozen=True)
class PretrainResult:
    run: Path
    rank: int
    steps: int
    resumed_from: int
    final: dict[str, float]


def training_keys(store: Store) -> list[str]:
    """The train split when ``splits.json`` exists, every chain otherwise."""
    try:
        return store.splits()["train"]
    except VabsnetError:
        return list(store.keys)


class _Data:
    """Builds the train DataLoader once the trainer knows its rank and restored step."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store, self.config = store, config

    def loader(self, trainer: object) -> DataLoader:
        c = self.config
        dataset = PretrainDataset(self.store, training_keys(self.store), c, seed=c.train.seed)
        sampler = StepSampler(lambda: trainer.global_step, c.train.max_steps, c.data.batch_size,  # type: ignore[attr-defined]
                              c.train.accumulate, trainer.global_rank, trainer.world_size)  # type: ignore[attr-defined]
        return DataLoader(dataset, batch_size=c.data.batch_size, sampler=sampler, collate_fn=collate_pretrain,
                          num_workers=c.data.num_workers, persistent_workers=c.data.num_workers > 0)


def _prepare_run(run: Path, config: Config) -> int:
    """Write or check config.json; return the step to resume from (0 for a new run)."""
    run.mkdir(parents=True, exist_ok=True)
    cfg_path, ckpt_path = run / CONFIG_FILE, run / CHECKPOINT_FILE
    if cfg_path.exists():
        have = Config.load(cfg_path)
        if have != config:
            diff = {k: (v, config.to_dict()[k]) for k, v in have.to_dict().items() if config.to_dict()[k] != v}
            raise VabsnetError(f"{run}: holds a run with another config ({sorted(diff)}); use another --out")
    else:
        atomic_write_text(cfg_path, config.to_json() + "\n")
    if not ckpt_path.exists():
        (run / "metrics.csv").unlink(missing_ok=True)
        return 0
    ckpt = read_checkpoint(ckpt_path)
    if Config.from_dict(json.loads(ckpt["vabsnet_config"])) != config:
        raise VabsnetError(f"{ckpt_path}: checkpoint config differs from {cfg_path}")
    step = int(ckpt["global_step"])
    truncate_metrics(run / "metrics.csv", step)
    return step


def pretrain(store_path: str | Path, run: str | Path, config: Config, *, devices: int = 1,
             accelerator: str = "auto", progress: bool = True) -> PretrainResult:
    import lightning as L

    config = config.validate()
    run, store = Path(run), Store(store_path)
    start = _prepare_run(run, config)
    if start >= config.train.max_steps and (run / ENCODER_FILE).exists():  # finished earlier: nothing to do
        if progress:
            print(f"{run}: already trained for {start} steps")
        return PretrainResult(run=run, rank=0, steps=start, resumed_from=start, final={})
    if not progress:  # quiet: no "GPU available" banners and tips either
        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    module = PretrainModule(config)
    data = _Data(store, config)
    module.train_dataloader = lambda: data.loader(module.trainer)  # type: ignore[method-assign]
    callbacks = [MetricsCSV(run / "metrics.csv"),
                 AtomicCheckpoint(run / CHECKPOINT_FILE, config.train.checkpoint_every)]
    strategy = "ddp" if devices > 1 else "auto"
    trainer = L.Trainer(
        accelerator=accelerator, devices=devices, strategy=strategy, precision=config.train.precision,
        max_steps=config.train.max_steps, max_epochs=-1, gradient_clip_val=config.train.grad_clip,
        accumulate_grad_batches=config.train.accumulate, logger=False, enable_checkpointing=False,
        enable_progress_bar=progress, enable_model_summary=False, num_sanity_val_steps=0,
        limit_val_batches=0, use_distributed_sampler=False, callbacks=callbacks, default_root_dir=str(run),
    )
    ckpt = run / CHECKPOINT_FILE
    with warnings.catch_warnings():
        if not progress:
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*deprecated.*")
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*restarting mid-epoch.*|.*resuming from a checkpoint.*")
        trainer.fit(module, ckpt_path=str(ckpt) if start > 0 else None, weights_only=True)
    if trainer.global_rank == 0:
        save_encoder(module.encoder, run / ENCODER_FILE, config)
        plot_pretrain_curves(run / "metrics.csv", run / "loss_curves.png",
                             title=f"{config.preset} / mask={config.pretrain.mask}")
    final = {k: float(v) for k, v in module.last_losses.items()}
    return PretrainResult(run=run, rank=trainer.global_rank, steps=trainer.global_step, resumed_from=start, final=final)


def set_threads() -> None:
    """Lightning's DDP on CPU starts one process per device; share the cores between them."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))


@torch.no_grad()
def heldout_type_accuracy(run: str | Path, store_path: str | Path, split: str = "valid", seed: int = 0) -> dict:
    """Masked residue-type accuracy of a pre-trained run on a held-out split (fixed masks from ``seed``),
    pooled over every masked residue; also the per-objective losses averaged over batches."""
    from vabsnet.pretrain.objectives import pretrain_losses

    ckpt = read_checkpoint(Path(run) / CHECKPOINT_FILE)
    config = Config.from_dict(json.loads(ckpt["vabsnet_config"]))
    module = PretrainModule(config)
    module.load_state_dict(ckpt["state_dict"])
    module.eval()
    store = Store(store_path)
    keys = store.splits()[split]
    dataset = PretrainDataset(store, keys, config, seed=seed, train=False)
    correct, masked, losses = 0.0, 0, []
    for start in range(0, len(keys), 4):
        batch = collate_pretrain([dataset[i] for i in range(start, min(start + 4, len(keys)))])
        out = pretrain_losses(module.heads(module.encoder(batch.graph), batch.graph), batch, config.pretrain)
        n = int(batch.masked.sum())
        correct += float(out.type_accuracy) * n
        masked += n
        losses.append(out.as_dict())
    mean = {k: sum(d[k] for d in losses) / len(losses) for k in losses[0]} if losses else {}
    return {"split": split, "chains": len(keys), "masked_residues": masked,
            "masked_type_accuracy": correct / masked if masked else float("nan"),
            "losses": {k: v for k, v in mean.items() if k != "type_accuracy"}}
