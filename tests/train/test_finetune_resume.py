"""Fine-tuning runs on the same engine as pre-training: killed with SIGKILL, it resumes from RUN/last.ckpt
and reproduces the uninterrupted run step for step, down to the selected model's test metrics."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time

import pytest

from vabsnet.cli import main

ENTRIES = ["1AFS", "19hc", "1a28", "4CUP", "1FKI", "1hvr"]


@pytest.fixture(scope="module")
def store(make_store):
    return make_store("resume", ENTRIES, (0.5, 0.25, 0.25))


def _cmd(store, out, *extra):
    return ["finetune", "--store", str(store), "--out", str(out), "--max-steps", "16", "--quiet",
            "--set", "task.eval_every=4", "--set", "train.checkpoint_every=4", "--set", "data.crop_residues=64",
            "--set", "data.batch_size=2", *extra]


def _rows(run):
    with (run / "metrics.csv").open() as fh:
        return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in csv.DictReader(fh)]


def test_sigkilled_finetune_resumes_to_the_same_rows_and_result(store, tmp_path):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert main(_cmd(store, clean)) == 0
    rows = _rows(clean)
    assert [r["step"] for r in rows] == [str(i) for i in range(1, 17)]
    assert [bool(r["valid_auprc"]) for r in rows] == [i % 4 == 0 for i in range(1, 17)]
    proc = subprocess.Popen([sys.executable, "-m", "vabsnet.cli", *_cmd(store, killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # metrics.csv grows while it trains
        time.sleep(0.05)
        if (killed / "last.ckpt").exists() and (killed / "metrics.csv").exists() and len(_rows(killed)) >= 6:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(_rows(killed))
    assert 6 <= done < 16, "the run finished before it was killed"
    assert not (killed / "metrics.json").exists()
    assert main(_cmd(store, killed)) == 0
    assert _rows(killed) == rows
    a, b = (json.loads((r / "metrics.json").read_text()) for r in (clean, killed))
    assert b["selection"] == a["selection"] and b["auprc"] == pytest.approx(a["auprc"], abs=1e-6)


def test_other_config_or_init_in_the_same_run_is_refused(store, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_cmd(store, run)) == 0
    assert main(_cmd(store, run, "--set", "train.weight_decay=0.123")) == 2
    assert "another config (train.weight_decay)" in capsys.readouterr().err


def test_two_process_ddp_finetune_on_cpu(store, tmp_path):
    run = tmp_path / "ddp"
    args = _cmd(store, run, "--devices", "2")
    args[args.index("--max-steps") + 1] = "4"
    proc = subprocess.run([sys.executable, "-m", "vabsnet.cli", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["step"] for r in _rows(run)] == ["1", "2", "3", "4"] and _rows(run)[3]["valid_auprc"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "binding-site" and metrics["selection"]["metric"] == "valid auprc"
    assert proc.stdout.count("metrics.json (test") == 1  # rank 0 alone evaluates and reports


def test_sharded_validation_equals_the_unsharded_one(store):
    """What each of 3 ranks scores (every 3rd valid chain), merged, is the whole split's prediction: the same
    chains in the same order, the same scores, the same metrics."""
    import numpy as np
    import torch

    from vabsnet.config import preset
    from vabsnet.data.store import Store
    from vabsnet.runtime import FinetuneModel
    from vabsnet.tasks.base import build_task
    from vabsnet.train.evaluate import merge_shards, predict_split

    config = preset("tiny")
    s = Store(store)
    task = build_task(config.task, s)
    torch.manual_seed(0)
    model = FinetuneModel(config, task)
    torch.nn.init.normal_(model.head.body[-1].weight, std=0.1)  # scores that differ by atom
    keys = [k for split in ("valid", "test") for k in task.split_keys(s)[split]]
    dataset = task.dataset(s, keys, config, train=False, seed=0)
    assert len(dataset) >= 3
    whole = predict_split(model, task, dataset)
    merged = merge_shards([predict_split(model, task, dataset, shard=(r, 3)) for r in range(3)])
    assert merged.chains == whole.chains
    for a, b in zip(merged.scores, whole.scores, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert [len(p[0]) for p in merged.atom_pairs] == [len(p[0]) for p in whole.atom_pairs]
    assert task.metrics(merged.scores, merged.targets).values == task.metrics(whole.scores, whole.targets).values
