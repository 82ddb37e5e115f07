"""The head-first phase of fine-tuning (LP-FT): fit the task head on frozen encoder readouts, then train
end to end from there.

A zero-initialised head on a fresh encoder learns the label prior first and passes almost no gradient to
the encoder; fitting it first on the frozen readouts (standardised with the training statistics) gives the
end-to-end phase a head that already uses the structure, and gives the run its own probe figure: the
frozen encoder's metrics with a fitted head, reported beside the fine-tuned ones.

Readouts are those of whole chains in evaluation mode (no crop, no augmentation), the inputs ``predict``
sees. Memory: ``rows x features`` float32 (per atom for atom-level tasks; at most ``max_rows`` rows are
kept, a seeded random subset).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vabsnet.constants import ATOM_BUDGET
from vabsnet.runtime import run_batches
from vabsnet.tasks.base import Task
from vabsnet.tasks.data import LabelledBatch, TaskDataset

MAX_ROWS = 400_000  # readout rows kept for the fit (per-atom tasks on large stores are subsampled)


@dataclass(frozen=True, eq=False)
class Readouts:
    """Frozen readouts of a split: ``x [rows, F]`` and the loss targets ``y`` (rows first), plus per batch
    what scoring needs (``batches``: the labelled batch without its tensors' gradients, and its rows)."""

    x: torch.Tensor
    y: torch.Tensor
    batches: list[tuple[LabelledBatch, slice]]


@dataclass(frozen=True)
class ProbeResult:
    steps: int
    best_step: int
    valid_metric: float
    seconds: float


_CACHE: dict[tuple, Readouts] = {}  # the last few readouts, keyed by weights and data (seeds of one encoder)
_CACHE_SIZE = 3


def _fingerprint(encoder: nn.Module) -> str:
    digest = hashlib.sha1()
    for name, tensor in encoder.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def collect(encoder: nn.Module, task: Task, dataset: TaskDataset, precision: str = "32",
            keep_batches: bool = False, max_rows: int | None = MAX_ROWS, seed: int = 0) -> Readouts:
    """Readouts of every chain of an evaluation dataset with the encoder in eval mode. Fine-tuning runs of
    one encoder with other seeds (the demo's, a benchmark's) read the same readouts: the last few are kept
    in memory, keyed by the encoder's weights, the chains, the task and the featurisation settings."""
    key = (_fingerprint(encoder), tuple(dataset.keys), dataset.train, dataset.seed, task.name, repr(task.config),
           repr(dataset.config.encoder), precision, keep_batches, max_rows, seed,
           str(next(encoder.parameters()).device))
    if key not in _CACHE:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _collect(encoder, task, dataset, precision, keep_batches, max_rows, seed)
    return _CACHE[key]


def _collect(encoder: nn.Module, task: Task, dataset: TaskDataset, precision: str, keep_batches: bool,
             max_rows: int | None, seed: int) -> Readouts:
    def compute(batch: LabelledBatch) -> tuple:
        return task.readout(encoder(batch.graph), batch.graph).float(), batch

    xs, ys, batches, row = [], [], [], 0
    for x, batch in run_batches(encoder, dataset.atoms, dataset.__getitem__, task.collate, compute,
                                precision=precision, budget=ATOM_BUDGET):
        xs.append(x)
        ys.append(batch.target)
        if keep_batches:
            batches.append((batch, slice(row, row + len(x))))
        row += len(x)
    x, y = torch.cat(xs), torch.cat(ys)
    if max_rows is not None and len(x) > max_rows:
        keep = torch.from_numpy(np.sort(np.random.default_rng(seed).choice(len(x), max_rows, replace=False)))
        x, y = x[keep.to(x.device)], y[keep.to(y.device)]
    return Readouts(x, y, batches)


@torch.no_grad()
def score(head: nn.Module, task: Task, valid: Readouts) -> float:
    """The task's selection metric of ``head`` on frozen valid readouts."""
    scores, targets = [], []
    for batch, rows in valid.batches:
        logits = task.head_logits(head, valid.x[rows])
        scores += task.scores(logits, batch.graph)
        targets += task.targets(batch.target, batch.graph)
    return float(task.metrics(scores, targets)[task.selection_metric])


def fit_head(head: nn.Module, task: Task, train: Readouts, valid: Readouts, *, steps: int, lr: float = 1e-3,
             weight_decay: float = 0.01, batch_rows: int = 8192, eval_every: int = 25, seed: int = 0) -> ProbeResult:
    """Fit the head's standardisation and base-rate bias on ``train`` (``Task.init_head``), then its body
    with AdamW (mini-batches of rows), keeping the state with the best valid selection metric (checked every
    ``eval_every`` steps and at the start)."""
    t0 = time.monotonic()
    task.init_head(head, train.x, train.y)  # type: ignore[arg-type]
    params = [p for p in head.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    best, best_step = score(head, task, valid), 0
    best_state = {k: v.clone() for k, v in head.state_dict().items()}
    n = len(train.x)
    was = head.training
    head.train()
    for step in range(1, steps + 1):
        rows = torch.randperm(n, generator=gen)[:batch_rows].to(train.x.device) if n > batch_rows else slice(None)
        loss = task.loss(task.head_logits(head, train.x[rows]), train.y[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % eval_every == 0 or step == steps:
            head.eval()
            metric = score(head, task, valid)
            head.train()
            if not math.isnan(metric) and (math.isnan(best) or metric > best):
                best, best_step = metric, step
                best_state = {k: v.clone() for k, v in head.state_dict().items()}
    head.load_state_dict(best_state)
    head.train(was)
    return ProbeResult(steps=steps, best_step=best_step, valid_metric=best, seconds=round(time.monotonic() - t0, 2))
