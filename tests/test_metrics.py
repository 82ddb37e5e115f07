from __future__ import annotations

import math

import numpy as np
import pytest

from vabsnet.metrics import auprc, auprc_micro, auroc, best_threshold, binary_report, fmax, threshold_metrics


def fmax_brute(s: np.ndarray, y: np.ndarray) -> float:
    best = 0.0
    for t in np.unique(s):
        pred = s >= t
        covered = pred.any(1)
        tp = (pred & y).sum(1)
        prec = (tp[covered] / pred[covered].sum(1)).mean()
        rec = np.where(y.sum(1) > 0, tp / np.maximum(y.sum(1), 1), 0.0).mean()
        if prec + rec > 0:
            best = max(best, 2 * prec * rec / (prec + rec))
    return best


def fmax_torchdrug_formula(s: np.ndarray, y: np.ndarray) -> float:
    """TorchDrug's f1_max written out from its definition (one prediction at a time in score order)."""
    order = np.argsort(-s.ravel(), kind="mergesort")
    p, c = s.shape
    prot = np.repeat(np.arange(p), c)[order]
    hit = y.ravel()[order]
    tp, n = np.zeros(p), np.zeros(p)
    pos = y.sum(1)
    best = 0.0
    for k in range(len(order)):
        tp[prot[k]] += hit[k]
        n[prot[k]] += 1
        covered = n > 0
        prec = (tp[covered] / n[covered]).mean()
        rec = (tp / (pos + 1e-10)).mean()
        best = max(best, 2 * prec * rec / (prec + rec + 1e-10))
    return best


def test_auroc_hand_computed_with_ties():
    assert auroc([0.9, 0.8, 0.4, 0.1], [1, 1, 0, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.3, 0.4], [1, 1, 0, 0]) == 0.0
    # positive 0.5 ties a negative 0.5: 0.5 credit; positive 0.5 beats negative 0.2: 1 -> (1 + 0.5) / 2
    assert auroc([0.5, 0.5, 0.2], [1, 0, 0]) == 0.75
    assert math.isnan(auroc([0.3, 0.4], [0, 0]))


def test_auprc_hand_computed():
    # ranks: 1 (pos) 2 (neg) 3 (pos): AP = 1/2 * 1 + 1/2 * 2/3
    assert auprc([0.9, 0.5, 0.3], [1, 0, 1]) == pytest.approx(0.5 + 1 / 3)
    # tie between a positive and a negative at the top: one threshold, precision 1/2
    assert auprc([0.7, 0.7], [1, 0]) == pytest.approx(0.5)
    assert math.isnan(auprc([0.1], [0]))


def test_threshold_metrics_hand_computed():
    m = threshold_metrics([0.9, 0.6, 0.4, 0.2, 0.7], [1, 0, 1, 0, 1], 0.5)
    # predictions >= 0.5: idx 0, 1, 4 -> tp 2, fp 1, fn 1, tn 1
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["iou"] == pytest.approx(0.5)
    assert m["mcc"] == pytest.approx((2 * 1 - 1 * 1) / math.sqrt(3 * 3 * 2 * 2))
    assert m["accuracy"] == pytest.approx(3 / 5)
    empty = threshold_metrics([0.1, 0.2], [0, 0])
    assert empty["mcc"] == 0.0 and empty["f1"] == 0.0


def test_fmax_hand_computed():
    s = np.array([[0.9, 0.1, 0.8], [0.2, 0.7, 0.3]])
    y = np.array([[1, 0, 0], [0, 1, 1]])
    # t=0.7: protein 0 predicts {0, 2} (P 1/2, R 1), protein 1 predicts {1} (P 1, R 1/2): F 0.75
    # t=0.3: protein 0 as before, protein 1 predicts {1, 2} (P 1, R 1): P 0.75, R 1, F 6/7 = the max
    assert fmax(s, y) == pytest.approx(6 / 7)
    assert fmax(s, y) == pytest.approx(fmax_brute(s, y))


def test_fmax_protein_without_labels_and_empty_predictions():
    s = np.array([[0.9, 0.1], [0.05, 0.02]])
    y = np.array([[1, 0], [0, 0]])
    # t=0.9: P = 1 (only protein 0 covered), R = (1 + 0) / 2 -> F = 2/3
    assert fmax(s, y) == pytest.approx(2 / 3)
    assert fmax(s, y) == pytest.approx(fmax_brute(s, y))


def test_fmax_with_ties_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = rng.integers(0, 5, size=(7, 6)) / 4.0  # many ties
        y = rng.random((7, 6)) < 0.3
        assert fmax(s, y) == pytest.approx(fmax_brute(s, y), abs=1e-12)


def test_fmax_matches_torchdrug_formula_without_ties():
    rng = np.random.default_rng(1)
    s = rng.random((30, 12))
    y = rng.random((30, 12)) < 0.2
    assert fmax(s, y) == pytest.approx(fmax_torchdrug_formula(s, y), abs=1e-8)
    assert fmax(s, y) == pytest.approx(fmax_brute(s, y), abs=1e-12)


def test_micro_aupr_and_binary_report():
    s = np.array([[0.9, 0.5], [0.3, 0.1]])
    y = np.array([[1, 0], [1, 0]])
    assert auprc_micro(s, y) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    report = binary_report([(np.array([0.9, 0.1]), np.array([1, 0])),
                            (np.array([0.6, 0.4, 0.2]), np.array([0, 1, 0]))])
    assert report["per_protein_mean"]["auroc"] == pytest.approx((1.0 + 0.5) / 2)
    assert report["pooled"]["auroc"] == pytest.approx(auroc([0.9, 0.1, 0.6, 0.4, 0.2], [1, 0, 0, 1, 0]))
    assert report["proteins"] == 2


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_scores_raise_instead_of_ranking(bad):
    s = np.array([0.9, bad, 0.1, 0.4])
    y = np.array([1, 0, 0, 1], bool)
    for fn in (auroc, auprc, threshold_metrics):
        with pytest.raises(ValueError, match="NaN or infinite"):
            fn(s, y)
    with pytest.raises(ValueError, match="NaN or infinite"):
        fmax(s[None], y[None])


@pytest.mark.parametrize("rule", ["f1", "mcc"])
def test_best_threshold_matches_a_sklearn_sweep(rule):
    from sklearn.metrics import f1_score, matthews_corrcoef

    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.05  # a binding-site-like base rate
    s = np.round(np.clip(0.1 * y + rng.normal(0.2, 0.1, 400), 0, 1), 2)  # rounded: many ties
    reference = f1_score if rule == "f1" else matthews_corrcoef
    values = {t: reference(y, s >= t) for t in np.unique(s)}
    best = max(values.values())
    t, value = best_threshold(s, y, rule)
    assert value == pytest.approx(best)
    assert t == min(k for k, v in values.items() if v == pytest.approx(best))
    assert threshold_metrics(s, y, t)[rule] == pytest.approx(best)
    assert value > reference(y, s >= 0.5)  # at this base rate 0.5 predicts almost nothing
    assert math.isnan(best_threshold(s, np.zeros(400, bool), rule)[1])
