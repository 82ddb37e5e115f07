from __future__ import annotations

import numpy as np
import pytest

from vabsnet import StructureError
from vabsnet.structure.promod3 import DEFAULT_PATH, StructureDB
from vabsnet.structure.targets import torsion_angles

from ..conftest import DATA


def test_excerpt_reads_real_backbones():
    db = StructureDB(DATA / "promod3_excerpt.dat")
    assert len(db) == 5
    p = db[0]
    assert p.name == "12AS/A" and p.backbone_only
    assert p.num_residues == 327 and p.num_atoms == 4 * 327
    assert p.sequence.startswith("AYIAKQRQISFVKSHFSRQL")
    x = p.atom37_coords
    n_ca = np.linalg.norm(x[:, 0] - x[:, 1], axis=-1)
    c_o = np.linalg.norm(x[:, 2] - x[:, 4], axis=-1)
    assert abs(np.median(n_ca) - 1.46) < 0.02 and abs(np.median(c_o) - 1.23) < 0.02
    omega = np.degrees(torsion_angles(p).angles[1:, 0])
    assert np.mean(np.abs(omega) > 150) > 0.95


def test_excerpt_matches_bundled_pdb_entry(corpus_path):
    """ProMod3 chain 1LPB/A against the same chain parsed from its PDB file (not in the excerpt: full DB)."""
    if not DEFAULT_PATH.exists():
        pytest.skip("Debian promod3-data not installed")
    from vabsnet.structure import load_structure

    db = StructureDB()
    i = next(c.index for c in db.chains if c.pdb_id == "1LPB" and c.chain == "A")
    a, b = db[i], load_structure(corpus_path("1lpbA"))
    np.testing.assert_allclose(a.ca_coords, b.ca_coords[np.isin(b.res_id, a.res_id)], atol=0.006)


def test_rejects_other_files(tmp_path, corpus_path):
    bad = tmp_path / "x.dat"
    bad.write_bytes(corpus_path("1AFS").read_bytes())
    with pytest.raises(StructureError, match="not a ProMod3 StructureDB"):
        StructureDB(bad)
    with pytest.raises(StructureError, match="cannot open"):
        StructureDB(tmp_path / "absent.dat")
