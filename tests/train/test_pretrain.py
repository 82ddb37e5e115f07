"""The pre-training engine end to end: outputs, resume after SIGKILL, damaged checkpoints, DDP."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vabsnet.cli import main
from vabsnet.config import Config
from vabsnet.corpus import entry
from vabsnet.data.prepare import prepare
from vabsnet.errors import VabsnetError
from vabsnet.runtime import load_encoder
from vabsnet.train.checkpoint import read_checkpoint

SMALL = ["--set", "data.crop_residues=96", "--set", "data.batch_size=2"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("pt") / "store"
    prepare([entry(i).path for i in ("1AFS", "1osm", "19hc", "2xr6A", "1gbt")], path, progress=False)
    return path


def _rows(path: Path) -> list[dict]:
    with (path / "metrics.csv").open() as fh:
        return list(csv.DictReader(fh))


def _cmd(store: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return ["pretrain", "--store", str(store), "--out", str(out), "--max-steps", str(steps), "--quiet",
            *SMALL, *extra]


def test_run_directory_contents(store, tmp_path):
    run = tmp_path / "run"
    assert main(_cmd(store, run, 6)) == 0
    assert {p.name for p in run.iterdir()} >= {"config.json", "encoder.safetensors", "last.ckpt", "metrics.csv",
                                               "loss_curves.png"}
    config = Config.load(run / "config.json")
    assert config.train.max_steps == 6 and config.data.crop_residues == 96 and config.pretrain.mask == "span"
    encoder, cfg = load_encoder(run / "encoder.safetensors")
    assert cfg == config
    ckpt = read_checkpoint(run / "last.ckpt")
    state = {k.removeprefix("encoder."): v for k, v in ckpt["state_dict"].items() if k.startswith("encoder.")}
    for k, v in encoder.state_dict().items():
        torch.testing.assert_close(v, state[k])
    rows = _rows(run)
    assert [int(r["step"]) for r in rows] == list(range(1, 7))
    w = config.pretrain  # the logged total is the weighted sum of the logged objectives, row by row
    for r in rows:
        parts = (w.w_type * float(r["type"]) + w.w_position * float(r["position"]) + w.w_distance * float(r["distance"])
                 + w.w_torsion * float(r["torsion"]) + w.w_sasa * float(r["sasa"]))
        assert float(r["loss"]) == pytest.approx(parts, rel=1e-4)
    assert (run / "loss_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_sigkill_then_resume_matches_uninterrupted_run(store, tmp_path):
    args = ["--set", "train.checkpoint_every=6"]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert main(_cmd(store, clean, 24, *args)) == 0
    proc = subprocess.Popen([sys.executable, "-m", "vabsnet.cli", *_cmd(store, killed, 24, *args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if (killed / "last.ckpt").exists() and (killed / "metrics.csv").exists() and len(_rows(killed)) >= 8:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = len(_rows(killed))
    assert 8 <= done < 24, "the run finished before it was killed"
    assert main(_cmd(store, killed, 24, *args)) == 0
    a, b = _rows(clean), _rows(killed)
    assert [r["step"] for r in b] == [str(i) for i in range(1, 25)]
    for ra, rb in zip(a, b, strict=True):  # every loss term of every step, the resumed ones included
        assert {k: v for k, v in ra.items() if k != "elapsed_s"} == {k: v for k, v in rb.items() if k != "elapsed_s"}


def test_damaged_checkpoints_give_clear_errors(store, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_cmd(store, run, 3)) == 0
    ckpt = run / "last.ckpt"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    assert main(_cmd(store, run, 3)) == 2
    assert "damaged or foreign checkpoint" in capsys.readouterr().err
    ckpt.write_bytes(b"\x80\x04\x95" + os.urandom(2000))
    with pytest.raises(VabsnetError, match="damaged or foreign"):
        read_checkpoint(ckpt)


def test_other_config_in_same_run_is_refused(store, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_cmd(store, run, 2)) == 0
    assert main(_cmd(store, run, 2, "--mask", "residue")) == 2
    assert "another config" in capsys.readouterr().err


def test_two_dataloader_workers_read_the_lmdb_store_and_give_the_same_losses(store, tmp_path):
    """Workers are forked after the store is opened in the parent (LMDB refuses a second open there)."""
    serial, workers = tmp_path / "w0", tmp_path / "w2"
    assert main(_cmd(store, serial, 3, "--set", "data.num_workers=0")) == 0
    assert main(_cmd(store, workers, 3, "--set", "data.num_workers=2")) == 0
    drop = ("elapsed_s",)
    assert ([{k: v for k, v in r.items() if k not in drop} for r in _rows(serial)]
            == [{k: v for k, v in r.items() if k not in drop} for r in _rows(workers)])


def test_empty_train_split_is_a_clear_error(store, tmp_path, capsys):
    import json

    (store / "splits.json").write_text(json.dumps({"splits": {"train": [], "valid": [], "test": []}}))
    try:
        assert main(_cmd(store, tmp_path / "run", 2)) == 2
    finally:
        (store / "splits.json").unlink()
    assert "train split is empty" in capsys.readouterr().err


def test_single_mask_trains_with_the_span_losses(store, tmp_path):
    """`single` noises its masked CAs like `span`, so the position and distance losses are on; `residue`
    noises nothing."""
    rows = {}
    for mask in ("single", "residue"):
        assert main(_cmd(store, tmp_path / mask, 2, "--mask", mask)) == 0
        rows[mask] = _rows(tmp_path / mask)
    assert all(float(r["position"]) > 0.1 and float(r["distance"]) > 0.0 for r in rows["single"])
    assert all(float(r["position"]) == 0.0 and float(r["distance"]) == 0.0 for r in rows["residue"])


def test_cluster_sampling_needs_a_split_and_trains(store, tmp_path, capsys):
    assert main(_cmd(store, tmp_path / "a", 2, "--set", "data.sampling=cluster")) == 2
    assert "splits.json" in capsys.readouterr().err  # clusters come from `vabsnet split`
    assert main(["split", str(store), "--fractions", "1,0,0"]) == 0
    assert main(_cmd(store, tmp_path / "b", 2, "--set", "data.sampling=cluster")) == 0
    assert len(_rows(tmp_path / "b")) == 2


def test_two_nodes_train_as_one_process_with_the_same_global_batch(store, tmp_path):
    """Two "nodes" on localhost (torchrun, one process each, gloo) against one process that accumulates two
    micro-batches: the same samples per step (rank r of the nodes = micro-batch r) and the same averaged
    gradient, so the same weights at the end."""
    import socket

    from vabsnet.runtime import load_encoder

    one, two = tmp_path / "one", tmp_path / "two"
    assert main(_cmd(store, one, 3, "--set", "train.accumulate=2")) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
              "--master-addr", "127.0.0.1", "--master-port", str(port)]
    procs = [subprocess.Popen([*launch, "--node-rank", str(rank), "-m", "vabsnet.cli",
                               *_cmd(store, two, 3, "--num-nodes", "2")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert json.loads((two / "config.json").read_text())["train"]["num_nodes"] == 2
    a, _ = load_encoder(one / "encoder.safetensors")
    b, _ = load_encoder(two / "encoder.safetensors")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, atol=2e-5, rtol=1e-4, msg=name)
    assert [int(r["step"]) for r in _rows(two)] == [1, 2, 3]
    half = tmp_path / "half"  # one process, half the global batch: other weights (the check can fail)
    assert main(_cmd(store, half, 3)) == 0
    c, _ = load_encoder(half / "encoder.safetensors")
    assert any(not torch.allclose(x, y, atol=2e-5, rtol=1e-4)  # beyond the tolerance the nodes met
               for x, y in zip(c.state_dict().values(), b.state_dict().values(), strict=True))
