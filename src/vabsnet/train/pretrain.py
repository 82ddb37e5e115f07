"""``vabsnet pretrain``: SMPC (or an ablation) on a prepared store, resumable, single- or multi-process.

RUN holds ``config.json`` (complete), ``encoder.safetensors``, ``last.ckpt`` (full state), ``metrics.csv``
(one row per optimizer step) and ``loss_curves.png``. Running the same command again resumes from
``last.ckpt``; a different config for the same RUN is refused. The engine: :mod:`vabsnet.train.engine`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vabsnet.config import Config
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError
from vabsnet.plots import plot_pretrain_curves
from vabsnet.pretrain.dataset import PretrainBatch, PretrainDataset, cluster_groups, collate_pretrain
from vabsnet.pretrain.objectives import OBJECTIVES
from vabsnet.runtime import ENCODER_FILE, run_batches, save_encoder
from vabsnet.train.checkpoint import CHECKPOINT_FILE, read_checkpoint
from vabsnet.train.engine import fit, prepare_run, set_threads
from vabsnet.train.module import PretrainModule

__all__ = ["PretrainResult", "heldout_type_accuracy", "pretrain", "set_threads", "training_keys"]


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


def pretrain(store_path: str | Path, run: str | Path, config: Config, *, devices: int = 1,
             accelerator: str = "auto", progress: bool | str = True) -> PretrainResult:
    config = config.validate()
    run, store = Path(run), Store(store_path)
    keys = training_keys(store)
    if not keys:
        raise VabsnetError(f"{store_path}: the train split is empty; nothing to pre-train on")
    start = prepare_run(run, config)
    if start >= config.train.max_steps and (run / ENCODER_FILE).exists():  # finished earlier: nothing to do
        if progress:
            print(f"{run}: already trained for {start} steps")
        return PretrainResult(run=run, rank=0, steps=start, resumed_from=start, final={})
    module = PretrainModule(config)
    groups = cluster_groups(store, keys) if config.data.sampling == "cluster" else None
    trainer = fit(module, lambda: (PretrainDataset(store, keys, config, seed=config.train.seed, groups=groups),
                                   collate_pretrain),
                  run, start=start, devices=devices, accelerator=accelerator, progress=progress)
    if trainer.global_rank == 0:
        save_encoder(module.encoder, run / ENCODER_FILE, config)
        plot_pretrain_curves(run / "metrics.csv", run / "loss_curves.png", ("loss", *OBJECTIVES),
                             title=f"{config.preset} / mask={config.pretrain.mask}")
    final = {k: float(v) for k, v in module.last_losses.items()}
    return PretrainResult(run=run, rank=trainer.global_rank, steps=trainer.global_step, resumed_from=start, final=final)


def heldout_type_accuracy(run: str | Path, store_path: str | Path, split: str = "valid", seed: int = 0) -> dict:
    """Masked residue-type accuracy of a pre-trained run on a held-out split (fixed masks from ``seed``),
    pooled over every masked residue; also the per-objective losses averaged over batches of 4 chains."""
    from vabsnet.pretrain.objectives import pretrain_losses

    ckpt = read_checkpoint(Path(run) / CHECKPOINT_FILE)
    config = Config.from_dict(json.loads(ckpt["vabsnet_config"]))
    module = PretrainModule(config)
    module.load_state_dict(ckpt["state_dict"])
    store = Store(store_path)
    keys = store.splits()[split]
    dataset = PretrainDataset(store, keys, config, seed=seed, train=False)

    def compute(batch: PretrainBatch) -> tuple[int, dict]:
        out = pretrain_losses(module.heads(module.encoder(batch.graph), batch.graph), batch, config.pretrain)
        return int(batch.masked.sum()), out.as_dict()

    groups = [list(range(i, min(i + 4, len(keys)))) for i in range(0, len(keys), 4)]
    rows = run_batches(module, [], dataset.__getitem__, collate_pretrain, compute, groups=groups)
    masked = sum(n for n, _ in rows)
    correct = sum(n * d["type_accuracy"] for n, d in rows)
    losses = [d for _, d in rows]
    mean = {k: sum(d[k] for d in losses) / len(losses) for k in losses[0]} if losses else {}
    return {"split": split, "chains": len(keys), "masked_residues": masked,
            "masked_type_accuracy": correct / masked if masked else float("nan"),
            "losses": {k: v for k, v in mean.items() if k != "type_accuracy"}}
