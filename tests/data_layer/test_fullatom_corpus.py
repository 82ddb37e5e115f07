"""The full-atom StructureDB corpus: ProMod3-packed side chains on real StructureDB backbones, exported by
``scripts/structuredb_fullatom.py`` (Debian's Python) and prepared with ``--modelled-sidechains``."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vabsnet.cli import main
from vabsnet.data.store import Store

SCRIPT = Path(__file__).parents[2] / "scripts" / "structuredb_fullatom.py"
DEBIAN_PYTHON = "/usr/bin/python3"


def _has_promod3() -> bool:
    if not Path(DEBIAN_PYTHON).exists():
        return False
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import promod3.modelling, promod3.loop"], capture_output=True)
    return probe.returncode == 0


def test_prepare_flags_records_as_modelled(tmp_path, corpus_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(corpus_path("1AFS"), src)
    assert main(["prepare", str(src), "--out", str(tmp_path / "s"), "--modelled-sidechains", "--quiet"]) == 0
    s = Store(tmp_path / "s")
    assert all(s[k].protein.modelled_sidechains for k in s.keys)
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["options"]["modelled_sidechains"] is True
    assert main(["prepare", str(src), "--out", str(tmp_path / "t"), "--quiet"]) == 0
    assert not Store(tmp_path / "t")[Store(tmp_path / "t").keys[0]].protein.modelled_sidechains


@pytest.mark.skipif(not _has_promod3(), reason="Debian python3-promod3 not installed (apt-get install python3-promod3)")
def test_export_keeps_the_real_backbone_and_adds_side_chains(tmp_path):
    from vabsnet.structure.promod3 import StructureDB

    out = tmp_path / "pdb"
    cmd = [DEBIAN_PYTHON, str(SCRIPT), "--out", str(out), "--start", "0", "--count", "2", "--workers", "1"]
    subprocess.run(cmd, check=True, capture_output=True)
    report = json.loads((out / ".export.json").read_text())
    assert report["chains"] == 2 and not report["failures"] and report["residues_modelled_now"] > 0
    assert sorted(p.name for p in out.glob("*.pdb.gz")) == ["12as-A_0.pdb.gz", "16pk-A_1.pdb.gz"]
    assert "NOT EXPERIMENTAL SIDE CHAINS" in gzip.decompress((out / "12as-A_0.pdb.gz").read_bytes()).decode()[:400]
    subprocess.run(cmd, check=True, capture_output=True)  # resumed: nothing left to model
    assert json.loads((out / ".export.json").read_text())["residues_modelled_now"] == 0

    assert main(["prepare", str(out), "--out", str(tmp_path / "s"), "--modelled-sidechains", "--quiet"]) == 0
    store = Store(tmp_path / "s")
    assert json.loads((tmp_path / "s" / "failures.jsonl").read_text() or "null") is None
    full = store["12as-A_0/A"].protein
    from vabsnet.data.annotations import deepfri_id

    assert deepfri_id("12as-A_0/A") == "12AS-A"
    backbone = StructureDB()[0]  # the same chain, backbone only, read from the database directly
    assert full.modelled_sidechains and full.sequence == backbone.sequence
    np.testing.assert_allclose(full.ca_coords, backbone.ca_coords, atol=2e-3)  # PDB format: 3 decimals
    np.testing.assert_array_equal(full.res_id, backbone.res_id)  # same frame and numbering
    side = full.num_atoms - 4 * full.num_residues
    assert side > 2.5 * full.num_residues  # side chains present (about 3.8 heavy atoms per residue)
