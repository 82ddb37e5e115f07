"""Function-prediction baselines (naive frequency, nearest-neighbour transfer) and metrics per test cutoff.

The DeepFRI files here are hand-written fixtures for real bundled chains; their terms and identity columns
are test values, not curated annotations. 1hvr's chains A and B are the same sequence (HIV-1 protease
homodimer), so B finds A as a 100%-identity neighbour.
"""

from __future__ import annotations

import numpy as np
import pytest

from vabsnet.bench.go_baselines import (
    STRENGTHS,
    composition,
    logistic_fit,
    naive_scores,
    run_baselines,
    task_splits,
    transfer_scores,
)
from vabsnet.data.annotations import deepfri_id
from vabsnet.data.splits import search_sequences
from vabsnet.data.store import Store
from vabsnet.metrics import auprc_micro, fmax
from vabsnet.tasks.function import FunctionConfig

MF = {"1HVR-A": "GO:3", "1FKI-A": "GO:1,GO:2", "1FKI-B": "GO:1", "4CUP-A": "GO:1", "1GBT-A": "GO:2",
      "1HVR-B": "GO:3", "2OFG-X": "GO:1", "4ZHL-U": ""}
SPLITS = {"train": ["1HVR-A", "1FKI-A", "1FKI-B", "4CUP-A"], "valid": ["1GBT-A"],
          "test": ["1HVR-B", "2OFG-X", "4ZHL-U"]}
BELOW = {"1HVR-B": "0,0,0,0,1", "2OFG-X": "1,1,1,1,1", "4ZHL-U": "1,1,1,1,1"}  # <30% ... <95% columns


@pytest.fixture(scope="module")
def bench(make_store, tmp_path_factory):
    store = make_store("baselines", ["1hvr", "1FKI", "4CUP", "1gbt", "2OFG", "4ZHL"], (0.6, 0.2, 0.2))
    folder = tmp_path_factory.mktemp("bench")
    head = []
    for branch, terms in (("molecular_function", "GO:1\tGO:2\tGO:3"), ("biological_process", "GO:7"),
                          ("cellular_component", "GO:9")):
        head += [f"### GO-terms ({branch})", terms, f"### GO-names ({branch})", terms]
    head.append("### PDB-chain\tmf\tbp\tcc")
    rows = [f"{c}\t{t}\t\t" for c, t in MF.items()]
    (folder / "nrPDB-GO_annot.tsv").write_text("\n".join(head + rows) + "\n")
    for name, ids in SPLITS.items():
        (folder / f"nrPDB-GO_{name}.txt").write_text("".join(f"{i}\n" for i in ids))
    table = ["PDB-chain,<30%,<40%,<50%,<70%,<95%"] + [f"{c},{v}" for c, v in BELOW.items()]
    (folder / "nrPDB-GO_test.csv").write_text("\n".join(table) + "\n")
    return store, folder


def test_naive_scores_are_train_frequencies():
    train = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 0], [1, 0, 0]])
    assert naive_scores(train, 2).tolist() == [[0.75, 0.25, 0.25]] * 2


def test_transfer_keeps_the_best_identity_per_term_and_ignores_non_train_targets():
    train = {"t1": np.array([1, 1, 0]), "t2": np.array([0, 1, 1])}
    hits = [{"query": "a", "target": "t1", "identity": 0.4}, {"query": "a", "target": "t2", "identity": 0.9},
            {"query": "a", "target": "elsewhere", "identity": 1.0}, {"query": "b", "target": "t1", "identity": 0.3}]
    out = transfer_scores(["a", "b", "c"], hits, train, 3)
    assert out.tolist() == [[0.4, 0.9, 0.9], [0.3, 0.3, 0.0], [0.0, 0.0, 0.0]]


def test_transfer_finds_the_identical_chain(bench):
    store_path, folder = bench
    store = Store(store_path)
    task, splits = task_splits(store, FunctionConfig(name="go-mf", labels=str(folder), unlabelled="skip"))
    seqs = store.sequences()
    hits = search_sequences({k: seqs[k] for k in splits["test"]}, {k: seqs[k] for k in splits["train"]})
    train = {k: task.label_row(k)[0] for k in splits["train"]}
    scores = transfer_scores(splits["test"], hits, train, 3)
    b = [deepfri_id(k) for k in splits["test"]].index("1HVR-B")
    assert scores[b].tolist() == [0.0, 0.0, 1.0]  # GO:3 of 1HVR-A at identity 1.0


@pytest.mark.parametrize("unlabelled,test_chains", [("skip", 2), ("keep", 3)])
def test_baselines_use_the_task_chains_and_each_cutoff(bench, unlabelled, test_chains):
    store, folder = bench
    result = run_baselines(store, FunctionConfig(name="go-mf", labels=str(folder), unlabelled=unlabelled))
    assert result["chains"]["train"] == 4 and result["chains"]["test"] == test_chains
    naive = result["naive"]
    assert naive["0.95"]["proteins"] == test_chains and naive["0.3"]["proteins"] == test_chains - 1
    # by hand: every test chain scored GO:1 0.75, GO:2 0.25, GO:3 0.25; labels in test order (sorted keys)
    _, splits = task_splits(Store(store), FunctionConfig(name="go-mf", labels=str(folder), unlabelled=unlabelled))
    order = [deepfri_id(k) for k in splits["test"]]
    y = np.array([[t in MF[c].split(",") for t in ("GO:1", "GO:2", "GO:3")] for c in order])
    s = np.tile([0.75, 0.25, 0.25], (len(order), 1))
    assert naive["0.95"]["fmax"] == pytest.approx(fmax(s, y))
    assert naive["0.95"]["auprc_micro"] == pytest.approx(auprc_micro(s, y))
    at30 = np.array([c != "1HVR-B" for c in order])
    assert naive["0.3"]["fmax"] == pytest.approx(fmax(s[at30], y[at30]))
    assert result["transfer"]["0.95"]["fmax"] > result["transfer"]["0.3"]["fmax"]  # 1HVR-B is found exactly


def test_composition_by_hand():
    np.testing.assert_allclose(composition("AAGX")[[0, 7]], [0.5, 0.25])  # X counts in no column
    assert composition("AAGX").sum() == pytest.approx(0.75)


def test_logistic_fit_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0, 0.0]) + rng.normal(size=200) > 0.3).astype(float)[:, None]
    l2 = 0.05
    w, b = logistic_fit(x, y, l2, iterations=500)
    ref = LogisticRegression(C=1.0 / (l2 * len(x)), tol=1e-10, max_iter=5000).fit(x, y[:, 0])
    np.testing.assert_allclose(w[:, 0], ref.coef_[0], atol=2e-4)
    assert b[0] == pytest.approx(ref.intercept_[0], abs=2e-4)


def test_composition_row_in_the_baselines(bench):
    store, folder = bench
    result = run_baselines(store, FunctionConfig(name="go-mf", labels=str(folder), unlabelled="skip"))
    assert result["composition_l2"] in STRENGTHS
    assert result["composition"]["0.95"]["proteins"] == result["naive"]["0.95"]["proteins"]
