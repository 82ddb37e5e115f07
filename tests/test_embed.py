from __future__ import annotations

import json

import h5py
import numpy as np
import torch

from vabsnet.cli import main
from vabsnet.config import preset
from vabsnet.corpus import entry
from vabsnet.model import VabsEncoder
from vabsnet.train.checkpoint import save_encoder


def _checkpoint(tmp_path):
    config = preset("tiny")
    torch.manual_seed(0)
    encoder = VabsEncoder(config.encoder)
    with torch.no_grad():  # non-trivial weights: zero-initialised outputs would make every chain alike
        for p in encoder.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    (tmp_path / "config.json").write_text(config.to_json())
    save_encoder(encoder, tmp_path / "encoder.safetensors", config)
    return tmp_path / "encoder.safetensors"


def test_embed_pt_layout_and_batch_independence(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path)
    bad = tmp_path / "bad.pdb"
    bad.write_text("HEADER nothing\n")
    files = [str(entry("1AFS").path), str(entry("1osm").path), str(bad)]
    assert main(["embed", "--checkpoint", str(ckpt), *files, "--out", str(tmp_path / "all"), "--quiet"]) == 0
    assert "1 failures" in capsys.readouterr().out
    failures = [json.loads(x) for x in (tmp_path / "all" / "failures.jsonl").read_text().splitlines()]
    assert failures[0]["path"].endswith("bad.pdb") and "no ATOM" in failures[0]["reason"]
    rec = torch.load(tmp_path / "all" / "1AFS_A.pt", weights_only=True)
    layers = preset("tiny").encoder.layers
    assert rec["label"] == "1AFS/A"
    r, d = rec["representations"][layers].shape
    assert r == len(rec["sequence"]) == len(rec["residue_ids"]) == 319 and d == preset("tiny").encoder.dim
    torch.testing.assert_close(rec["mean_representations"][layers], rec["representations"][layers].mean(0))
    assert rec["atom_representations"][layers].shape[0] == len(rec["atom_names"]) == len(rec["atom_residue"])
    assert rec["atom_names"][:2] == ["N", "CA"]
    assert main(["embed", "--checkpoint", str(ckpt), files[0], "--out", str(tmp_path / "one"), "--quiet"]) == 0
    alone = torch.load(tmp_path / "one" / "1AFS_A.pt", weights_only=True)
    torch.testing.assert_close(alone["representations"][layers], rec["representations"][layers], atol=1e-6,
                               rtol=1e-6)
    other = torch.load(tmp_path / "all" / "1osm_A.pt", weights_only=True)
    assert (other["mean_representations"][layers] - rec["mean_representations"][layers]).abs().max() > 1e-3


def test_embed_h5(tmp_path):
    ckpt = _checkpoint(tmp_path)
    assert main(["embed", "--checkpoint", str(ckpt), str(entry("1osm").path), "--out", str(tmp_path / "h"),
                 "--format", "h5", "--quiet"]) == 0
    with h5py.File(tmp_path / "h" / "embeddings.h5") as fh:
        g = fh["1osm/A"]
        assert g["residue"].shape[0] == len(g.attrs["sequence"]) == g["res_id"].shape[0]
        assert g["atom"].shape[0] == g["atom_name"].shape[0]
        np.testing.assert_allclose(g["mean"][()], g["residue"][()].mean(0), rtol=1e-5)
