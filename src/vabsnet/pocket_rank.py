"""Ranking geometric pocket candidates (:mod:`vabsnet.cavities`) with a binding-site model's atom scores: the
PRANK idea (re-score a geometric finder's pockets with a learned model), as a logistic regression over a few
features of each candidate.

Features (:data:`FEATURES`) are free of any model's probability scale, so one scorer serves every
binding-site model: the model's atom probabilities enter as their percentile within the chain.

- ``log_volume``: log of the candidate's volume (A^3);
- ``buried_mean``, ``buried_deep``: its points' mean buriedness and the fraction buried >= 0.85;
- ``model_mean``: mean percentile of the lining atoms' binding probabilities;
- ``model_top``: fraction of lining atoms in the chain's top 5% by probability;
- ``carbon``: fraction of lining atoms that are carbon (apolar surface);
- ``log_lining``: log of the number of lining atoms.

:func:`fit_scorer` fits it (L2-penalised, L-BFGS); a :class:`PocketScorer` is saved as JSON beside the
binding-site model (``pocket_scorer.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from vabsnet.atomic import atomic_write_json
from vabsnet.cavities import Cavity

FEATURES = ("log_volume", "buried_mean", "buried_deep", "model_mean", "model_top", "carbon", "log_lining")
GEOMETRY = ("log_volume", "buried_mean", "buried_deep", "carbon", "log_lining")  # without the model's scores
SCORER_FILE = "pocket_scorer.json"
TOP = 0.05  # model_top: the chain's top 5% of atoms


def percentiles(probs: np.ndarray) -> np.ndarray:
    """``[A]`` each atom's rank among the chain's atom probabilities, scaled to 0..1 (ties share the mean)."""
    from scipy.stats import rankdata

    probs = np.asarray(probs, np.float64)
    if len(probs) < 2:
        return np.ones_like(probs)
    return (rankdata(probs) - 1.0) / (len(probs) - 1.0)


def cavity_features(cavity: Cavity, elements: np.ndarray, pct: np.ndarray) -> dict[str, float]:
    """:data:`FEATURES` of one candidate; ``elements [A]`` and probability percentiles ``pct [A]`` of its
    chain's atoms."""
    lining = cavity.lining
    p = pct[lining] if len(lining) else np.zeros(1)
    carbon = np.asarray(elements)[lining] == "C" if len(lining) else np.zeros(1, bool)
    deep = cavity.buried >= 0.85
    return {"log_volume": float(np.log(cavity.volume)), "buried_mean": float(cavity.buried.mean()),
            "buried_deep": float(deep.mean()), "model_mean": float(p.mean()),
            "model_top": float((p >= 1.0 - TOP).mean()), "carbon": float(carbon.mean()),
            "log_lining": float(np.log1p(len(lining))),
            # candidates for other scorers (not in FEATURES): the best lining atoms, the deep part's size
            "model_top10": float(np.sort(p)[-10:].mean()), "log_deep": float(np.log1p(deep.sum()))}


@dataclass(frozen=True)
class PocketScorer:
    features: tuple[str, ...]
    mean: np.ndarray  # [F] standardisation
    scale: np.ndarray  # [F]
    weights: np.ndarray  # [F]
    bias: float
    notes: str = ""  # what it was fitted on

    def score(self, rows: list[dict[str, float]]) -> np.ndarray:
        """``[n]`` logits of candidates given as feature dicts."""
        if not rows:
            return np.zeros(0)
        x = np.array([[r[f] for f in self.features] for r in rows], np.float64)
        return ((x - self.mean) / self.scale) @ self.weights + self.bias

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, {"features": list(self.features), "mean": self.mean.tolist(),
                                 "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                                 "bias": self.bias, "notes": self.notes}, indent=1)

    @classmethod
    def load(cls, path: str | Path) -> PocketScorer:
        d = json.loads(Path(path).read_text())
        return cls(tuple(d["features"]), np.asarray(d["mean"]), np.asarray(d["scale"]), np.asarray(d["weights"]),
                   float(d["bias"]), d.get("notes", ""))


def fit_scorer(rows: list[dict[str, float]], labels: np.ndarray, features: tuple[str, ...] = FEATURES,
               l2: float = 1.0, notes: str = "") -> PocketScorer:
    """Logistic regression of ``labels [n]`` (1: the candidate touches a ligand) on the candidates' features,
    L2 penalty ``l2`` on the standardised weights (not the bias), balanced classes."""
    x = np.array([[r[f] for f in features] for r in rows], np.float64)
    y = np.asarray(labels, np.float64)
    mean, scale = x.mean(0), np.maximum(x.std(0), 1e-6)
    z = (x - mean) / scale
    pos = max(y.mean(), 1e-6)
    w_row = np.where(y > 0, 0.5 / pos, 0.5 / max(1.0 - pos, 1e-6)) / len(y)  # each class weighs one half

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        logit = z @ w + b
        # log(1 + exp(-s * logit)) with s = +-1, stably
        s = 2.0 * y - 1.0
        m = -s * logit
        nll = np.logaddexp(0.0, m)
        grad_logit = -s / (1.0 + np.exp(-m))
        value = float((w_row * nll).sum() + 0.5 * l2 * (w @ w) / len(y))
        gw = z.T @ (w_row * grad_logit) + l2 * w / len(y)
        gb = float((w_row * grad_logit).sum())
        return value, np.append(gw, gb)

    theta = minimize(loss, np.zeros(len(features) + 1), jac=True, method="L-BFGS-B").x
    return PocketScorer(tuple(features), mean, scale, theta[:-1], float(theta[-1]), notes)
