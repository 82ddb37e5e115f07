"""Lightning callbacks: atomic checkpoints and a per-step CSV of losses."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import lightning as L

from vabsnet.data.store import atomic_write_text

METRIC_COLUMNS = ("step", "loss", "type", "position", "distance", "torsion", "sasa", "type_accuracy", "lr",
                  "elapsed_s")


def truncate_metrics(path: Path, last_step: int) -> None:
    """Keep only complete rows up to ``last_step`` (rows written after the checkpoint are redone)."""
    if not path.exists():
        return
    rows = []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            try:
                if int(row["step"]) <= last_step and all(row.get(c) not in (None, "") for c in METRIC_COLUMNS):
                    rows.append(row)
            except (KeyError, ValueError):
                continue
    lines = [",".join(METRIC_COLUMNS)] + [",".join(r[c] for c in METRIC_COLUMNS) for r in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


class MetricsCSV(L.Callback):
    """Appends one row per optimizer step (rank 0; values averaged over ranks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = time.monotonic()
        self._last_step = -1

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: object,
                           batch: object, batch_idx: int) -> None:
        step = trainer.global_step
        if step == self._last_step:  # accumulating gradients: no optimizer step yet
            return
        self._last_step = step
        values = {k: float(trainer.strategy.reduce(v.detach().clone(), reduce_op="mean"))
                  for k, v in pl_module.last_losses.items()}  # type: ignore[attr-defined]
        if trainer.global_rank != 0:
            return
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        new = not self.path.exists()
        with self.path.open("a") as fh:
            if new:
                fh.write(",".join(METRIC_COLUMNS) + "\n")
            row = [step, values["total"], values["type"], values["position"], values["distance"],
                   values["torsion"], values["sasa"], values["type_accuracy"], lr, time.monotonic() - self.start]
            fh.write(",".join(f"{x:.6g}" if isinstance(x, float) else str(x) for x in row) + "\n")


class AtomicCheckpoint(L.Callback):
    """Writes ``last.ckpt`` every ``every`` optimizer steps and at the end, via a temporary file."""

    def __init__(self, path: Path, every: int) -> None:
        self.path, self.every = path, every
        self._saved_step = -1

    def _save(self, trainer: L.Trainer) -> None:
        if trainer.global_step == self._saved_step:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        trainer.save_checkpoint(tmp, weights_only=False)  # full state: optimizer, scheduler, loops
        if trainer.global_rank == 0:
            os.replace(tmp, self.path)
        trainer.strategy.barrier()
        self._saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: object,
                           batch: object, batch_idx: int) -> None:
        if trainer.global_step > 0 and trainer.global_step % self.every == 0:
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)
