"""Export ProMod3's StructureDB as full-atom PDB files with **modelled** side chains (issue 12, item 1).

The StructureDB (Debian ``promod3-data``) holds 21,119 real PDB chains, backbone only. For each chain this
script rebuilds the backbone entity from the database and packs side chains on it with
``promod3.modelling.ReconstructSidechains`` (rotamer library + energy function; the side chains are a
model, not experiment: every file says so in a REMARK, and ``vabsnet prepare --modelled-sidechains``
flags every record). Then turn the folder into a store::

    apt-get install python3-promod3            # Debian's /usr/bin/python3 only
    /usr/bin/python3 scripts/structuredb_fullatom.py --out sdb_pdb [--workers 2] [--start 0 --count 500] [--every 6]
    vabsnet prepare sdb_pdb --out sdb_store --workers 2 --modelled-sidechains
    vabsnet split sdb_store --identity 0.3

Resumable: a chain whose file exists is skipped, files are written under a temporary name and renamed,
so a killed run leaves no half-written file; run the same command again. ``sdb_pdb/.export.json`` (hidden,
so ``prepare`` skips it) records
counts, failures and the rate of the last run. Runs under Debian's Python (not the project's venv): it
imports only ProMod3/OpenStructure and the standard library.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

REMARK = ("REMARK 250 SIDE CHAINS MODELLED WITH PROMOD3 RECONSTRUCTSIDECHAINS ON THE EXPERIMENTAL BACKBONE\n"
          "REMARK 250 OF {pdb} CHAIN {chain} (PROMOD3 STRUCTUREDB ENTRY {index}); NOT EXPERIMENTAL SIDE CHAINS\n")
_DB = None


def _init() -> None:
    global _DB
    from promod3 import loop

    _DB = loop.LoadStructureDB()


def file_name(pdb: str, chain: str, index: int) -> str:
    """``1a0c-D_3.pdb.gz``: entry ``1a0c-D_3``, read by ``vabsnet.data.annotations.deepfri_id`` as 1A0C-D."""
    return f"{pdb.lower()}-{chain}_{index}.pdb.gz"


def export_one(args: tuple[int, str]) -> tuple[int, int, str | None]:
    """``(index, residues, error)``: write chain ``index`` of the StructureDB into ``out``."""
    index, out = args
    from ost import geom, io
    from promod3 import loop, modelling

    try:
        info = _DB.GetCoordInfo(index)
        path = Path(out) / file_name(info.id, info.chain_name, index)
        if path.exists():
            return index, 0, None
        seq = _DB.GetSequence(index)
        entity = _DB.GetBackboneList(loop.FragmentInfo(index, 0, info.size), seq).ToEntity()
        # back to the PDB entry's frame and numbering (the database stores coordinates plus a per-chain
        # shift, and numbers residues from 1; vabsnet.structure.promod3 reads the same convention)
        edit = entity.EditXCS()
        shift = geom.Vec3(*info.shift)
        for atom in entity.atoms:
            edit.SetAtomPos(atom, atom.pos - shift)
        edit.RenumberChain(entity.chains[0], int(info.start_resnum), True)
        if len(info.chain_name) == 1:  # the PDB chain name (PDB format: one character)
            edit.RenameChain(entity.chains[0], info.chain_name)
        modelling.ReconstructSidechains(entity, keep_sidechains=False)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.pdb")
        io.SavePDB(entity, str(tmp))
        text = REMARK.format(pdb=info.id, chain=info.chain_name, index=index) + tmp.read_text()
        tmp.unlink()
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        part.write_bytes(gzip.compress(text.encode(), compresslevel=6))
        part.replace(path)
        return index, int(info.size), None
    except Exception as exc:  # one chain never ends the export
        return index, 0, f"{type(exc).__name__}: {exc}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, help="chains from --start (default: to the end)")
    parser.add_argument("--every", type=int, default=1,
                        help="take every K-th chain of the range (the DB is sorted by PDB id, so a stride "
                             "samples all deposition years; 1 = all)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _init()
    total = _DB.GetNumCoords()
    stop = total if args.count is None else min(total, args.start + args.count)
    jobs = [(i, str(out)) for i in range(args.start, stop, max(args.every, 1))]
    t0, done, residues, failures = time.time(), 0, 0, []
    with Pool(args.workers, initializer=_init) as pool:
        for index, n, error in pool.imap_unordered(export_one, jobs, chunksize=4):
            done += 1
            residues += n
            if error is not None:
                failures.append({"index": index, "reason": error})
            if done % 50 == 0 or done == len(jobs):
                rate = residues / max(time.time() - t0, 1e-9)
                print(f"{done}/{len(jobs)} chains, {residues} residues modelled, {rate:.0f} residues/s, "
                      f"{len(failures)} failures", file=sys.stderr, flush=True)
    seconds = time.time() - t0
    report = {"chains": len(jobs), "range": [args.start, stop], "every": args.every, "residues_modelled_now": residues,
              "seconds": round(seconds, 1), "residues_per_s": round(residues / max(seconds, 1e-9), 1),
              "workers": args.workers, "failures": failures,
              "note": "side chains modelled by ProMod3 ReconstructSidechains on real PDB backbones"}
    tmp = out / ".export.json.part"
    tmp.write_text(json.dumps(report, indent=1) + "\n")
    tmp.replace(out / ".export.json")


if __name__ == "__main__":
    main()
