"""Function prediction (EC / GO): the DeepFRI file layout, labels, loss, and fine-tuning end to end.

The label files here are small fixtures written in the DeepFRI format for real bundled chains; the terms
assigned to them are test values, not curated annotations. The header-EC case uses the real EC numbers of
the bundled mmCIF headers.
"""

from __future__ import annotations

import json
from contextlib import nullcontext

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score

from vabsnet.cli import main
from vabsnet.config import Config
from vabsnet.corpus import entry
from vabsnet.data import annotations as ann
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError
from vabsnet.runtime import load_model
from vabsnet.tasks.base import build_task
from vabsnet.tasks.function import FunctionConfig, asymmetric_loss
from vabsnet.train.evaluate import read_chain_scores

ENTRIES = ["4CUP", "1FKI", "1hvr", "1gbt", "2OFG", "4ZHL"]
SPLITS = {"train": ["1FKI-A", "1FKI-B", "1HVR-A", "1HVR-B", "4ZHL-P"], "valid": ["4CUP-A", "1GBT-A"],
          "test": ["2OFG-X", "4ZHL-U", "9ZZZ-A"]}
GO = {"1FKI-A": ("GO:1,GO:2", "GO:7", ""), "1FKI-B": ("GO:1", "GO:7", "GO:9"), "1HVR-A": ("GO:3", "", ""),
      "1HVR-B": ("GO:3", "", "GO:9"), "4ZHL-P": ("GO:2", "GO:8", ""), "4CUP-A": ("GO:1", "", ""),
      "1GBT-A": ("GO:3,GO:2", "GO:8", ""), "2OFG-X": ("GO:1", "", ""), "4ZHL-U": ("GO:2", "GO:7", ""),
      "9ZZZ-A": ("GO:4", "", "")}


def write_deepfri(folder, with_lists: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    names = {"molecular_function": ["GO:1", "GO:2", "GO:3", "GO:4"], "biological_process": ["GO:7", "GO:8"],
             "cellular_component": ["GO:9"]}
    lines = []
    for branch, terms in names.items():
        lines += [f"### GO-terms ({branch})", "\t".join(terms), f"### GO-names ({branch})",
                  "\t".join(f"name of {t}" for t in terms)]
    lines.append("PDB-chain\tGO-terms (molecular_function)\tGO-terms (biological_process)\t"
                 "GO-terms (cellular_component)")
    lines += ["\t".join((chain, *cols)) for chain, cols in GO.items()]
    (folder / "nrPDB-GO_2019.06.18_annot.tsv").write_text("\n".join(lines) + "\n")
    ec = ["### EC-numbers", "1.1.1.1\t3.4.21.4\t3.6.3.5", "PDB-chain\tEC-numbers",
          "1GBT-A\t3.4.21.4", "2OFG-X\t3.6.3.5", "1FKI-A\t1.1.1.1,3.4.21.4"]
    (folder / "nrPDB-EC_annot.tsv").write_text("\n".join(ec) + "\n")
    if with_lists:
        for split, ids in SPLITS.items():
            (folder / f"nrPDB-GO_2019.06.18_{split}.txt").write_text("\n".join(ids) + "\n")
    (folder / "nrPDB-GO_2019.06.18_test.csv").write_text(
        "PDB-chain,<30%,<40%,<50%,<70%,<95%\n2OFG-X,1,1,1,1,1\n4ZHL-U,0,0,1,1,1\n9ZZZ-A,1,1,1,1,1\n")


@pytest.fixture(scope="module")
def store(make_store):
    return make_store("fn", ENTRIES, (0.6, 0.2, 0.2))


def test_deepfri_ids():
    assert ann.deepfri_id("1gbt/A") == "1GBT-A"
    assert ann.deepfri_id("1A0B-B_B/B") == "1A0B-B"  # TorchDrug file stem
    assert ann.deepfri_id("some/dir/4zhl-U_x/U") == "4ZHL-U"


def test_truncate_ec():
    assert ann.truncate_ec("3.4.21.4", 4) == "3.4.21.4"
    assert ann.truncate_ec("3.4.21.4", 2) == "3.4"
    assert ann.truncate_ec("3.4.17.-", 4) is None
    assert ann.truncate_ec("3.4.17.-", 3) == "3.4.17"
    assert ann.truncate_ec("3.4", 3) is None


def test_read_annotation_files(tmp_path):
    write_deepfri(tmp_path)
    terms, labels = ann.read_go_annot(ann.annotation_file(tmp_path, "GO"), "biological_process")
    assert terms == ["GO:7", "GO:8"]
    assert labels["1FKI-A"] == ["GO:7"] and labels["1HVR-A"] == [] and len(labels) == len(GO)
    terms, labels = ann.read_go_annot(tmp_path / "nrPDB-GO_2019.06.18_annot.tsv", "cellular_component")
    assert terms == ["GO:9"] and labels["1FKI-B"] == ["GO:9"]
    terms, labels = ann.read_ec_annot(ann.annotation_file(tmp_path, "EC"))
    assert terms == ["1.1.1.1", "3.4.21.4", "3.6.3.5"] and labels["1FKI-A"] == ["1.1.1.1", "3.4.21.4"]
    with pytest.raises(ann.AnnotationError, match="not a DeepFRI EC"):
        ann.read_ec_annot(tmp_path / "nrPDB-GO_2019.06.18_annot.tsv")
    with pytest.raises(ann.AnnotationError, match="no nrPDB-EC_annot"):
        ann.annotation_file(tmp_path / "nowhere", "EC")


def test_split_lists_and_identity_cutoff(tmp_path):
    write_deepfri(tmp_path)
    assert ann.split_ids(tmp_path, "GO", 0.95)["test"] == {"2OFG-X", "4ZHL-U", "9ZZZ-A"}
    assert ann.split_ids(tmp_path, "GO", 0.5)["test"] == {"2OFG-X", "4ZHL-U", "9ZZZ-A"}
    assert ann.split_ids(tmp_path, "GO", 0.4)["test"] == {"2OFG-X", "9ZZZ-A"}
    # TorchDrug layout: split folders of structure files named <chain id>_<chain>.pdb
    other = tmp_path / "td"
    write_deepfri(other, with_lists=False)
    for split, ids in SPLITS.items():
        (other / split).mkdir()
        for chain in ids:
            (other / split / f"{chain}_{chain[-1]}.pdb").write_text("")
    found = ann.split_ids(other, "GO", 0.3)
    assert found["train"] == set(SPLITS["train"]) and found["valid"] == set(SPLITS["valid"])
    assert found["test"] == {"2OFG-X", "9ZZZ-A"}


def test_asymmetric_loss_hand_computed():
    logits = torch.tensor([[0.0, 2.0, -1.0]])
    target = torch.tensor([[1.0, 0.0, 0.0]])
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="sum")
    assert asymmetric_loss(logits, target, 0.0, 0.0, 0.0).item() == pytest.approx(bce.item(), rel=1e-6)
    p = torch.sigmoid(logits)[0]
    pm1, pm2 = p[1] - 0.05, p[2] - 0.05
    expected = -((1 - p[0]) * torch.log(p[0]) + pm1 ** 4 * torch.log(1 - pm1) + pm2 ** 4 * torch.log(1 - pm2))
    assert asymmetric_loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-5)
    # an easy negative below the clip costs nothing
    assert asymmetric_loss(torch.tensor([[-5.0]]), torch.tensor([[0.0]])).item() == 0.0


def test_go_task_from_deepfri_folder(store, tmp_path):
    write_deepfri(tmp_path)
    task = build_task(FunctionConfig(name="go-mf", labels=str(tmp_path), test_cutoff=0.4), Store(store))
    assert task.config.terms == ("GO:1", "GO:2", "GO:3", "GO:4")
    splits = task.split_keys(Store(store))
    assert splits == {"train": ["1FKI/A", "1FKI/B", "1hvr/A", "1hvr/B", "4ZHL/P"],
                      "valid": ["1gbt/A", "4CUP/A"], "test": ["2OFG/X"]}
    np.testing.assert_array_equal(task.labels(Store(store)["1gbt/A"].protein), [[0, 1, 1, 0]])
    # a run's saved task config rebuilds the same vocabulary without the files' store
    again = build_task(Config.from_dict(json.loads(Config(task=task.config).to_json())).task)
    assert again.config.terms == task.config.terms
    with pytest.raises(VabsnetError, match="--labels"):
        build_task(FunctionConfig(name="go-bp"), Store(store))


def test_header_ec_vocabulary(store):
    task = build_task(FunctionConfig(name="ec", ec_level=2), Store(store))
    assert task.config.terms == ("3.4", "3.6")  # 1gbt 3.4.21.4, 4ZHL/U 3.4.21.73, 2OFG 3.6.3.5
    assert task.usable(Store(store)["2OFG/X"].protein) and not task.usable(Store(store)["4CUP/A"].protein)


def test_finetune_go_and_evaluate(store, tmp_path, capsys):
    labels = tmp_path / "labels"
    write_deepfri(labels)
    run = tmp_path / "go"
    args = ["finetune", "--task", "go-mf", "--labels", str(labels), "--store", str(store), "--max-steps", "4",
            "--out", str(run), "--quiet", "--set", "data.crop_residues=64", "--set", "data.batch_size=2",
            "--set", "task.eval_every=2"]
    assert main(args) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "go-mf" and metrics["chains"] == ["2OFG/X", "4ZHL/U"]
    _, scores, targets = read_chain_scores(run / "scores_test.npz")
    s, y = np.stack(scores), np.stack(targets).astype(bool)  # [P, T]
    f_best = 0.0  # Fmax by brute force over every threshold: precision over proteins with a score >= t
    for t in np.unique(s):
        covered = (s >= t).any(1)
        precision = np.mean([(y[i] & (s[i] >= t)).sum() / (s[i] >= t).sum() for i in np.flatnonzero(covered)])
        recall = np.mean([(y[i] & (s[i] >= t)).sum() / max(y[i].sum(), 1) for i in range(len(s))])
        f_best = max(f_best, 2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    assert metrics["fmax"] == pytest.approx(f_best, abs=1e-6)
    assert metrics["auprc_micro"] == pytest.approx(average_precision_score(y.ravel(), s.ravel()), abs=1e-6)
    assert metrics["terms"] == 4 and "fmax" in metrics["averaging"]
    saved = Config.load(run / "config.json").task
    assert saved.terms == ("GO:1", "GO:2", "GO:3", "GO:4") and saved.labels == str(labels)
    assert "fmax" in capsys.readouterr().out
    assert main(["evaluate", "--run", str(run), "--store", str(store), "--split", "valid"]) == 0
    assert json.loads((run / "metrics_valid.json").read_text())["chains"] == ["1gbt/A", "4CUP/A"]
    # predict: one CSV row per chain with its top terms, best first, for any file (labelled or not)
    assert main(["predict", "go-mf", "--checkpoint", str(run), str(entry("1AFS").path), str(entry("2OFG").path),
                 "--out", str(tmp_path / "pred"), "--quiet", "--device", "cpu"]) == 0
    rows = (tmp_path / "pred" / "predictions.csv").read_text().splitlines()
    assert rows[0] == "chain_id,chain,term_1,score_1,term_2,score_2,term_3,score_3,term_4,score_4"
    assert [r.split(",")[0] for r in rows[1:]] == ["1AFS_A", "1AFS_B", "2OFG_X"]
    scores = [float(x) for x in rows[1].split(",")[3::2]]
    assert sorted(rows[1].split(",")[2::2]) == ["GO:1", "GO:2", "GO:3", "GO:4"] and scores == sorted(scores)[::-1]
    assert main(["predict", "binding-site", "--checkpoint", str(run), str(entry("1AFS").path), "--out",
                 str(tmp_path / "wrong"), "--quiet"]) == 2
    assert "a go-mf model, not a binding-site model" in capsys.readouterr().err


def test_two_layer_head_and_runs_saved_before_the_choice(store, tmp_path, monkeypatch):
    """``task.head=mlp`` trains the two-layer head; a run saved before ``task.head`` existed (its config has no
    such key, its weights the two-layer head) still loads, as the two-layer head."""
    labels = tmp_path / "labels"
    write_deepfri(labels)
    run = tmp_path / "go"
    assert main(["finetune", "--task", "go-mf", "--labels", str(labels), "--store", str(store), "--max-steps", "2",
                 "--out", str(run), "--quiet", "--set", "data.crop_residues=64", "--set", "task.head=mlp",
                 "--set", "task.eval_every=2", "--set", "task.probe_steps=2"]) == 0
    before = np.stack(read_chain_scores(run / "scores_test.npz")[1])
    config = json.loads((run / "config.json").read_text())
    del config["task"]["head"]
    (run / "config.json").write_text(json.dumps(config))
    model, cfg, _ = load_model(run, Store(store))
    assert cfg.task.head == "mlp" and len(model.head.body) == 4
    assert main(["evaluate", "--run", str(run), "--store", str(store), "--split", "test"]) == 0
    after = np.stack(read_chain_scores(run / "scores_test.npz")[1])  # rewritten by evaluate
    assert before.shape == (2, 4) and before.std() > 0
    np.testing.assert_allclose(after, before, atol=1e-6)
    # inference runs in the model's own precision unless asked otherwise
    import vabsnet.predict
    import vabsnet.runtime.encode

    seen = []  # the precision the one batched loop (runtime.run_batches) runs each batch in
    monkeypatch.setattr(vabsnet.runtime.encode, "autocast", lambda device, precision: seen.append(precision)
                        or nullcontext())
    config["train"]["precision"] = "bf16-mixed"
    (run / "config.json").write_text(json.dumps(config))
    one = [str(entry("2OFG").path)]
    vabsnet.predict.predict_files("go-mf", run, one, tmp_path / "p1", progress=False, device="cpu")
    vabsnet.predict.predict_files("go-mf", run, one, tmp_path / "p2", progress=False, device="cpu", precision="32")
    assert seen == ["bf16-mixed", "32"]
