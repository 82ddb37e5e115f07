"""Binding-site fine-tuning end to end on real ligand-bound structures."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vabsnet.cli import main
from vabsnet.config import TaskConfig
from vabsnet.corpus import entries
from vabsnet.structure import load_structure
from vabsnet.structure.labels import binding_site_labels
from vabsnet.tasks import BindingSiteTask

LIGAND_ENTRIES = ["1AFS", "1hvr", "19hc", "1a28", "7ZTL_BCN_protein", "4CUP", "1FKI", "pdb3mht"]


@pytest.fixture(scope="module")
def store(make_store):
    return make_store("bs", LIGAND_ENTRIES, (0.5, 0.25, 0.25))


def test_labels_follow_the_residue_rule(corpus_path):
    protein = load_structure(corpus_path("1AFS")).select_chain("A")
    task = BindingSiteTask(TaskConfig())
    atom = task.labels(protein)
    residue = binding_site_labels(protein, 4.0, 6).residue
    np.testing.assert_array_equal(atom.astype(bool), residue[protein.atom_residue])
    assert task.usable(protein)


def test_atom_pairs_and_metrics_by_hand():
    task = BindingSiteTask(TaskConfig())
    logits = torch.logit(torch.tensor([0.9, 0.8, 0.2, 0.1, 0.7, 0.3]))
    target = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    pairs = task.atom_pairs(logits, target, SimpleNamespace(num_atoms=torch.tensor([4, 2])))
    assert [len(s) for s, _ in pairs] == [4, 2]
    np.testing.assert_allclose(pairs[0][0], [0.9, 0.8, 0.2, 0.1], rtol=1e-6)
    m = task.atom_metrics(pairs)
    # protein 1: predicted {0, 1}, true {0, 2}: IoU 1/3; AUROC 3 of 4 pairs ordered. Protein 2: perfect.
    assert m["atom_iou"] == pytest.approx((1 / 3 + 1.0) / 2)
    assert m["atom_auroc"] == pytest.approx((0.75 + 1.0) / 2)
    assert m["atom_pooled_iou"] == pytest.approx(2 / 4)  # predicted {0.9, 0.8, 0.7}, true {0.9, 0.2, 0.7}


def test_finetune_and_evaluate_commands(store, tmp_path, capsys):
    run = tmp_path / "ft"
    args = ["finetune", "--task", "binding-site", "--store", str(store), "--max-steps", "6", "--out", str(run),
            "--quiet", "--set", "data.crop_residues=96", "--set", "data.batch_size=2", "--set", "task.eval_every=3"]
    assert main(args) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("auroc", "auprc", "mcc", "f1", "iou", "precision", "recall", "pooled_auroc", "averaging",
                "atom_auroc", "atom_iou", "atom_pooled_iou"):
        assert key in metrics
    assert metrics["split"] == "test" and metrics["proteins"] >= 1
    assert (run / "roc_test.png").exists() and (run / "pr_test.png").exists()
    assert main(["evaluate", "--run", str(run), "--store", str(store), "--split", "valid"]) == 0
    valid = json.loads((run / "metrics_valid.json").read_text())
    assert valid["split"] == "valid" and valid["chains"]
    assert "auroc" in capsys.readouterr().out

    # predict: a CSV and a B-factor PDB per chain; a bad file is skipped and counted
    bad = tmp_path / "bad.cif"
    bad.write_text("data_x\n")
    one = str(next(e for e in entries() if e.id == "1AFS").path)
    assert main(["predict", "binding-site", "--checkpoint", str(run), one, str(bad), "--out",
                 str(tmp_path / "pred"), "--quiet"]) == 0
    assert "1 failures" in capsys.readouterr().out
    lines = (tmp_path / "pred" / "1AFS_A.csv").read_text().splitlines()
    assert lines[0] == "chain,residue_number,insertion_code,residue_name,probability,predicted"
    assert len(lines) == 1 + 319
    copy = load_structure(tmp_path / "pred" / "1AFS_A.pdb")
    assert copy.num_residues == 319
    probs = np.array([float(x.split(",")[4]) for x in lines[1:]])
    assert ((0 <= probs) & (probs <= 1)).all()


def test_init_from_a_mismatched_encoder_is_refused(store, tmp_path, capsys):
    from vabsnet.config import preset
    from vabsnet.model import VabsEncoder
    from vabsnet.train.checkpoint import save_encoder

    cfg = preset("tiny").override(**{"encoder.dim": 64})
    save_encoder(VabsEncoder(cfg.encoder), tmp_path / "encoder.safetensors", cfg)
    (tmp_path / "config.json").write_text(cfg.to_json())
    assert main(["finetune", "--store", str(store), "--init", str(tmp_path / "encoder.safetensors"),
                 "--out", str(tmp_path / "ft"), "--max-steps", "1", "--quiet"]) == 2
    assert "encoder config differs" in capsys.readouterr().err
