from __future__ import annotations

import pytest

from vabsnet.config import Config, preset
from vabsnet.model import VabsEncoder


def test_json_round_trip_and_overrides(tmp_path):
    cfg = preset("tiny").override(**{"encoder.dim": 64, "pretrain.mask": "residue", "train.lr": 3e-4})
    path = tmp_path / "c.json"
    path.write_text(cfg.to_json())
    back = Config.load(path)
    assert back == cfg and back.encoder.dim == 64 and back.pretrain.mask == "residue"
    with pytest.raises(KeyError, match="unknown config key"):
        cfg.override(**{"encoder.width": 3})


def test_presets_have_the_documented_sizes():
    sizes = {name: VabsEncoder(preset(name).encoder).num_parameters() for name in ("tiny", "base")}
    assert 0.5e6 < sizes["tiny"] < 1.5e6 and 10e6 < sizes["base"] < 20e6
    paper = preset("paper").encoder
    assert (paper.layers, paper.dim, paper.heads, paper.edge_dim, paper.ffn_mult) == (12, 768, 48, 128, 1)


def test_cross_field_validation():
    with pytest.raises(ValueError, match="not divisible"):
        preset("tiny").override(**{"encoder.heads": 7})
    with pytest.raises(ValueError, match="mask_ratio"):
        preset("tiny").override(**{"pretrain.mask_ratio": 1.5})


def test_each_task_has_its_own_section():
    from vabsnet.tasks.binding_site import BindingSiteConfig
    from vabsnet.tasks.function import FunctionConfig

    bs = preset("tiny")
    assert type(bs.task) is BindingSiteConfig and bs.task.binding_cutoff == 4.0
    ec = bs.override(**{"task.name": "go-mf", "task.eval_every": 7, "task.test_cutoff": 0.3})
    assert type(ec.task) is FunctionConfig and (ec.task.test_cutoff, ec.task.eval_every) == (0.3, 7)
    assert not hasattr(ec.task, "binding_cutoff") and "binding_cutoff" not in ec.to_json()
    assert Config.from_dict(ec.to_dict()) == ec
    with pytest.raises(KeyError, match="unknown config key 'task.binding_cutoff'"):
        ec.override(**{"task.binding_cutoff": 5.0})
    with pytest.raises(ValueError, match="unknown task 'docking'"):
        bs.override(**{"task.name": "docking"})
    with pytest.raises(ValueError, match="test_cutoff"):
        ec.override(**{"task.test_cutoff": 0.6})


def test_configs_saved_with_the_flat_task_section_still_load():
    """Runs written before tasks had their own sections: the other tasks' fields are dropped."""
    data = preset("tiny").to_dict()
    data["task"] = {"name": "binding-site", "binding_cutoff": 4.5, "min_ligand_atoms": 6, "freeze_encoder": False,
                    "eval_every": 20, "threshold": 0.5, "labels": "", "test_cutoff": 0.95, "ec_level": 4,
                    "loss": "asl", "terms": []}
    cfg = Config.from_dict(data)
    assert cfg.task.binding_cutoff == 4.5 and cfg.task.eval_every == 20 and not hasattr(cfg.task, "ec_level")
    data["task"]["name"] = "ec"
    data["task"]["terms"] = ["1.1"]
    assert Config.from_dict(data).task.terms == ("1.1",)
    data["task"]["bogus"] = 1
    with pytest.raises(KeyError, match="bogus"):
        Config.from_dict(data)
