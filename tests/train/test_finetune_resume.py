"""A killed `finetune` resumes from RUN/last.pt and ends exactly where the uninterrupted run ends."""

from __future__ import annotations

import json

import pytest

from vabsnet.config import preset
from vabsnet.errors import VabsnetError
from vabsnet.train import finetune as ft

ENTRIES = ["1AFS", "19hc", "1a28", "4CUP", "1FKI", "1hvr"]


@pytest.fixture(scope="module")
def store(make_store):
    return make_store("resume", ENTRIES, (0.5, 0.25, 0.25))


def test_killed_finetune_resumes_to_the_same_result(store, tmp_path, monkeypatch):
    config = preset("tiny").override(**{"train.max_steps": 6, "task.eval_every": 2, "data.crop_residues": 64,
                                        "data.batch_size": 2})
    clean = ft.finetune(store, tmp_path / "clean", config, progress=False)

    real, calls = ft.collate_labelled, {"n": 0}

    def dies_at_step_five(items):
        calls["n"] += 1
        if calls["n"] == 5 + 2 * 1 + 1:  # 4 train steps, 2 valid batches at step 2 and at step 4 -> 5th step
            raise KeyboardInterrupt
        return real(items)

    monkeypatch.setattr(ft, "collate_labelled", dies_at_step_five)
    with pytest.raises(KeyboardInterrupt):
        ft.finetune(store, tmp_path / "killed", config, progress=False)
    monkeypatch.setattr(ft, "collate_labelled", real)
    assert (tmp_path / "killed" / "last.pt").exists() and not (tmp_path / "killed" / "metrics.json").exists()
    resumed = ft.finetune(store, tmp_path / "killed", config, progress=False)
    assert (tmp_path / "killed" / "metrics.csv").read_text() == (tmp_path / "clean" / "metrics.csv").read_text()
    assert resumed["auprc"] == pytest.approx(clean["auprc"], abs=1e-6)
    assert json.loads((tmp_path / "killed" / "metrics.json").read_text())["selection"] == clean["selection"]

    with pytest.raises(VabsnetError, match="another config"):
        ft.finetune(store, tmp_path / "killed", config.override(**{"train.weight_decay": 0.123}), progress=False)
