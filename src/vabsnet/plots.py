"""PNG plots of training curves (matplotlib, headless)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np


def pyplot():  # noqa: ANN201
    """``matplotlib.pyplot`` on the headless Agg backend (imported on first use: slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def roc_points(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, tp)`` at every cut of the scores sorted high to low (stable for ties); ``tp`` is the
    running count of positives, for precision-recall curves."""
    labels = np.asarray(labels).astype(bool)  # 0/1 floats as saved with the scores, or booleans
    order = np.argsort(-scores, kind="mergesort")
    tp, fp = np.cumsum(labels[order]), np.cumsum(~labels[order])
    return fp / max(fp[-1], 1), tp / max(tp[-1], 1), tp


def plot_pretrain_curves(metrics_csv: Path, out_png: Path, losses: tuple[str, ...], title: str = "") -> None:
    """Loss curves (``losses``: the metrics.csv columns to draw, log scale) and masked-type accuracy."""
    plt = pyplot()

    with metrics_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key in losses:
        axes[0].plot(steps, [float(r[key]) for r in rows], label=key, lw=1)
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    axes[1].plot(steps, [float(r["type_accuracy"]) for r in rows], color="black", lw=1)
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("masked residue-type accuracy")
    axes[1].set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, out_png)


def save_figure(fig: object, path: Path) -> None:
    """Save and close a matplotlib figure through a temporary file and a rename."""
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    os.replace(tmp, path)


def plot_roc_pr(scores: np.ndarray, labels: np.ndarray, run: Path, split: str) -> None:
    """``roc_<split>.png`` and ``pr_<split>.png`` of pooled scores against boolean labels."""
    plt = pyplot()

    fpr, tpr, tp = roc_points(scores, labels)
    for kind in ("roc", "pr"):
        fig, ax = plt.subplots(figsize=(4.5, 4))
        if kind == "roc":
            ax.plot(fpr, tpr)
            ax.plot([0, 1], [0, 1], "k--", lw=0.5)
            ax.set_xlabel("false positive rate")
            ax.set_ylabel("true positive rate")
        else:
            ax.plot(tpr, tp / np.arange(1, len(scores) + 1))
            ax.set_xlabel("recall")
            ax.set_ylabel("precision")
        ax.set_title(f"{split}: residues pooled")
        fig.tight_layout()
        save_figure(fig, run / f"{kind}_{split}.png")
