"""Language-model features end to end: a small random-weight ESM-2 saved as a fair-esm checkpoint and loaded
through the path a user would take; features attached to a store of real chains, checked against fair-esm
run directly; esm-extract directories matched by label and by sequence; masking zeroes them; a model that
uses them refuses chains without them."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from vabsnet.cli import main
from vabsnet.config import preset
from vabsnet.data.records import decode_record
from vabsnet.data.store import Store
from vabsnet.errors import LMFeatureError
from vabsnet.features.lm import ExtractDir, label_of

esm = pytest.importorskip("esm")
ENTRIES = ["1AFS", "1a28", "1hvr", "4CUP", "1FKI", "pdb3mht"]
DIM = 32


@pytest.fixture(scope="module")
def esm_file(tmp_path_factory):
    """A 2-layer ESM-2 with random weights, saved like fair-esm's hub files (name starting with esm2)."""
    torch.manual_seed(0)
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    net = esm.model.esm2.ESM2(num_layers=2, embed_dim=DIM, attention_heads=4, alphabet=alphabet, token_dropout=True)
    cfg = argparse.Namespace(encoder_layers=2, encoder_embed_dim=DIM, encoder_attention_heads=4, token_dropout=True)
    path = tmp_path_factory.mktemp("esm") / "esm2_t2_test.pt"
    torch.save({"model": net.state_dict(), "cfg": {"model": cfg}}, path)
    return path, net.eval(), alphabet


@pytest.fixture(scope="module")
def store(make_store, esm_file, tmp_path_factory):
    path = make_store("lm", ENTRIES, (0.5, 0.25, 0.25))
    assert main(["lm-features", str(path), "--model", str(esm_file[0]), "--device", "cpu", "--quiet"]) == 0
    return path


def _direct(net, alphabet, sequence):
    _, _, tokens = alphabet.get_batch_converter()([("x", sequence)])
    with torch.no_grad():
        rep = net(tokens, repr_layers=[2])["representations"][2][0]
    return rep[1:len(sequence) + 1].numpy(), rep[0].numpy()


def test_features_match_fair_esm_run_directly(store, esm_file, capsys):
    _, net, alphabet = esm_file
    s = Store(store)
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["lm_features"]["chains"] == len(s.keys) == manifest["counts"]["chains"]
    assert manifest["lm_features"]["dim"] == [DIM]
    for key in s.keys[:3]:
        record = s[key]
        assert record.lm.dtype == np.float16 and record.lm.shape == (record.protein.num_residues, DIM)
        residue, cls = _direct(net, alphabet, record.protein.sequence)
        np.testing.assert_allclose(record.lm.astype(np.float32), residue, atol=2e-2, rtol=1e-2)
        np.testing.assert_allclose(record.lm_cls.astype(np.float32), cls, atol=2e-2, rtol=1e-2)
        assert record.lm_source == "esm2_t2_test layer 2, sequence feature: bos"
    # resumable: a second run has nothing left to do
    assert main(["lm-features", str(store), "--model", str(esm_file[0]), "--device", "cpu", "--quiet"]) == 0
    assert "0 written now" in capsys.readouterr().out


def test_model_name_not_in_cache_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert main(["lm-features", str(tmp_path), "--model", "esm2_t33_650M_UR50D"]) == 2
    assert "not in fair-esm's cache" in capsys.readouterr().err


def test_extract_dir_by_label_and_by_sequence_and_mismatch(make_store, store, tmp_path):
    """esm-extract layout, written here from the features of the first store: one file per label, one file
    found only by its sequence, one with a wrong length (a per-chain failure: that chain is removed)."""
    s = Store(store)
    keys = s.keys
    out = tmp_path / "extract"
    out.mkdir()
    for i, key in enumerate(keys):
        r = s[key]
        rep = torch.from_numpy(r.lm.astype(np.float32))
        if i == 1:
            rep = rep[:-1]  # one residue short
        label = label_of(key) if i != 2 else "renamed"
        data = {"label": label, "representations": {2: rep}, "mean_representations": {2: rep.mean(0)},
                "bos_representations": {2: torch.from_numpy(r.lm_cls.astype(np.float32))}}
        if i == 2:
            data["sequence"] = r.protein.sequence
        torch.save(data, out / f"{label}.pt")
    with pytest.raises(LMFeatureError, match="for .* residues, the chain has"):
        ExtractDir(out).find(keys[1], s[keys[1]].protein.sequence)

    from vabsnet.corpus import entry

    fresh = tmp_path / "fresh"
    assert main(["prepare", *[str(entry(e).path) for e in ENTRIES], "--out", str(fresh), "--lm-features", str(out),
                 "--quiet"]) == 0
    summary = json.loads((fresh / "manifest.json").read_text())["lm_features"]
    assert summary["failures"] == 1 and summary["chains"] == summary["of"] == len(keys) - 1
    assert keys[1] not in Store(fresh).keys
    np.testing.assert_array_equal(Store(fresh)[keys[2]].lm, s[keys[2]].lm)  # found by sequence
    failure = json.loads((fresh / "lm_failures.jsonl").read_text().splitlines()[0])
    assert failure["chain"] == keys[1]


def test_training_uses_and_masks_them_and_refuses_chains_without(store, make_store, tmp_path, capsys):
    from vabsnet.pretrain.dataset import make_example

    cfg = preset("tiny").override(**{"encoder.lm_dim": DIM, "data.crop_residues": 64})
    s = Store(store)
    record = s[s.keys[0]]
    ex = make_example(record, cfg, np.random.default_rng(0))
    lm = ex.graph.lm
    assert lm.shape == (64, DIM)
    assert not lm[ex.masked].any()  # masked residues: zeros
    kept = ~ex.masked
    assert np.abs(lm[kept]).sum(1).min() > 0 and np.isin(lm[kept][:, 0], record.lm[:, 0].astype(np.float32)).all()
    run = tmp_path / "pt"
    assert main(["pretrain", "--store", str(store), "--out", str(run), "--max-steps", "2", "--quiet",
                 "--set", "encoder.lm_dim=32", "--set", "data.crop_residues=64"]) == 0
    bare = make_store("nolm", ENTRIES[:3], (0.34, 0.33, 0.33))
    assert main(["pretrain", "--store", str(bare), "--out", str(tmp_path / "pt2"), "--max-steps", "1", "--quiet",
                 "--set", "encoder.lm_dim=32", "--set", "data.crop_residues=64"]) == 2
    err = capsys.readouterr().err
    assert "has none" in err and "vabsnet lm-features" in err


def test_encoder_adds_residue_features_to_its_atoms_and_the_sequence_feature_to_the_virtual_node(store):
    from vabsnet.data.batch import collate
    from vabsnet.features import featurize
    from vabsnet.model import VabsEncoder

    cfg = preset("tiny").encoder.__class__(**{**preset("tiny").encoder.__dict__, "lm_dim": DIM})
    torch.manual_seed(0)
    enc = VabsEncoder(cfg).eval()
    record = decode_record(Store(store).raw(Store(store).keys[0]))
    p = record.protein
    lm, cls = record.lm.astype(np.float32), record.lm_cls.astype(np.float32)
    base = collate([featurize(p, cfg, lm=lm, lm_cls=cls)])
    lm2 = lm.copy()
    lm2[5] += 1.0
    other = collate([featurize(p, cfg, lm=lm2, lm_cls=cls + 1.0)])
    with torch.no_grad():
        h0, h1 = enc.embed(base), enc.embed(other)
    changed = (h0 - h1).abs().amax(1) > 1e-6
    expected = np.append(p.atom_residue == 5, True)  # residue 5's atoms, and the virtual node
    np.testing.assert_array_equal(changed.numpy(), expected)
