"""`vabsnet demo` end to end at a micro budget on the bundled corpus: every output, every key, and a rerun
that only re-reads what is there."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vabsnet.demo.report import _stats
from vabsnet.demo.run import PRETRAINED, STRATEGIES, Budget, run_demo
from vabsnet.train.evaluate import read_chain_scores

MICRO = Budget(pretrain_steps=4, finetune_steps=4, seeds=(0, 1), eval_every=2, crop=48, mask_draws=2)


def test_stats_skip_missing_values_and_use_sample_sd():
    mean, sd = _stats([0.5, 0.7, None, math.nan])
    assert mean == pytest.approx(0.6) and sd == pytest.approx(math.sqrt(0.02))
    assert _stats([0.25]) == (0.25, 0.0)
    assert all(math.isnan(x) for x in _stats([None]))


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo"
    return out, run_demo(out, MICRO, progress=False)


def test_metrics_keys_and_values(demo):
    out, metrics = demo
    assert json.loads((out / "metrics.json").read_text()) == metrics
    for mask in PRETRAINED:
        acc = metrics[f"pretrain.{mask}.masked_type_accuracy"]
        draws = metrics[f"pretrain.{mask}.masked_type_accuracy_draws"]
        assert len(draws) == 2 and acc == pytest.approx(sum(draws) / 2)
    for strategy in STRATEGIES:
        seeds = metrics[f"binding_site.{strategy}.auroc_seeds"]
        assert len(seeds) == 2
        assert metrics[f"binding_site.{strategy}.auroc"] == pytest.approx(sum(seeds) / 2)
        for seed, value in zip(MICRO.seeds, seeds, strict=True):  # sklearn on the run's saved test scores
            _, scores, targets = read_chain_scores(out / f"finetune-{strategy}-seed{seed}" / "scores_test.npz")
            per_protein = [roc_auc_score(t.astype(bool), s) for s, t in zip(scores, targets, strict=True)
                           if 0 < t.sum() < len(t)]
            assert value == pytest.approx(float(np.mean(per_protein)), abs=1e-6)
        for key in ("auprc", "mcc", "f1", "iou", "pooled_auroc", "atom_auroc", "atom_iou"):
            assert f"binding_site.{strategy}.{key}" in metrics
        assert metrics["binding_site"][strategy]["test_proteins"] >= 1
    info = metrics["info"]
    assert info["budget"] == "custom" and info["corpus"]["chains"] == 256
    assert sum(info["corpus"]["split"].values()) == 256


def test_report_and_plots(demo):
    out, _ = demo
    report = (out / "report.md").read_text()
    for strategy in STRATEGIES:
        assert f"\n| {strategy} | " in report
    for name in ("loss_curves.png", "masked_type_accuracy.png", "roc_curves.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_reuses_finished_stages(demo):
    out, metrics = demo
    before = json.loads((out / "timings.json").read_text())
    written = {p: p.stat().st_mtime_ns for p in out.glob("*/*.safetensors")}
    assert len(written) == len(PRETRAINED) + len(STRATEGIES) * len(MICRO.seeds)
    again = run_demo(out, MICRO, progress=False)
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*.safetensors")} == written  # nothing retrained
    assert {k: v for k, v in again.items() if k != "info"} == {k: v for k, v in metrics.items() if k != "info"}
    after = json.loads((out / "timings.json").read_text())
    assert set(after) == set(before) and all(after[k] >= before[k] for k in before)
