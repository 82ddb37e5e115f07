"""Binding-site fine-tuning end to end on real ligand-bound structures."""

from __future__ import annotations

import gzip
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vabsnet.cli import main
from vabsnet.config import TaskConfig
from vabsnet.corpus import entries
from vabsnet.metrics import best_threshold
from vabsnet.structure import load_structure
from vabsnet.tasks import BindingSiteTask
from vabsnet.train.evaluate import split_scores

LIGAND_ENTRIES = ["1AFS", "1hvr", "19hc", "1a28", "7ZTL_BCN_protein", "4CUP", "1FKI", "pdb3mht"]


@pytest.fixture(scope="module")
def store(make_store):
    return make_store("bs", LIGAND_ENTRIES, (0.5, 0.25, 0.25))


def test_labels_match_brute_force_distances_from_the_file(corpus_path):
    """1AFS chain A with NADP (48 heavy atoms) and testosterone (21): an atom is labelled when its residue has
    any heavy atom within 4 A of either ligand, computed here from the file's records with all distances."""
    path = corpus_path("1AFS")
    protein = load_structure(path).select_chain("A")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    xyz = lambda ln: [float(ln[30:38]), float(ln[38:46]), float(ln[46:54])]  # noqa: E731
    ligand = np.array([xyz(ln) for ln in lines if ln.startswith("HETATM") and ln[17:20] in ("NAP", "TES")
                       and ln[21] == "A" and ln[76:78].strip() != "H"])
    assert len(ligand) == 69
    near = np.linalg.norm(protein.coords[:, None] - ligand[None], axis=-1).min(1) <= 4.0  # [A]
    residue = np.zeros(protein.num_residues, bool)
    np.logical_or.at(residue, protein.atom_residue, near)
    atom = BindingSiteTask(TaskConfig()).labels(protein)
    assert residue.sum() == 35 and near.sum() == 99
    np.testing.assert_array_equal(atom.astype(bool), residue[protein.atom_residue])


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
    # the decision threshold: max pooled F1 over the valid residues, saved with the model, used on test
    chosen = json.loads((run / "calibration.json").read_text())
    scored = split_scores(run, store, "valid")
    t, f1 = best_threshold(np.concatenate(scored.scores), np.concatenate(scored.targets), "f1")
    assert chosen["threshold"] == pytest.approx(t) and chosen["valid_f1"] == pytest.approx(f1)
    assert metrics["threshold"] == valid["threshold"] == pytest.approx(t)
    assert valid["pooled_f1"] == pytest.approx(f1)
    assert "valid residues" in metrics["threshold_source"]
    if t != 0.5:
        assert set(metrics["at_0.5"]) >= {"mcc", "f1", "iou", "pooled_mcc", "pooled_f1", "pooled_iou"}

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
    predicted = np.array([int(x.split(",")[5]) for x in lines[1:]])
    clear = np.abs(probs - t) > 1e-4  # the CSV rounds to 4 places
    assert (predicted == (probs >= t))[clear].all() and 0 < clear.sum()  # the calibrated threshold

    # pockets: ranked CSV + PDB with pseudo-atoms; a bad file is skipped and counted, as predict does
    cut = float(np.quantile(probs, 0.8))  # CA probabilities: a cut that leaves some atoms above it
    assert main(["pockets", "--checkpoint", str(run), one, str(bad), "--out", str(tmp_path / "pk"), "--quiet",
                 "--min-probability", f"{cut}"]) == 0
    assert "1 failures" in capsys.readouterr().out
    rows = (tmp_path / "pk" / "1AFS_A_pockets.csv").read_text().splitlines()
    assert rows[0].startswith("rank,score,probability,center_x")
    table = [r.split(",") for r in rows[1:]]
    assert table and [int(r[0]) for r in table] == list(range(1, len(table) + 1))
    scores = [float(r[1]) for r in table]
    assert scores == sorted(scores, reverse=True)
    pdb = (tmp_path / "pk" / "1AFS_A_pockets.pdb").read_text().splitlines()
    assert sum(line.startswith("HETATM") and line[17:20] == "PKT" for line in pdb) == sum(int(r[9]) for r in table)
    assert sum(line.startswith("ATOM") for line in pdb) == copy.num_atoms

    # --top-fraction: each chain's top 5% of atoms by probability, whatever the calibration; with --min-atoms 1
    # every one of them is in a pocket
    assert main(["pockets", "--checkpoint", str(run), one, "--out", str(tmp_path / "pk5"), "--quiet",
                 "--top-fraction", "0.05", "--min-atoms", "1"]) == 0
    assert "the top 0.05 of each chain's atoms" in capsys.readouterr().out
    table5 = [r.split(",") for r in (tmp_path / "pk5" / "1AFS_A_pockets.csv").read_text().splitlines()[1:]]
    # atoms tied at the cut all pass: this 6-step model's atom probabilities take 167 distinct values over
    # 1AFS's 2,581 atoms (a barely trained encoder's atom states depend mostly on atom and residue type)
    assert 0.05 * copy.num_atoms - 1 <= sum(int(r[9]) for r in table5) <= 0.06 * copy.num_atoms

    # dock: Vina in the box of the top pocket, the one `pockets` ranks first
    assert main(["dock", one, "--smiles", "NC(=N)c1ccccc1", "--checkpoint", str(run), "--min-probability", f"{cut}",
                 "--top-k", "1", "--out", str(tmp_path / "dock"), "--exhaustiveness", "1", "--poses", "1",
                 "--cpu", "1"]) == 0
    row = (tmp_path / "dock" / "summary.csv").read_text().splitlines()[1].split(",")
    every = [r.split(",") for f in sorted((tmp_path / "pk").glob("1AFS_*_pockets.csv"))
             for r in f.read_text().splitlines()[1:]]  # both chains of the homodimer
    best = max(float(r[1]) for r in every)
    assert row[:2] == ["pocket1", "1"] and float(row[2]) == pytest.approx(best, abs=1e-3)
    centre = np.array([float(x) for x in row[3:6]])  # a top-scoring pocket's (the chains' scores may tie)
    assert any(np.allclose(centre, [float(x) for x in r[3:6]], atol=1e-3) for r in every
               if float(r[1]) > best - 1e-3)


def test_init_from_a_mismatched_encoder_is_refused(store, tmp_path, capsys):
    from vabsnet.config import preset
    from vabsnet.model import VabsEncoder
    from vabsnet.runtime import save_encoder

    cfg = preset("tiny").override(**{"encoder.dim": 64})
    save_encoder(VabsEncoder(cfg.encoder), tmp_path / "encoder.safetensors", cfg)
    (tmp_path / "config.json").write_text(cfg.to_json())
    assert main(["finetune", "--store", str(store), "--init", str(tmp_path / "encoder.safetensors"),
                 "--out", str(tmp_path / "ft"), "--max-steps", "1", "--quiet"]) == 2
    assert "encoder.dim: 64 in --init, 128 here" in capsys.readouterr().err


def test_init_at_other_knn_sizes_and_the_task_schedule(store, tmp_path, capsys):
    """The official binding-site recipe fine-tunes at kNN 30/30 an encoder pre-trained at 15/15: the kNN
    sizes are data-side and may differ from the encoder's pre-training; the schedule is the task's."""
    from vabsnet.config import preset
    from vabsnet.model import VabsEncoder
    from vabsnet.runtime import save_encoder
    from vabsnet.train.finetune import recipe

    cfg = preset("tiny")
    torch.manual_seed(0)
    save_encoder(VabsEncoder(cfg.encoder), tmp_path / "encoder.safetensors", cfg)
    (tmp_path / "config.json").write_text(cfg.to_json())
    run = tmp_path / "ft"
    assert main(["finetune", "--store", str(store), "--init", str(tmp_path / "encoder.safetensors"),
                 "--out", str(run), "--max-steps", "2", "--set", "encoder.k_atom=20", "--set", "encoder.k_res=24",
                 "--set", "data.crop_residues=64", "--set", "task.eval_every=2"]) == 0
    assert "task schedule: train.lr=0.0001, train.warmup_steps=1" in capsys.readouterr().out
    saved = json.loads((run / "config.json").read_text())
    assert (saved["encoder"]["k_atom"], saved["encoder"]["k_res"], saved["train"]["lr"]) == (20, 24, 1e-4)
    # official schedules on the paper preset; a rate given by the user wins over the task's
    assert recipe(preset("paper"), 10) == {"train.lr": 1e-5, "train.warmup_steps": 10_000, "train.max_steps": 100_000,
                                       "encoder.k_atom": 30, "encoder.k_res": 30}
    assert recipe(preset("paper").override(**{"task.name": "ec"}), 10)["train.lr"] == 5e-5
    assert recipe(preset("base").override(**{"task.name": "go-mf"}), 10)["train.lr"] == pytest.approx(2.5e-4)


def test_augmentation_masks_a_fifth_of_residues_and_keeps_their_atoms(corpus_path):
    from vabsnet.constants import ATOM_MASK, RESTYPE_MASK
    from vabsnet.tasks.augment import mask_residues_keep_atoms

    p = load_structure(corpus_path("1AFS")).select_chain("A")
    aug = mask_residues_keep_atoms(p, 0.2, 0.5, np.random.default_rng(0))
    assert aug.masked.sum() == int(p.num_residues * 0.2) == 63
    on_atom = aug.masked[p.atom_residue]
    assert aug.protein.num_atoms == p.num_atoms  # atoms kept
    np.testing.assert_array_equal(aug.res_token == RESTYPE_MASK, aug.masked)
    np.testing.assert_array_equal(aug.atom_token == ATOM_MASK, on_atom)
    np.testing.assert_array_equal(aug.atom_token[~on_atom], p.atom_name[~on_atom])
    delta = aug.protein.coords - p.coords
    assert not delta[~on_atom].any()
    assert 0.45 < delta[on_atom].std() < 0.55  # N(0, 0.5^2) per axis, over ~1500 values

    # in the training split only; the labels come from the clean chain
    from vabsnet.config import preset
    from vabsnet.tasks.data import TaskDataset

    class One:
        def __getitem__(self, key):
            return SimpleNamespace(protein=p, lm=None, lm_cls=None)

    cfg = preset("tiny").override(**{"data.crop_residues": 1000})
    task = BindingSiteTask(cfg.task)
    train = TaskDataset(One(), ["x"], cfg, task, train=True, seed=0)
    graph, labels = train[0]
    np.testing.assert_array_equal(labels, task.labels(p))
    assert (graph.atom_token == ATOM_MASK).any() and (graph.res_token == RESTYPE_MASK).sum() == 63
    graph, _ = TaskDataset(One(), ["x"], cfg, task, train=False, seed=0)[0]
    assert not (graph.atom_token == ATOM_MASK).any() and not (graph.res_token == RESTYPE_MASK).any()
    off = BindingSiteTask(cfg.override(**{"task.augment": 0.0}).task)
    graph, _ = TaskDataset(One(), ["x"], cfg, off, train=True, seed=0)[0]
    assert not (graph.atom_token == ATOM_MASK).any()
