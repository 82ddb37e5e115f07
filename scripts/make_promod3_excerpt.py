"""Write the first N chains of ProMod3's StructureDB into a small file of the same format (test fixture).

Usage: ``python scripts/make_promod3_excerpt.py [DB] [OUT] [N]``; defaults read Debian's promod3-data file
and write ``tests/data/promod3_excerpt.dat`` with 5 chains. The bytes are copied, not re-encoded, so the
excerpt is real PDB data in the original encoding. Only the arrays vabsnet reads are written.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from vabsnet.structure.promod3 import _HEADER_LEN, DEFAULT_PATH, StructureDB

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tests" / "data" / "promod3_excerpt.dat"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    db = StructureDB(src)
    mm = db._mm
    parts = [mm[:_HEADER_LEN], struct.pack("<Q", n)]
    for info in db.chains[:n]:
        for text in (info.pdb_id, info.chain):
            parts += [struct.pack("<I", len(text)), text.encode()]
        parts += [struct.pack("<IHh", info.offset, info.length, info.first_resnum),
                  struct.pack("<3f", *info.shift)]
    n_res = db.chains[n - 1].offset + db.chains[n - 1].length
    parts += [struct.pack("<Q", n_res), mm[db._seq_start: db._seq_start + n_res]]
    parts += [struct.pack("<Q", n_res), mm[db._coord_start: db._coord_start + 24 * n_res]]
    out.write_bytes(b"".join(parts))
    print(f"{out}: {n} chains, {n_res} residues, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
