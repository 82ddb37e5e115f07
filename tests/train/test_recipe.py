"""The fine-tuning recipe: schedule filled in by `finetune` itself, head first (LP-FT), early stopping."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vabsnet.config import preset
from vabsnet.data.store import Store
from vabsnet.metrics import score_spread
from vabsnet.tasks.base import build_task
from vabsnet.train.finetune import (
    FinetuneModule,
    Selection,
    finetune,
    fit_on_readouts,
    recipe,
    whole_chains,
    with_recipe,
)
from vabsnet.train.probe import collect

ENTRIES = ["1AFS", "19hc", "1a28", "4CUP", "1FKI", "1hvr"]


@pytest.fixture(scope="module")
def store(make_store):
    return make_store("recipe", ENTRIES, (0.5, 0.25, 0.25))


def test_recipe_counts_epochs_and_scales_the_rate():
    cfg = preset("tiny").override(**{"task.name": "binding-site", "task.epochs": 3.0, "data.batch_size": 4})
    assert recipe(cfg, 50) == {"train.lr": pytest.approx(1e-4), "train.max_steps": 38, "train.warmup_steps": 3}
    go = preset("tiny").override(**{"task.name": "ec"})
    assert recipe(go, 8)["train.lr"] == pytest.approx(5e-4) and recipe(go, 8)["train.max_steps"] == 20
    paper = preset("paper").override(**{"task.name": "binding-site"})
    assert recipe(paper, 50)["train.max_steps"] == 100_000 and recipe(paper, 50)["encoder.k_atom"] == 30


def test_with_recipe_fills_only_what_was_not_given():
    cfg = preset("tiny").override(**{"task.name": "binding-site", "train.max_steps": 80})
    out, schedule = with_recipe(cfg, 100)
    assert out.train.max_steps == 80 and "train.max_steps" not in schedule  # differs from the preset: kept
    assert out.train.lr == pytest.approx(1e-4) and schedule["train.warmup_steps"] == 8  # 10% of the 80 given
    recipe_length = with_recipe(preset("tiny").override(**{"task.name": "binding-site"}), 100)[0].train
    assert (recipe_length.max_steps, recipe_length.warmup_steps) == (250, 25)  # 10 epochs of 100 chains
    same = preset("tiny").override(**{"task.name": "binding-site", "train.lr": 1e-3})  # = tiny's own rate
    assert with_recipe(same, 100)[0].train.lr == pytest.approx(1e-4)  # not given: the recipe's
    assert with_recipe(same, 100, given={"train.lr"})[0].train.lr == pytest.approx(1e-3)  # given on purpose
    custom = cfg.override(preset="mine")
    assert with_recipe(custom, 100) == (custom, {})


def test_score_spread_by_hand():
    protein = score_spread([np.array([0.1, 0.5]), np.array([0.3, 0.5])], [np.array([1, 0]), np.array([0, 0])],
                           "protein")
    assert protein == {"base_rate": 0.25, "max_score": 0.5, "mean_score": pytest.approx(0.35),
                       "score_sd": pytest.approx(0.05)}  # term sds 0.1 and 0, averaged
    residue = score_spread([np.array([0.0, 1.0]), np.array([0.5])], [np.array([0, 1]), np.array([0])], "residue")
    assert residue["score_sd"] == pytest.approx(np.std([0.0, 1.0, 0.5]))
    assert residue["base_rate"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="NaN"):
        score_spread([np.array([math.nan])], [np.array([0])], "residue")


def _config(**extra):
    return preset("tiny").override(**{"task.name": "binding-site", "data.crop_residues": 64, "data.batch_size": 2,
                                      "train.max_steps": 12, "task.eval_every": 2, "task.probe_steps": 40, **extra})


def test_head_first_then_end_to_end(store, tmp_path):
    result = finetune(store, tmp_path / "run", _config(), progress=False)
    probe, selection = result["probe"], result["selection"]
    assert probe["steps"] == 40 and 0 <= probe["best_step"] <= 40 and probe["train_rows"] > 1000
    assert selection["best"] >= probe["valid_auprc"]  # the probe's state is the one to beat
    assert set(probe["test"]) >= {"auroc", "pooled_auroc", "spread"}
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["train"]["lr"] == pytest.approx(1e-4)  # the recipe's rate, resolved into the run's config
    with np.load(tmp_path / "run" / "scores_test.npz") as data:
        scores, targets = data["scores"], data["targets"]
        assert len(scores) == data["offsets"][-1] == len(targets) and list(data["chains"]) == result["chains"]
    spread = result["spread"]
    assert spread["max_score"] == pytest.approx(float(scores.max()), abs=1e-6)
    assert spread["base_rate"] == pytest.approx(float(targets.mean()))
    assert spread["score_sd"] == pytest.approx(float(scores.std()), abs=1e-6) and spread["score_sd"] > 1e-3


def test_early_stopping_and_rerun(store, tmp_path):
    cfg = _config(**{"task.patience": 1, "train.max_steps": 40, "train.lr": 1e-7, "task.head_lr_mult": 1.0})
    first = finetune(store, tmp_path / "stop", cfg, progress=False)
    rows = (tmp_path / "stop" / "metrics.csv").read_text().splitlines()[1:]
    assert first["selection"]["stopped_early"] and len(rows) < 40  # lr 1e-7 cannot beat the probe
    again = finetune(store, tmp_path / "stop", cfg, progress=False)  # finished: not trained again
    assert (tmp_path / "stop" / "metrics.csv").read_text().splitlines()[1:] == rows
    assert again["auroc"] == pytest.approx(first["auroc"], abs=1e-6)


def test_reprobe_refits_the_head_on_the_drifted_encoder(store):
    """``task.reprobe``: before a validation pass the head's standardisation and body are fitted again on the
    readouts of the encoder as it is now, not on those of the encoder it started from."""
    data = Store(store)
    cfg = _config(**{"task.reprobe": True, "task.probe_steps": 20})
    task = build_task(cfg.task, data)
    splits = task.split_keys(data)
    train = task.dataset(data, splits["train"], cfg, train=True, seed=0)
    valid = task.dataset(data, splits["valid"], cfg, train=False, seed=0)
    module = FinetuneModule(cfg, task, {})
    whole = whole_chains(train)
    fit_on_readouts(module, whole, valid)
    before = module.model.head.norm.mean.clone()
    with torch.no_grad():  # what end-to-end steps do to the encoder, exaggerated
        for p in module.model.encoder.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    now = collect(module.model.encoder, task, whole, max_rows=None).x.mean(0).double()
    trainer = SimpleNamespace(global_step=2, max_steps=12, world_size=1, global_rank=0, should_stop=False)
    Selection(valid, 2, 0, whole).on_train_batch_end(trainer, module, None, None, 0)  # type: ignore[arg-type]
    after = module.model.head.norm.mean.double()
    assert (now - before.double()).abs().max() > 0.05  # the drift is visible in the readouts
    assert torch.allclose(after, now, atol=1e-5)  # and the standardisation follows it
    assert all(p.grad is None for p in module.model.head.parameters())  # no stale gradient for the next step
    assert "valid_auprc" in module.last_eval
