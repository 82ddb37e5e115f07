"""PNG plots of training curves (matplotlib, headless)."""

from __future__ import annotations

import csv
import os
from pathlib import Path


def plot_pretrain_curves(metrics_csv: Path, out_png: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with metrics_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key in ("loss", "type", "position", "distance", "torsion", "sasa"):
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
    tmp = out_png.with_name(f".{out_png.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, out_png)
