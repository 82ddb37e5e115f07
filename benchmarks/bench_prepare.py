"""Throughput of `vabsnet prepare` on the bundled corpus (1 and 2 workers) and of the ProMod3 reader.

Run: ``python benchmarks/bench_prepare.py [--promod3 PATH] [--json OUT]``. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from vabsnet.data.prepare import prepare
from vabsnet.structure.promod3 import DEFAULT_PATH, StructureDB


def bench_prepare(workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        s = prepare(["bundled"], Path(tmp) / "store", workers=workers, progress=False)
        sec = time.perf_counter() - start
    return {"workers": workers, "seconds": round(sec, 2), "chains": s.chains, "residues": s.residues,
            "chains_per_s": round(s.chains / sec, 1), "residues_per_s": round(s.residues / sec)}


def bench_promod3(path: Path, n: int = 3000) -> dict | None:
    if not path.exists():
        return None
    start = time.perf_counter()
    db = StructureDB(path)
    opened = time.perf_counter() - start
    start = time.perf_counter()
    residues = sum(db[i].num_residues for i in range(min(n, len(db))))
    sec = time.perf_counter() - start
    return {"chains_in_db": len(db), "open_seconds": round(opened, 3), "chains_read": min(n, len(db)),
            "chains_per_s": round(min(n, len(db)) / sec), "residues_per_s": round(residues / sec)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promod3", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {"prepare": [bench_prepare(w) for w in (1, 2)], "promod3": bench_promod3(args.promod3)}
    for r in results["prepare"]:
        print(f"prepare bundled, {r['workers']} worker(s): {r['chains_per_s']} chains/s, "
              f"{r['residues_per_s']} residues/s ({r['chains']} chains in {r['seconds']} s)")
    p = results["promod3"]
    if p is None:
        print(f"promod3 reader: {args.promod3} not found (apt-get install promod3-data)")
    else:
        print(f"promod3 reader: {p['chains_per_s']} chains/s, {p['residues_per_s']} residues/s "
              f"({p['chains_in_db']} chains, opened in {p['open_seconds']} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
