"""Extract the ligand-bound PDB entries held in plinder's source distribution (PyPI, offline) for the pocket
benchmark and the binding-site release model.

    python scripts/plinder_complexes.py --out data/plinder            # downloads the sdist with pip if needed

plinder 0.2.27's sdist carries, in ``tests/test_data/``, whole mmCIF entries (``xx/pdb_0000XXXX/
*_xyz-enrich.cif.gz``) and PLINDER systems (``**/system.cif``: the interacting chains and ligands of one
entry). Each PDB id is taken once (a whole entry before a system of it), entries the bundled corpus already
holds are left out (by PDB id, not by sequence: two complexes of one protein with different ligands both
count), and so are entries without a benchmark ligand (>= 6 heavy atoms in contact with protein;
:func:`vabsnet.bench.pockets.benchmark_ligands`) and files vabsnet cannot read (listed with the reason).

Writes ``OUT/structures/<id>.cif[.gz]`` and ``OUT/complexes.json`` (per entry: file, source path in the sdist,
chains, ligands, licence). Licence: the coordinates are PDB entries (wwPDB, CC0 1.0); plinder's sdist
declares Apache-2.0 in its classifiers while its LICENSE.txt holds the GPL-2.0 text, so the files are
extracted at build time from the registry and not redistributed in vabsnet's wheel.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from vabsnet.atomic import atomic_write_json
from vabsnet.bench.pockets import benchmark_ligands
from vabsnet.corpus import entries
from vabsnet.errors import failure_reason
from vabsnet.structure import load_structure

VERSION = "0.2.27"
LICENCE = ("wwPDB coordinates, CC0 1.0; from the plinder 0.2.27 sdist's test data (classifier Apache-2.0, "
           "LICENSE.txt GPL-2.0 text): extracted at build time, not redistributed")


def sdist(cache: Path) -> Path:
    found = sorted(cache.glob(f"plinder-{VERSION}.tar.gz"))
    if found:
        return found[0]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    "--no-build-isolation", f"plinder=={VERSION}", "-d", str(cache)], check=True)
    return next(cache.glob(f"plinder-{VERSION}.tar.gz"))


def pdb_id(member: str) -> str | None:
    """The PDB id a test-data file holds: ``pdb_0000XXXX_xyz-enrich`` or a system folder ``XXXX__1__...``."""
    m = re.search(r"pdb_0000(\w{4})_xyz-enrich\.cif\.gz$", member)
    if m:
        return m.group(1).upper()
    m = re.search(r"/(\w{4})__\d+__[^/]+/system\.cif$", member)
    return m.group(1).upper() if m else None


def bundled_ids() -> set[str]:
    return {e.id[:4].upper() for e in entries() if re.fullmatch(r"\d\w{3}", e.id[:4])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--sdist", type=Path, help=f"plinder-{VERSION}.tar.gz (default: pip download into OUT)")
    args = p.parse_args()
    (args.out / "structures").mkdir(parents=True, exist_ok=True)
    archive = args.sdist or sdist(args.out)
    have = bundled_ids()
    kept: dict[str, dict] = {}
    skipped: list[dict] = []
    with tarfile.open(archive) as tar, tempfile.TemporaryDirectory() as tmp:
        members = [m for m in tar.getmembers() if m.isfile() and "/tests/test_data/" in m.name and pdb_id(m.name)]
        members.sort(key=lambda m: ("system.cif" in m.name, m.name))  # whole entries first
        for m in members:
            pid = pdb_id(m.name)
            assert pid is not None
            if pid in kept or pid in have:
                skipped.append({"id": pid, "source": m.name, "reason": "bundled" if pid in have else "duplicate"})
                continue
            suffix = ".cif.gz" if m.name.endswith(".gz") else ".cif"
            staged = Path(tmp) / f"{pid}{suffix}"
            with tar.extractfile(m) as src, staged.open("wb") as dst:  # type: ignore[union-attr]
                shutil.copyfileobj(src, dst)
            try:
                protein = load_structure(staged)
                ligands = benchmark_ligands(protein)
            except Exception as exc:  # a file vabsnet cannot read is listed, not fatal
                skipped.append({"id": pid, "source": m.name, "reason": failure_reason(exc)})
                continue
            if not ligands:
                skipped.append({"id": pid, "source": m.name, "reason": "no benchmark ligand"})
                continue
            shutil.copyfile(staged, args.out / "structures" / staged.name)
            kept[pid] = {"id": pid, "file": f"structures/{staged.name}", "source_package": "plinder",
                         "source_version": VERSION, "source": m.name.split("/tests/", 1)[1], "licence": LICENCE,
                         "chains": sorted({str(c) for c in protein.chain_id}), "residues": protein.num_residues,
                         "ligands": sorted({lig.name for lig in ligands}), "ligand_instances": len(ligands)}
    atomic_write_json(args.out / "complexes.json", {"entries": list(kept.values()), "skipped": skipped}, indent=1)
    print(f"{args.out}: {len(kept)} ligand-bound entries ({sum(e['ligand_instances'] for e in kept.values())} "
          f"ligands); skipped {len(skipped)}: " + json.dumps({s["id"]: s["reason"][:60] for s in skipped}))


if __name__ == "__main__":
    main()
