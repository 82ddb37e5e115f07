"""Sequence baselines for function prediction, and metrics per test-identity cutoff.

Both baselines see exactly what a fine-tuned model sees: the same :class:`FunctionTask` chooses the chains
(splits, ``task.unlabelled``), the labels and the metrics (protein-centric Fmax, micro AUPR).

- ``naive`` (CAFA's naive predictor): every protein gets each term's frequency among the train chains.
- ``transfer`` (nearest-neighbour label transfer, CAFA's BLAST baseline run with MMseqs2): a term's score
  for a test chain is the highest sequence identity among its hits in the train split that carry the term;
  0 for every term when MMseqs2 finds no train hit.
- ``composition`` (the composition probe): L2-regularised logistic regression per term on the chain's
  amino-acid composition (20 fractions, standardised on train), the strength chosen by valid Fmax. A fresh
  encoder's mean residue state is a linear function of composition, so a probe on a random encoder is this
  baseline in disguise; a structure model has to beat it to show it reads more than composition.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from vabsnet.data.annotations import deepfri_id, split_ids
from vabsnet.data.splits import search_sequences
from vabsnet.data.store import Store
from vabsnet.tasks.function import FunctionConfig, FunctionTask

BASELINES = ("naive", "transfer", "composition")
STRENGTHS = (0.01, 0.1, 1.0)  # L2 weight of the composition probe, chosen on valid


def naive_scores(train: np.ndarray, queries: int) -> np.ndarray:
    """``train: [N, T]`` 0/1 labels -> ``[queries, T]``, each row the term frequencies in ``train``."""
    return np.tile(np.asarray(train, np.float64).mean(0), (queries, 1))


def transfer_scores(queries: list[str], hits: list[dict], train: dict[str, np.ndarray], terms: int) -> np.ndarray:
    """``[Q, T]``: per query, per term, the highest ``identity`` of a hit whose target's ``train`` row
    (``[T]`` 0/1) carries the term; hits on targets outside ``train`` are ignored."""
    row = {q: i for i, q in enumerate(queries)}
    out = np.zeros((len(queries), terms))
    for hit in hits:
        labels = train.get(hit["target"])
        if labels is not None and hit["query"] in row:
            i = row[hit["query"]]
            out[i] = np.maximum(out[i], hit["identity"] * np.asarray(labels, np.float64))
    return out


def composition(sequence: str) -> np.ndarray:
    """``[20]`` amino-acid fractions of a sequence (other letters count in no column)."""
    from vabsnet.constants import RESTYPES

    counts = np.array([sequence.count(a) for a in RESTYPES[:20]], np.float64)
    return counts / max(1, len(sequence))


def logistic_fit(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Multi-label logistic regression by full-batch L-BFGS: ``x [N, F]``, ``y [N, T]`` 0/1 -> ``(W [F, T],
    b [T])`` minimising the mean BCE over chains and terms + ``l2 * |W|^2 / 2``."""
    import torch

    xt, yt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    w = torch.zeros(x.shape[1], y.shape[1], dtype=torch.float64, requires_grad=True)
    prior = yt.mean(0).clamp(1e-4, 1 - 1e-4)
    b = torch.log(prior / (1 - prior)).clone().requires_grad_(True)
    opt = torch.optim.LBFGS([w, b], max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), b.detach().numpy()


def composition_scores(store: Store, task: FunctionTask, splits: dict[str, list[str]]) -> tuple[np.ndarray, float]:
    """Test scores ``[P, T]`` of the composition probe and the chosen L2 strength."""
    sequences = store.sequences()
    feats = {s: np.stack([composition(sequences[k]) for k in keys]) for s, keys in splits.items() if keys}
    mean, sd = feats["train"].mean(0), feats["train"].std(0) + 1e-6
    x = {s: (f - mean) / sd for s, f in feats.items()}
    y = {s: np.concatenate([task.label_row(k) for k in keys]) for s, keys in splits.items() if keys}

    def predict(split: str, fitted: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(x[split] @ fitted[0] + fitted[1])))

    fits = {l2: logistic_fit(x["train"], y["train"], l2) for l2 in STRENGTHS}
    best = max(STRENGTHS, key=lambda l2: task.metrics(list(predict("valid", fits[l2])),
                                                      list(y["valid"].astype(bool)))["fmax"])
    return predict("test", fits[best]), best


def test_keys_at(task: FunctionTask, keys: list[str], cutoff: float) -> list[bool]:
    """Which of ``keys`` (the test chains at 95%) the dataset keeps at test ``cutoff``."""
    kept = split_ids(task.config.labels, task.kind, cutoff)["test"]
    return [deepfri_id(k) in kept for k in keys]


def metrics_by_cutoff(task: FunctionTask, keys: list[str], scores: np.ndarray, targets: np.ndarray,
                      cutoffs: tuple[float, ...]) -> dict[str, dict]:
    """``{"0.3": task metrics on the test chains kept at 30%, ...}``; ``scores, targets: [P, T]``."""
    out = {}
    for cutoff in cutoffs:
        keep = np.asarray(test_keys_at(task, keys, cutoff), bool)
        out[f"{cutoff:g}"] = task.metrics(list(scores[keep]), list(targets[keep].astype(bool))).to_dict()
    return out


def task_splits(store: Store, config: FunctionConfig) -> tuple[FunctionTask, dict[str, list[str]]]:
    """The task (test split at 95%, the widest) and its labelled keys per split."""
    task = FunctionTask(replace(config, test_cutoff=0.95), store)
    return task, {name: [k for k in keys if task.labelled(k)] for name, keys in task.split_keys(store).items()}


def run_baselines(store_path: str | Path, config: FunctionConfig, cutoffs: tuple[float, ...] = (0.3, 0.5, 0.95),
                  threads: int = 2) -> dict:
    """Both baselines on ``config``'s benchmark (``task.labels``) over the store's chains:
    ``{"naive": {cutoff: metrics}, "transfer": {...}, "chains": {...}, "seconds": {...}}``."""
    store = Store(store_path)
    task, splits = task_splits(store, config)
    train, test = splits["train"], splits["test"]
    y_train = np.concatenate([task.label_row(k) for k in train])  # [N, T]
    y_test = np.concatenate([task.label_row(k) for k in test])  # [P, T]
    seconds = {}
    t0 = time.perf_counter()
    naive = naive_scores(y_train, len(test))
    seconds["naive"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sequences = store.sequences()
    hits = search_sequences({k: sequences[k] for k in test}, {k: sequences[k] for k in train}, threads=threads)
    transfer = transfer_scores(test, hits, dict(zip(train, y_train, strict=True)), len(task.index))
    seconds["transfer"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    comp, strength = composition_scores(store, task, splits)
    seconds["composition"] = time.perf_counter() - t0
    return {"naive": metrics_by_cutoff(task, test, naive, y_test, cutoffs),
            "transfer": metrics_by_cutoff(task, test, transfer, y_test, cutoffs),
            "composition": metrics_by_cutoff(task, test, comp, y_test, cutoffs), "composition_l2": strength,
            "chains": {"train": len(train), "valid": len(splits["valid"]), "test": len(test),
                       "test_with_train_hit": len({h["query"] for h in hits})},
            "seconds": {k: round(v, 2) for k, v in seconds.items()}}


__all__ = ["BASELINES", "composition", "composition_scores", "logistic_fit", "metrics_by_cutoff", "naive_scores",
           "run_baselines", "task_splits", "test_keys_at",
           "transfer_scores"]
