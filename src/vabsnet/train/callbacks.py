"""Lightning callbacks of the engine: a per-step CSV of losses (and validation metrics) and atomic
checkpoints."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

import lightning as L

from vabsnet.atomic import atomic_write_text

if TYPE_CHECKING:  # the engine imports these callbacks
    from vabsnet.train.engine import EngineModule


def truncate_metrics(path: Path, last_step: int) -> None:
    """Keep only complete rows up to ``last_step`` (rows written after the checkpoint are redone)."""
    if not path.exists():
        return
    with path.open() as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        rows = []
        for row in reader:
            try:
                if None not in row and None not in row.values() and int(row["step"]) <= last_step:
                    rows.append(row)
            except (KeyError, ValueError):
                continue
    lines = [",".join(header)] + [",".join(r[c] for c in header) for r in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return "" if x != x else f"{x:.6g}"  # NaN: no value this step
    return str(x)


class MetricsCSV(L.Callback):
    """Appends one row per optimizer step (rank 0): ``step``, the module's ``metric_columns`` (losses
    averaged over ranks, then evaluation values; blank when not measured at that step), ``lr`` and
    ``elapsed_s``."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path, self.columns = path, ("step", *columns, "lr", "elapsed_s")
        self.start = time.monotonic()
        self._last_step = -1

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: object,
                           batch: object, batch_idx: int) -> None:
        step = trainer.global_step
        if step == self._last_step:  # accumulating gradients: no optimizer step yet
            return
        self._last_step = step
        module = cast("EngineModule", pl_module)
        values: dict[str, object] = {k: float(trainer.strategy.reduce(v.detach().clone(), reduce_op="mean"))
                                     for k, v in module.last_losses.items()}
        values.update(module.last_eval)
        module.last_eval = {}
        if trainer.global_rank != 0:
            return
        values.update(step=step, lr=trainer.optimizers[0].param_groups[0]["lr"],
                      elapsed_s=time.monotonic() - self.start)
        new = not self.path.exists()
        with self.path.open("a") as fh:
            if new:
                fh.write(",".join(self.columns) + "\n")
            fh.write(",".join(_fmt(values.get(c, float("nan"))) for c in self.columns) + "\n")


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


class StepProgress(L.Callback):
    """One progress bar counted in optimizer steps (resumed runs start where they are), with the last loss;
    replaces Lightning's per-epoch bar. ``leave=False`` clears it when the run ends."""

    def __init__(self, desc: str, leave: bool = True) -> None:
        self.desc, self.leave, self.bar = desc, leave, None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_rank == 0:
            from tqdm import tqdm

            self.bar = tqdm(total=trainer.max_steps, initial=trainer.global_step, desc=self.desc, unit="step",
                            leave=self.leave, dynamic_ncols=True)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: object,
                           batch: object, batch_idx: int) -> None:
        if self.bar is not None and trainer.global_step > self.bar.n:
            loss = pl_module.last_losses.get("loss")  # type: ignore[attr-defined]
            if loss is not None:
                self.bar.set_postfix(loss=f"{float(loss):.3f}", refresh=False)
            self.bar.update(trainer.global_step - self.bar.n)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
