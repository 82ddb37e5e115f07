from __future__ import annotations

import subprocess
import sys

from vabsnet.cli import main
from vabsnet.corpus import entry


def test_prepare_and_split_commands(tmp_path, capsys):
    out = tmp_path / "store"
    paths = [str(entry(i).path) for i in ("1AFS", "1osm", "1gbt", "19hc")]
    assert main(["prepare", *paths, "--out", str(out), "--quiet", "--workers", "2"]) == 0
    assert "0 failures" in capsys.readouterr().out
    assert main(["split", str(out), "--fractions", "0.5,0.25,0.25"]) == 0
    assert (out / "splits.json").exists()


def test_errors_exit_2_with_a_message(tmp_path, capsys):
    assert main(["split", str(tmp_path / "missing")]) == 2
    assert "no dataset store" in capsys.readouterr().err


def test_console_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "vabsnet.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("vabsnet ")


def test_flag_and_set_for_the_same_key_is_a_clear_error(tmp_path, capsys):
    assert main(["pretrain", "--store", str(tmp_path), "--out", str(tmp_path / "r"), "--max-steps", "3",
                 "--set", "train.max_steps=4"]) == 2
    assert "train.max_steps: given both by a flag and by --set" in capsys.readouterr().err
    assert main(["pretrain", "--store", str(tmp_path), "--out", str(tmp_path / "r"),
                 "--set", "encoder.attention=fast"]) == 2
    assert "must be one of" in capsys.readouterr().err


def test_config_file_is_the_base_and_flags_apply_on_top(tmp_path):
    import pytest

    from vabsnet.cli import _config, build_parser
    from vabsnet.config import preset
    from vabsnet.errors import VabsnetError

    saved = tmp_path / "config.json"
    saved.write_text(preset("base").override(**{"data.crop_residues": 96, "train.lr": 2e-4}).to_json())
    parser = build_parser()
    args = parser.parse_args(["pretrain", "--store", "s", "--out", "o", "--config", str(saved), "--max-steps", "7",
                              "--set", "train.lr=0.003"])
    config = _config(args, **{"train.max_steps": args.max_steps})
    assert (config.preset, config.encoder.dim, config.data.crop_residues) == ("base", 256, 96)
    assert (config.train.max_steps, config.train.lr) == (7, 0.003)
    args = parser.parse_args(["pretrain", "--store", "s", "--out", "o", "--config", str(saved), "--preset", "tiny"])
    with pytest.raises(VabsnetError, match="--config and --preset"):
        _config(args)
    saved.write_text("{not json")
    args = parser.parse_args(["pretrain", "--store", "s", "--out", "o", "--config", str(saved)])
    with pytest.raises(VabsnetError, match="config.json"):
        _config(args)


def test_one_flag_for_a_fine_tuned_run_and_one_for_an_encoder():
    from vabsnet.cli import build_parser

    parser = build_parser()
    for flag in ("--run", "--checkpoint"):  # --checkpoint: the older name, kept
        assert parser.parse_args(["predict", "go-mf", flag, "R", "f.pdb", "--out", "o"]).run == "R"
        assert parser.parse_args(["pockets", flag, "R", "f.pdb", "--out", "o"]).run == "R"
        assert parser.parse_args(["dock", "r.pdb", "--smiles", "C", "--out", "o", flag, "R"]).run == "R"
    assert parser.parse_args(["evaluate", "--run", "R", "--store", "s"]).run == "R"
    for flag in ("--encoder", "--init"):
        assert parser.parse_args(["finetune", "--store", "s", "--out", "o", flag, "E"]).encoder == "E"
    for flag in ("--encoder", "--checkpoint"):
        assert parser.parse_args(["embed", flag, "E", "f.pdb", "--out", "o"]).encoder == "E"
    assert parser.parse_args(["predict", "go-mf", "--run", "R", "f.pdb", "--out", "o"]).precision is None


def test_shards_cover_every_input_once(tmp_path, capsys):
    import pytest

    from vabsnet.data.prepare import expand_inputs, parse_shard
    from vabsnet.errors import VabsnetError

    whole = expand_inputs(["bundled"])
    parts = [expand_inputs(["bundled"], (k, 4)) for k in range(4)]
    assert sorted(i.entry_id for p in parts for i in p) == sorted(i.entry_id for i in whole)
    assert [len(p) for p in parts] == [31, 31, 31, 30]  # 123 files
    assert parts[1][0] == whole[1] and parts[1][1] == whole[5]  # ids from the whole list
    for bad in ("4/4", "x", "1/0", "-1/3"):
        with pytest.raises(VabsnetError, match="--shard"):
            parse_shard(bad)
    paths = [str(entry(i).path) for i in ("1AFS", "1osm", "1gbt")]
    for k in (0, 1):
        assert main(["prepare", *paths, "--out", str(tmp_path / f"s{k}"), "--quiet", "--shard", f"{k}/2"]) == 0
    out = capsys.readouterr().out
    assert "s0: 2 entries" in out and "s1: 1 entries" in out
