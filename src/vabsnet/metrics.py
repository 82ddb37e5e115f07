"""Evaluation metrics as pure numpy functions.

Binary (binding site): AUROC, AUPRC (average precision), and MCC / F1 / precision / recall / IoU /
accuracy at a threshold. Multi-label (EC / GO): protein-centric Fmax (CAFA / TorchDrug definition, with an
exact sweep over every distinct score, ties grouped) and pair-centric micro AUPR.
"""

from __future__ import annotations

import math

import numpy as np


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).astype(bool).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} differ")
    _finite(scores)
    return scores, labels


def _finite(scores: np.ndarray) -> None:
    """Scores must be numbers: a NaN would silently sort first (AUROC) or last (AUPRC)."""
    bad = int(np.count_nonzero(~np.isfinite(scores)))
    if bad:
        raise ValueError(f"{bad} of {scores.size} scores are NaN or infinite (a diverged model?); "
                         "metrics are undefined")


def _tie_groups(sorted_scores: np.ndarray) -> np.ndarray:
    """Index of the last element of each run of equal scores in a descending-sorted array."""
    return np.flatnonzero(np.r_[sorted_scores[1:] != sorted_scores[:-1], True])


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN when only one class is present."""
    s, y = _check(scores, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    ends = np.flatnonzero(np.r_[sorted_s[1:] != sorted_s[:-1], True])
    starts = np.r_[0, ends[:-1] + 1]
    avg = (starts + ends) / 2.0 + 1.0  # average 1-based rank of each tie group
    ranks[order] = np.repeat(avg, ends - starts + 1)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision: sum over thresholds of (R_k - R_{k-1}) * P_k, tied scores as one threshold.
    NaN without positives."""
    s, y = _check(scores, labels)
    n_pos = int(y.sum())
    if n_pos == 0:
        return math.nan
    order = np.argsort(-s, kind="mergesort")
    tp = np.cumsum(y[order])
    ends = _tie_groups(s[order])
    tp, n = tp[ends], ends + 1
    precision, recall = tp / n, tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def threshold_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """MCC, F1, precision, recall, IoU and accuracy of ``scores >= threshold`` (0 where undefined)."""
    s, y = _check(scores, labels)
    pred = s >= threshold
    tp = float(np.sum(pred & y))
    fp = float(np.sum(pred & ~y))
    fn = float(np.sum(~pred & y))
    tn = float(np.sum(~pred & ~y))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    denom = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = (tp * tn - fp * fn) / denom if denom else 0.0
    iou = tp / (tp + fp + fn) if tp + fp + fn else 0.0
    accuracy = (tp + tn) / len(s) if len(s) else 0.0
    return {"mcc": mcc, "f1": f1, "precision": precision, "recall": recall, "iou": iou, "accuracy": accuracy}


def best_threshold(scores: np.ndarray, labels: np.ndarray, rule: str = "f1") -> tuple[float, float]:
    """``(threshold, value)``: the threshold on ``scores >= t`` that maximises pooled ``rule`` (``f1`` or
    ``mcc``) over every distinct score (ties enter together); the lowest such threshold on equal values.
    ``(0.5, nan)`` without positives or negatives."""
    s, y = _check(scores, labels)
    n_pos, n = int(y.sum()), len(y)
    if rule not in ("f1", "mcc"):
        raise ValueError(f"threshold rule must be 'f1' or 'mcc', not {rule!r}")
    if n_pos == 0 or n_pos == n:
        return 0.5, math.nan
    order = np.argsort(-s, kind="mergesort")
    ends = _tie_groups(s[order])
    tp = np.cumsum(y[order])[ends].astype(np.float64)
    predicted = (ends + 1).astype(np.float64)
    fp, fn = predicted - tp, n_pos - tp
    tn = n - n_pos - fp
    if rule == "f1":
        value = 2 * tp / (2 * tp + fp + fn)
    else:
        denom = np.sqrt(predicted * (tp + fn) * (tn + fp) * (tn + fn))
        value = np.divide(tp * tn - fp * fn, denom, out=np.zeros_like(tp), where=denom > 0)
    best = int(np.flatnonzero(value == value.max())[-1])
    return float(s[order][ends[best]]), float(value[best])


def fmax(scores: np.ndarray, labels: np.ndarray) -> float:
    """Protein-centric maximum F-measure over thresholds t (CAFA; TorchDrug ``f1_max``).

    ``scores, labels: [P, C]``. At threshold t, precision is averaged over proteins with at least one
    score >= t, recall over all proteins (a protein without labels has recall 0, as in TorchDrug), and
    F = 2PR / (P + R). Every distinct score is a threshold; tied scores enter together (TorchDrug breaks
    ties by sort order instead, which can differ on tied inputs only).
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    if s.ndim != 2 or s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} must be the same [P, C] shape")
    _finite(s)
    p, c = s.shape
    if p == 0 or c == 0:
        return math.nan
    flat_s, flat_y = s.ravel(), y.ravel()
    protein = np.repeat(np.arange(p), c)
    order = np.argsort(-flat_s, kind="mergesort")
    prot, hit = protein[order], flat_y[order].astype(np.float64)
    # rank of each entry among its protein's entries, and the protein's true positives so far
    by_protein = np.lexsort((np.arange(len(order)), prot))
    rank = np.empty(len(order))
    tp = np.empty(len(order))
    counts = np.bincount(prot, minlength=p)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    within = np.arange(len(order)) - np.repeat(starts, counts)
    rank[by_protein] = within + 1
    tp_sorted = hit[by_protein]
    cum = np.cumsum(tp_sorted)
    cum_before = cum - tp_sorted
    protein_base = np.repeat(np.r_[0.0, cum][starts], counts)  # cumsum at each protein's start
    tp[by_protein] = cum - protein_base
    tp_prev = np.empty(len(order))
    tp_prev[by_protein] = cum_before - protein_base
    first = rank == 1
    d_prec = tp / rank - np.where(first, 0.0, tp_prev / np.maximum(rank - 1, 1))
    n_pos = y.sum(1).astype(np.float64)
    d_rec = np.where(n_pos[prot] > 0, hit / np.maximum(n_pos[prot], 1), 0.0)
    ends = _tie_groups(flat_s[order])
    covered = np.cumsum(first)[ends]
    precision = np.cumsum(d_prec)[ends] / covered
    recall = np.cumsum(d_rec)[ends] / p
    f = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-300), 0.0)
    return float(f.max())


def auprc_micro(scores: np.ndarray, labels: np.ndarray) -> float:
    """Pair-centric micro AUPR: average precision over all (protein, term) pairs pooled."""
    return auprc(np.asarray(scores).ravel(), np.asarray(labels).ravel())


def binary_report(per_protein: list[tuple[np.ndarray, np.ndarray]], threshold: float = 0.5) -> dict:
    """Binding-site metrics both ways: ``per_protein_mean`` (each protein, then the mean over proteins
    where the metric is defined) and ``pooled`` (all residues of all proteins together)."""
    names = ("auroc", "auprc", "mcc", "f1", "precision", "recall", "iou", "accuracy")
    rows = []
    for s, y in per_protein:
        row = {"auroc": auroc(s, y), "auprc": auprc(s, y), **threshold_metrics(s, y, threshold)}
        rows.append(row)
    mean = {k: float(np.nanmean([r[k] for r in rows])) if any(not math.isnan(r[k]) for r in rows) else math.nan
            for k in names}
    s_all = np.concatenate([s for s, _ in per_protein]) if per_protein else np.zeros(0)
    y_all = np.concatenate([y for _, y in per_protein]) if per_protein else np.zeros(0, bool)
    pooled = {"auroc": auroc(s_all, y_all), "auprc": auprc(s_all, y_all),
              **threshold_metrics(s_all, y_all, threshold)}
    return {"per_protein_mean": mean, "pooled": pooled, "threshold": threshold, "proteins": len(per_protein)}



def score_spread(scores: list[np.ndarray], targets: list[np.ndarray], level: str) -> dict[str, float]:
    """How far a model's scores move away from the label prior, so a prior-only model shows at a glance.

    ``scores``/``targets``: per protein, ``[T]`` term scores (``level="protein"``) or ``[R]`` residue scores
    (``level="residue"``). Returns ``base_rate`` (mean target), ``max_score``, ``mean_score`` and
    ``score_sd``: per protein, the sd of each term's score across proteins, averaged over terms; per residue,
    the sd over all residues. A model that outputs its training prior has ``score_sd`` near 0.
    """
    if level not in ("protein", "residue"):
        raise ValueError(f"level must be 'protein' or 'residue', not {level!r}")
    if not scores:
        return {"base_rate": math.nan, "max_score": math.nan, "mean_score": math.nan, "score_sd": math.nan}
    flat = np.concatenate([np.ravel(s) for s in scores]).astype(np.float64)
    _finite(flat)
    base = float(np.mean(np.concatenate([np.ravel(t) for t in targets]).astype(np.float64)))
    if level == "protein":
        sd = float(np.stack(scores).astype(np.float64).std(axis=0).mean())
    else:
        sd = float(flat.std())
    return {"base_rate": base, "max_score": float(flat.max()), "mean_score": float(flat.mean()), "score_sd": sd}
