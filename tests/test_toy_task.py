"""A task added from outside the package: a residue-level regression (each residue's CA distance to its
chain's centre, in nm), registered at test time with one registry line and no other edit, runs
``finetune -> evaluate -> predict`` through the real command line; its metrics, headline and plot are its
own."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vabsnet import registry
from vabsnet.cli import main
from vabsnet.config import TaskConfig, task_section
from vabsnet.corpus import entry
from vabsnet.data.batch import Batch, split_rows
from vabsnet.model.heads import TaskHead
from vabsnet.model.outputs import EncoderOutput
from vabsnet.structure.protein import Protein
from vabsnet.tasks.base import Metrics, Task
from vabsnet.train.evaluate import read_chain_scores


@dataclass(frozen=True)
class ToyConfig(TaskConfig):
    name: str = "toy-centre-distance"
    scale: float = 10.0  # Angstrom per target unit


class ToyTask(Task):
    config_class = ToyConfig
    level = "residue"
    selection_metric = "pearson"
    headline = ("pearson", "rmse")

    def __init__(self, config: TaskConfig, store: object = None) -> None:
        self.config = task_section(config)
        self.name = self.config.name

    def usable(self, protein: Protein) -> bool:
        return protein.num_residues >= 8

    def labels(self, protein: Protein) -> np.ndarray:
        ca = protein.ca_coords
        return (np.linalg.norm(ca - ca.mean(0), axis=1) / self.config.scale).astype(np.float32)  # [R]

    def readout_dim(self, dim: int, layers: int) -> int:
        return dim

    def readout(self, out: EncoderOutput, batch: Batch) -> torch.Tensor:
        return out.residue.float()  # [R, D]

    def head_body(self, features: int, dim: int) -> nn.Module:
        return nn.Linear(features, 1)

    def init_head(self, head: TaskHead, x: torch.Tensor, y: torch.Tensor) -> None:
        head.norm.fit(x)
        with torch.no_grad():
            head.body.bias.fill_(float(y.mean()))  # a regression starts at the mean, not at a base rate

    def head_logits(self, head: nn.Module, features: torch.Tensor) -> torch.Tensor:
        return head(features).squeeze(-1).float()

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(logits, target)

    def scores(self, logits: torch.Tensor, batch: Batch) -> list[np.ndarray]:
        return split_rows(logits, batch.num_residues)

    def targets(self, target: torch.Tensor, batch: Batch) -> list[np.ndarray]:
        return split_rows(target, batch.num_residues)

    def metrics(self, scores: list[np.ndarray], targets: list[np.ndarray]) -> Metrics:
        s, t = np.concatenate(scores), np.concatenate(targets)
        return Metrics({"pearson": float(np.corrcoef(s, t)[0, 1]), "rmse": float(np.sqrt(np.mean((s - t) ** 2)))},
                       {"proteins": len(scores), "residues": len(s)}, {"averaging": "pooled over residues"})

    def plot(self, scores: list[np.ndarray], targets: list[np.ndarray], out: Path, split: str) -> None:
        (out / f"toy_{split}.txt").write_text(f"{len(scores)} chains\n")

    def prediction_writer(self, out: Path) -> ToyWriter:
        return ToyWriter(out)


class ToyWriter:
    def __init__(self, out: Path) -> None:
        self.out = out

    def add(self, stem: str, chain: str, protein: Protein, scores: np.ndarray) -> None:
        rows = [f"{int(n)},{float(v) * 10.0:.3f}" for n, v in zip(protein.res_id, scores, strict=True)]
        (self.out / f"{stem}.csv").write_text("residue_number,distance_A\n" + "\n".join(rows) + "\n")

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def store(make_store):
    return make_store("toy", ["1AFS", "1hvr", "19hc", "1a28", "4CUP", "1FKI", "1gbt", "2OFG"], (0.5, 0.25, 0.25))


def test_a_registered_residue_regression_runs_through_the_cli(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(registry.TASKS, "toy-centre-distance", f"{__name__}:ToyTask")
    run = tmp_path / "toy"
    assert main(["finetune", "--task", "toy-centre-distance", "--store", str(store), "--out", str(run),
                 "--max-steps", "4", "--quiet", "--set", "data.crop_residues=64", "--set", "task.eval_every=2",
                 "--set", "task.probe_steps=50", "--set", "task.scale=20.0"]) == 0
    out = capsys.readouterr().out
    assert "pearson" in out and "rmse" in out and "auroc" not in out  # the task's own headline
    metrics = json.loads((run / "metrics.json").read_text())
    chains, scores, targets = read_chain_scores(run / "scores_test.npz")
    s, t = np.concatenate(scores), np.concatenate(targets)
    assert metrics["pearson"] == pytest.approx(float(np.corrcoef(s, t)[0, 1]), abs=1e-5)
    assert metrics["rmse"] == pytest.approx(float(np.sqrt(np.mean((s - t) ** 2))), abs=1e-5)
    assert metrics["residues"] == len(t) and metrics["proteins"] == len(chains)
    assert (run / "toy_test.txt").exists() and not (run / "roc_test.png").exists()  # its plot hook
    assert json.loads((run / "config.json").read_text())["task"]["scale"] == 20.0  # its own config key
    assert t.max() < 3.0  # targets in units of 20 A: the task's option reached its labels

    assert main(["evaluate", "--run", str(run), "--store", str(store), "--split", "valid"]) == 0
    assert "pearson" in capsys.readouterr().out
    assert set(json.loads((run / "metrics_valid.json").read_text())) >= {"pearson", "rmse", "residues"}

    pdb = str(entry("1gbt").path)
    assert main(["predict", "toy-centre-distance", "--run", str(run), pdb, "--out", str(tmp_path / "pred"),
                 "--quiet", "--device", "cpu"]) == 0
    files = sorted((tmp_path / "pred").glob("*.csv"))
    assert files, "one CSV per chain"
    rows = list(csv.DictReader(files[0].open()))
    assert len(rows) > 8 and all(float(r["distance_A"]) == float(r["distance_A"]) for r in rows)
