from __future__ import annotations

import json

import h5py
import numpy as np
import torch

from vabsnet.cli import main
from vabsnet.config import preset
from vabsnet.corpus import entry
from vabsnet.model import VabsEncoder
from vabsnet.runtime import save_encoder


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


def test_batched_embeddings_equal_one_at_a_time(tmp_path):
    """Chains batched by an atom budget give the outputs of chains encoded alone (fp32, 1e-5 relative)."""
    from vabsnet.embed import embed_files

    ckpt = _checkpoint(tmp_path)
    files = [entry(e).path for e in ("1AFS", "1osm", "19hc", "2xr6A")]
    embed_files(ckpt, files, tmp_path / "alone", progress=False, atom_budget=1, device="cpu")
    summary = embed_files(ckpt, files, tmp_path / "batched", progress=False, atom_budget=10**6, device="cpu")
    assert summary.chains >= 4 and summary.failures == 0
    names = sorted(p.name for p in (tmp_path / "alone").glob("*.pt"))
    assert names == sorted(p.name for p in (tmp_path / "batched").glob("*.pt")) and len(names) == summary.chains
    layers = preset("tiny").encoder.layers
    for name in names:
        a = torch.load(tmp_path / "alone" / name, weights_only=True)
        b = torch.load(tmp_path / "batched" / name, weights_only=True)
        for key in ("representations", "atom_representations"):
            ref = a[key][layers]
            torch.testing.assert_close(b[key][layers], ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max()))
        torch.testing.assert_close(b["graph_representation"], a["graph_representation"], rtol=1e-5, atol=1e-5)


def test_interrupted_h5_embedding_publishes_nothing(tmp_path, monkeypatch):
    import vabsnet.embed as emb

    ckpt = _checkpoint(tmp_path)
    calls = {"n": 0}
    real = emb._write_h5

    def dies_on_second(h5, key, e):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real(h5, key, e)

    monkeypatch.setattr(emb, "_write_h5", dies_on_second)
    files = [entry("1AFS").path, entry("1osm").path]
    try:
        emb.embed_files(ckpt, files, tmp_path / "h", fmt="h5", progress=False, atom_budget=1)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interruption did not propagate")
    assert calls["n"] == 2 and not (tmp_path / "h" / "embeddings.h5").exists()
    assert not [p for p in (tmp_path / "h").iterdir() if p.suffix in (".h5", ".tmp") or ".tmp" in p.name]


def test_shards_embed_every_chain_once_with_the_same_vectors(tmp_path):
    weights = _checkpoint(tmp_path)
    files = [str(entry(i).path) for i in ("1AFS", "1osm", "1gbt")]
    assert main(["embed", "--encoder", str(weights), *files, "--out", str(tmp_path / "all"), "--quiet"]) == 0
    for k in (0, 1):
        assert main(["embed", "--encoder", str(weights), *files, "--out", str(tmp_path / f"part{k}"), "--quiet",
                     "--shard", f"{k}/2"]) == 0
    whole = {p.name for p in (tmp_path / "all").glob("*.pt")}
    parts = [{p.name for p in (tmp_path / f"part{k}").glob("*.pt")} for k in (0, 1)]
    assert len(whole) >= 4 and parts[0] | parts[1] == whole and not parts[0] & parts[1]
    name = sorted(parts[1])[0]
    a = torch.load(tmp_path / "all" / name)["representations"]
    b = torch.load(tmp_path / "part1" / name)["representations"]
    torch.testing.assert_close(a, b)
