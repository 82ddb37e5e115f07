"""Bad input never ends a batch: ``prepare``, ``embed`` and ``predict`` skip each file of ``tests/data/bad``
with a clear reason, count it, and finish the good files. Plus a property-based test of the parser and
featuriser on mutated real files."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vabsnet.cli import main
from vabsnet.config import preset
from vabsnet.corpus import entry
from vabsnet.errors import StructureError
from vabsnet.features.featurize import featurize
from vabsnet.model import VabsEncoder
from vabsnet.runtime import CONFIG_FILE, MODEL_FILE, FinetuneModel, save_encoder, save_weights
from vabsnet.structure import load_structure
from vabsnet.tasks.base import build_task

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"
GOOD = ("4CUP", "1gbt")  # a PDB file and a BinaryCIF file
# the reason each bad file is skipped with (non_utf8_header.pdb is read: its coordinates are fine)
REASONS = {
    "empty.pdb": "empty file",
    "binary.cif": "binary content",
    "truncated.pdb": "cut short",
    "wrong_extension.xyz": "unsupported file extension",
    "mmcif_body.pdb": "mmCIF content in a PDB-named file",
    "no_protein.pdb": "no protein residues",
    "only_ca.pdb": "no residue has all backbone atoms",
    "duplicated_atoms.pdb": "appears twice at different positions",
    "nan_coordinates.pdb": "non-finite or absurd",
    "absurd_coordinates.pdb": "non-finite or absurd",
    "huge_chain.cif": "has 100000 residues, over the limit of 10000",
}


def _script():
    spec = importlib.util.spec_from_file_location("make_bad_inputs", ROOT / "scripts" / "make_bad_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    shutil.copytree(BAD, folder / "bad")
    (folder / "bad" / "huge_chain.cif").write_text(_script().huge_chain_cif(100_000))
    for name in GOOD:
        shutil.copy(entry(name).path, folder / entry(name).path.name)
    return folder


def _failures(out: Path) -> dict[str, str]:
    rows = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    return {Path(r["path"]).name: r["reason"] for r in rows}


def _check(failures: dict[str, str], stdout: str) -> None:
    assert set(failures) == set(REASONS), stdout
    for name, reason in REASONS.items():
        assert reason in failures[name], (name, failures[name])
    assert f"{len(REASONS)} failures" in stdout


def test_bad_files_are_committed_as_documented():
    assert sorted(p.name for p in BAD.iterdir()) == sorted(set(REASONS) - {"huge_chain.cif"}
                                                           | {"non_utf8_header.pdb"})
    assert b"\xc9" in (BAD / "non_utf8_header.pdb").read_bytes()
    protein = load_structure(BAD / "non_utf8_header.pdb")
    assert protein.num_residues == 98  # chain A of 1hvr without its HETATM CSO


def test_prepare_embed_predict_skip_bad_files(inputs, tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["prepare", str(inputs), "--out", str(store), "--quiet"]) == 0
    out = capsys.readouterr().out
    _check(_failures(store), out)
    assert "3 chains" in out  # 4CUP/A, 1gbt/A and non_utf8_header/A
    config = preset("tiny")
    encoder = VabsEncoder(config.encoder)
    save_encoder(encoder, tmp_path / "encoder.safetensors", config)
    (tmp_path / "config.json").write_text(config.to_json())
    assert main(["embed", "--checkpoint", str(tmp_path / "encoder.safetensors"), str(inputs),
                 "--out", str(tmp_path / "emb"), "--quiet"]) == 0
    out = capsys.readouterr().out
    _check(_failures(tmp_path / "emb"), out)
    assert len(list((tmp_path / "emb").glob("*.pt"))) == 3

    run = tmp_path / "bs"
    run.mkdir()
    task = build_task(config.task)
    save_weights(FinetuneModel(config, task), run / MODEL_FILE, config, "vabsnet-finetuned")
    (run / CONFIG_FILE).write_text(config.to_json())
    assert main(["predict", "binding-site", "--checkpoint", str(run), str(inputs), "--out",
                 str(tmp_path / "pred"), "--quiet"]) == 0
    out = capsys.readouterr().out
    _check(_failures(tmp_path / "pred"), out)
    assert len(list((tmp_path / "pred").glob("*.csv"))) == 3


# ---- property-based: mutated real files give a record or a StructureError, nothing else ---------------

SOURCE = gzip.decompress(entry("4CUP").path.read_bytes()).decode("ascii").splitlines()
ATOM_LINES = [i for i, line in enumerate(SOURCE) if line.startswith("ATOM")]


@st.composite
def mutated_pdb(draw) -> str:
    lines = list(SOURCE)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.sampled_from(ATOM_LINES))
        kind = draw(st.sampled_from(["coord", "name", "resname", "drop", "dup", "cut", "chars", "resnum"]))
        line = lines[i]
        if kind == "coord":
            value = draw(st.one_of(st.floats(-1e4, 1e4, allow_nan=False), st.just(float("nan"))))
            lines[i] = line[:30] + f"{value:8.3f}"[:8] + line[38:]
        elif kind == "name":
            lines[i] = line[:12] + draw(st.sampled_from([" CA ", " N  ", " XX ", " CB ", " OXT", "    "])) + line[16:]
        elif kind == "resname":
            lines[i] = line[:17] + draw(st.sampled_from(["ALA", "UNK", "HOH", "MSE", "XYZ", "   "])) + line[20:]
        elif kind == "drop":
            lines[i] = ""
        elif kind == "dup":
            lines.insert(i, line)
        elif kind == "cut":
            lines[i] = line[: draw(st.integers(0, len(line)))]
        elif kind == "chars":
            at = draw(st.integers(0, max(0, len(line) - 1)))
            lines[i] = line[:at] + draw(st.text(st.characters(codec="latin-1"), max_size=3)) + line[at + 1:]
        else:
            lines[i] = line[:22] + f"{draw(st.integers(-999, 9999)):4d}" + line[26:]
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=mutated_pdb())
def test_parser_and_featuriser_on_mutated_files(tmp_path, text):
    path = tmp_path / "mutated.pdb"
    path.write_bytes(text.encode("latin-1", errors="replace"))
    try:
        protein = load_structure(path)
    except StructureError as exc:
        assert exc.reason and str(path) in str(exc)
        return
    assert protein.num_residues >= 1 and np.isfinite(protein.coords).all()
    chain = protein.select_chain(protein.chains[0])
    graph = featurize(chain, preset("tiny").encoder)
    n_atoms = len(graph.pos)
    assert n_atoms == chain.num_atoms and np.isfinite(graph.pos).all() and np.isfinite(graph.frames).all()
    assert (graph.atom_nbr >= 0).all() and (graph.atom_nbr < n_atoms).all()
    assert len(graph.res_nbr) == chain.num_residues
