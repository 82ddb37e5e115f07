"""Write ``tests/data/bad/``: malformed structure files derived from one real bundled entry (1hvr).

Each file breaks one thing; the robustness tests check that ``prepare``, ``embed`` and ``predict`` skip it
with a clear reason and go on. The 100,000-residue chain is too large to keep in git; the tests build it
at run time with :func:`huge_chain_cif`.

    python scripts/make_bad_inputs.py
"""

from __future__ import annotations

import gzip
from pathlib import Path

from vabsnet.corpus import entries

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "bad"
SOURCE = "1hvr"  # HIV-1 protease with an inhibitor, 2 x 99 residues (PDB, CC0)


def source_lines() -> list[str]:
    path = next(e.path for e in entries() if e.id == SOURCE)
    return gzip.decompress(path.read_bytes()).decode("ascii").splitlines()


def chain_a(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("ATOM") and line[21] == "A"]


def huge_chain_cif(residues: int = 100_000) -> str:
    """One chain of ``residues`` residues: chain A of 1hvr tiled on a 3D grid 60 A apart, renumbered
    consecutively (a synthetic stress input built from real coordinates, not a real structure)."""
    atoms = [a for a in chain_a(source_lines()) if a[76:78].strip() != "H"]  # heavy atoms
    per = [(a[12:16].strip(), a[17:20], int(a[22:26]), float(a[30:38]), float(a[38:46]), float(a[46:54]),
            a[76:78].strip()) for a in atoms]
    numbers = sorted({p[2] for p in per})
    ordinal = {num: i for i, num in enumerate(numbers)}
    rows = ["data_huge", "loop_", *(f"_atom_site.{k}" for k in (
        "group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id", "label_asym_id",
        "label_seq_id", "pdbx_PDB_ins_code", "auth_seq_id", "auth_comp_id", "auth_asym_id", "auth_atom_id",
        "Cartn_x", "Cartn_y", "Cartn_z", "occupancy", "B_iso_or_equiv", "pdbx_PDB_model_num"))]
    serial, copy = 0, 0
    while copy * len(numbers) < residues:
        dx, dy, dz = 60.0 * (copy % 20), 60.0 * (copy // 20 % 20), 60.0 * (copy // 400)
        for name, res, num, x, y, z, el in per:
            seq = copy * len(numbers) + ordinal[num] + 1
            if seq > residues:
                break
            serial += 1
            rows.append(f"ATOM {serial} {el} {name} . {res} A {seq} ? {seq} {res} A {name} {x + dx:.3f} "
                        f"{y + dy:.3f} {z + dz:.3f} 1.0 20.0 1")
        copy += 1
    return "\n".join(rows) + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    lines = source_lines()
    atoms = chain_a(lines)
    header = [line for line in lines if line.startswith(("HEADER", "TITLE", "COMPND"))]
    end = ["TER", "END"]

    def write(name: str, body: list[str] | bytes) -> None:
        data = body if isinstance(body, bytes) else ("\n".join(body) + "\n").encode("ascii")
        (OUT / name).write_bytes(data)

    write("empty.pdb", b"")
    write("binary.cif", bytes((i * 37 + 11) % 256 for i in range(4096)))  # not text at all
    cut = atoms[: len(atoms) // 2]
    write("truncated.pdb", header + cut[:-1] + [cut[-1][:41]])  # the last record stops inside x
    write("wrong_extension.xyz", header + atoms + end)  # a valid PDB body behind an unknown extension
    write("mmcif_body.pdb", ["data_1HVR", "loop_", "_atom_site.group_PDB", "_atom_site.id", "ATOM 1"])
    # the inhibitor and water only (1hvr's CSO, a modified cysteine, is protein and is left out)
    write("no_protein.pdb", header + [line for line in lines if line.startswith("HETATM") and line[17:20] != "CSO"]
          + end)
    write("only_ca.pdb", header + [a for a in atoms if a[12:16] == " CA "] + end)
    shifted = [a[:30] + f"{float(a[30:38]) + 1.5:8.3f}" + a[38:] for a in atoms if int(a[22:26]) == 10]
    at = max(i for i, a in enumerate(atoms) if int(a[22:26]) == 10) + 1
    write("duplicated_atoms.pdb", header + atoms[:at] + shifted + atoms[at:] + end)
    ca = next(i for i, a in enumerate(atoms) if a[12:16] == " CA " and int(a[22:26]) == 5)
    write("nan_coordinates.pdb", header + atoms[:ca] + [atoms[ca][:30] + "     nan" + atoms[ca][38:]]
          + atoms[ca + 1:] + end)
    write("absurd_coordinates.pdb", header + atoms[:ca] + [atoms[ca][:30] + "-9999999" + atoms[ca][38:]]
          + atoms[ca + 1:] + end)
    latin1 = ("TITLE     PROT\xc9ASE DU VIH-1, \xe9tude cristallographique").encode("latin-1")
    body = ("\n".join(atoms + end) + "\n").encode("ascii")
    (OUT / "non_utf8_header.pdb").write_bytes(b"\n".join(h.encode() for h in header) + b"\n" + latin1
                                              + b"\n" + body)
    print(f"wrote {len(list(OUT.iterdir()))} files to {OUT}")


if __name__ == "__main__":
    main()
