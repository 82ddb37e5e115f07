"""Do frozen vabsnet features carry GO signal? A linear probe per encoder (issue 12 diagnostics).

    python benchmarks/go/linear_probe.py --store STORE --labels BENCH --runs runs --ontology mf \\
        [--encoders random,span,residue,residue-only,single]

For each encoder (``random``: a seeded, untrained ``tiny`` encoder; otherwise ``RUNS/pretrain-<name>``),
every labelled chain of the benchmark is encoded whole and read out as in function fine-tuning (the virtual
node after every layer, concatenated) plus the mean residue state; one logistic regression per term
(scikit-learn, standardised features, C=0.1) is fitted on train and scored on test, with the same task
chains, labels and metrics (Fmax, micro AUPR per test cutoff) as ``run_go.py``. Writes
``RUNS/probe-<ontology>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from run_go import CUTOFFS  # noqa: E402  (the cutoffs the tables report)

from vabsnet.atomic import atomic_write_json
from vabsnet.bench.go_baselines import metrics_by_cutoff, task_splits
from vabsnet.config import preset
from vabsnet.data.batch import Batch, collate
from vabsnet.data.store import Store
from vabsnet.features import featurize
from vabsnet.model import VabsEncoder
from vabsnet.runtime import ENCODER_FILE, load_encoder, run_batches
from vabsnet.tasks.function import FunctionConfig


def features(encoder: VabsEncoder, store: Store, keys: list[str]) -> np.ndarray:
    """``[N, (L + 1) * D]``: virtual node after each layer, then the mean residue state, per chain."""
    graphs = [featurize(store[key].protein, encoder.config) for key in keys]

    def compute(batch: Batch) -> list[np.ndarray]:
        out = encoder(batch)
        layers, b, d = out.graph_layers.shape
        readout = out.graph_layers.permute(1, 0, 2).reshape(b, layers * d)  # [B, L*D]
        residue_mean = torch.stack([r.mean(0) for r in torch.split(out.residue, batch.num_residues.tolist())])
        return list(torch.cat([readout, residue_mean], 1).float().cpu().numpy())

    rows = run_batches(encoder, [g.num_atoms for g in graphs], graphs.__getitem__, collate, compute)
    return np.stack([r for batch_rows in rows for r in batch_rows])


def probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Per term, a logistic regression on standardised features; ``[P, T]`` test probabilities."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scale = StandardScaler().fit(x_train)
    a, b = scale.transform(x_train), scale.transform(x_test)
    out = np.zeros((len(x_test), y_train.shape[1]))
    for t in range(y_train.shape[1]):
        column = y_train[:, t]
        if column.min() == column.max():
            out[:, t] = column[0]
            continue
        out[:, t] = LogisticRegression(C=0.1, max_iter=500).fit(a, column).predict_proba(b)[:, 1]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--ontology", default="mf")
    p.add_argument("--encoders", default="random,span,residue,residue-only,single")
    args = p.parse_args()
    torch.manual_seed(0)
    store = Store(args.store)
    task, splits = task_splits(store, FunctionConfig(name=f"go-{args.ontology}", labels=args.labels,
                                                     unlabelled="skip"))
    y_train = np.concatenate([task.label_row(k) for k in splits["train"]])
    y_test = np.concatenate([task.label_row(k) for k in splits["test"]])
    results = {}
    for name in args.encoders.split(","):
        t0 = time.monotonic()
        if name == "random":
            encoder = VabsEncoder(preset("tiny").encoder)
        else:
            encoder, _ = load_encoder(Path(args.runs) / f"pretrain-{name}" / ENCODER_FILE)
        x_train = features(encoder, store, splits["train"])
        x_test = features(encoder, store, splits["test"])
        scores = probe(x_train, y_train, x_test)
        results[name] = {**metrics_by_cutoff(task, splits["test"], scores, y_test, CUTOFFS),
                         "seconds": round(time.monotonic() - t0, 1)}
        cells = [f"{results[name][f'{c:g}'][m]:.3f}" for c in CUTOFFS for m in ("fmax", "auprc_micro")]
        print(f"| linear probe, {name} | " + " | ".join(cells) + f" | ({results[name]['seconds']:.0f} s)", flush=True)
    atomic_write_json(Path(args.runs) / f"probe-{args.ontology}.json", results, indent=1)


if __name__ == "__main__":
    main()
