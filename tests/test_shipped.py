"""The models that ship inside the package: each loads, its weights hash to what its card says, its outputs on
the reference chain match the values stored when the release was trained (a change that alters them must
update the release on purpose: ``scripts/train_release.py --stage package``), and the commands that give a
user something work with no run and no training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import vabsnet
from vabsnet.cli import main
from vabsnet.corpus import entry
from vabsnet.release import REFERENCE_ENTRY, reference_outputs
from vabsnet.runtime import CheckpointError, load_encoder, load_model
from vabsnet.runtime.shipped import ENCODER_KIND, default_model, provenance, resolve, sha256_file, shipped_models

MODELS = shipped_models()
NAMES = sorted(MODELS)
FILE = entry(REFERENCE_ENTRY).path


def test_the_release_ships_an_encoder_a_binding_site_and_a_go_model():
    kinds = {card.kind for card in MODELS.values()}
    assert {ENCODER_KIND, "binding-site", "go-mf"} <= kinds, NAMES
    assert sum(card.weights.stat().st_size for card in MODELS.values()) < 20e6  # the wheel stays small


@pytest.mark.parametrize("name", NAMES)
def test_weights_hash_to_the_card(name):
    card = MODELS[name]
    assert sha256_file(card.weights) == card.sha256
    assert card.card["bytes"] == card.weights.stat().st_size
    assert card.headline and all(np.isfinite(v) for v in card.headline.values())


@pytest.mark.parametrize("name", NAMES)
def test_outputs_on_the_reference_chain_match_the_card(name):
    card = MODELS[name]
    got, want = reference_outputs(name, card.kind), card.card["reference"]
    assert got.keys() == want.keys()
    for key, value in want.items():
        if key == "top":  # ranks of the highest scores: ties aside, the same
            assert got[key][:3] == value[:3], key
        elif key != "entry":
            np.testing.assert_allclose(got[key], value, atol=2e-4, rtol=1e-3, err_msg=f"{name}: {key}")


def test_names_load_like_runs_and_float16_weights_become_float32():
    encoder, config = vabsnet.load_encoder(default_model(ENCODER_KIND))
    assert config.preset == "tiny" and all(p.dtype == torch.float32 for p in encoder.parameters())
    model, config, task = vabsnet.load_model(default_model("binding-site"))
    assert task.name == "binding-site" and 0.0 < task.threshold < 1.0  # type: ignore[attr-defined]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert set(vabsnet.models()) == set(NAMES)
    assert load_model is vabsnet.load_model and load_encoder is vabsnet.load_encoder


def test_an_unknown_name_lists_the_shipped_ones(tmp_path):
    with pytest.raises(CheckpointError, match=f"not a shipped model.*{NAMES[0]}"):
        resolve("no-such-model")
    run = tmp_path / "tiny-span"  # a path that exists is a path, even with a shipped model's name
    run.mkdir()
    assert resolve(run) == run


def test_pockets_and_embed_work_out_of_the_box(tmp_path, capsys):
    assert main(["pockets", str(FILE), "--out", str(tmp_path / "p"), "--quiet", "--device", "cpu"]) == 0
    csv = (tmp_path / "p" / "1FKI_A_pockets.csv").read_text().splitlines()
    assert csv[0].startswith("rank,score") and len(csv) >= 2  # at least one pocket on a ligand-bound FKBP
    record = json.loads((tmp_path / "p" / "provenance.json").read_text())
    bs = MODELS[default_model("binding-site")]
    assert (record["model"], record["sha256"], record["shipped"]) == (bs.name, bs.sha256, True)

    assert main(["embed", str(FILE), "--out", str(tmp_path / "e"), "--quiet", "--device", "cpu"]) == 0
    saved = torch.load(tmp_path / "e" / "1FKI_A.pt")
    enc = MODELS[default_model(ENCODER_KIND)]
    assert saved["model"]["sha256"] == enc.sha256
    ref = enc.card["reference"]
    layers = next(iter(saved["representations"]))
    np.testing.assert_allclose(saved["representations"][layers][0, :8].numpy(), ref["residue_0"], atol=2e-4)

    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in NAMES)


def test_predict_go_with_the_shipped_model_names_its_terms(tmp_path):
    assert main(["predict", "go-mf", str(FILE), "--out", str(tmp_path), "--quiet", "--device", "cpu"]) == 0
    rows = (tmp_path / "predictions.csv").read_text().splitlines()
    [row] = [r for r in rows if r.startswith("1FKI_A,")]  # the file's two chains each get a row
    terms = row.split(",")[2::2]
    assert len(rows) == 3 and len(terms) >= 5 and all(t.startswith("GO:") for t in terms)
    assert json.loads((tmp_path / "provenance.json").read_text())["model"] == default_model("go-mf")


def test_a_run_directory_records_its_path_and_hash(tmp_path):
    card = MODELS[default_model(ENCODER_KIND)]
    record = provenance(card.path.parent / card.name)
    assert record["shipped"] and record["model"] == card.name
    copy = tmp_path / "run"
    copy.mkdir()
    for f in card.path.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    record = provenance(copy)
    assert not record["shipped"] and record["model"] == str(copy.resolve()) and record["sha256"] == card.sha256
