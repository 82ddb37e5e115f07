"""Reader for ProMod3's StructureDB (``loop_data/structure_db.dat`` of Debian's ``promod3-data``).

The database holds about 21,000 non-redundant real PDB chains (4.56 M residues). It stores, per residue,
the **backbone only**: N, CA, C and O, as int16 in units of 0.01 Angstrom, offset by a per-chain shift
vector. The records this module yields are therefore backbone-only (``Protein.backbone_only``): no side
chains, no CB, no ligands. Use them for scaling benchmarks and residue-level pre-training.

Layout of the file (ProMod3 portable binary format, little endian), as read here:

- a fixed header: magic 1234, format version 2, type sizes and data-presence flags (77 bytes);
- ``uint64`` number of chains, then per chain: ``uint32``-prefixed PDB id, ``uint32``-prefixed chain
  name, ``uint32`` offset of its first residue, ``uint16`` length, ``int16`` first residue number,
  ``float32[3]`` shift;
- ``uint64`` residue count and the one-letter sequence of all chains;
- ``uint64`` residue count and ``int16[count, 4 atoms, 3]`` coordinates.

Further arrays (profiles, DSSP, accessibilities) follow and are not read.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vabsnet.constants import RESTYPE_INDEX, RESTYPE_X
from vabsnet.errors import StructureError
from vabsnet.structure.protein import Protein

DEFAULT_PATH = Path("/usr/share/promod3/loop_data/structure_db.dat")
_HEADER = bytes.fromhex(
    "d204000002000000040000000400000002000000080000000200000006000000580000002800000018000000"
    "0600000004000000010000000000803f01010001000000000000000100"
)
_HEADER_LEN = 0x4D
_BACKBONE_ATOM37 = np.array([0, 1, 2, 4], dtype=np.int8)  # N, CA, C, O
_ELEMENTS = np.array(["N", "C", "C", "O"])


@dataclass(frozen=True)
class ChainInfo:
    """Table-of-contents entry of one chain."""

    index: int
    pdb_id: str
    chain: str
    offset: int
    length: int
    first_resnum: int
    shift: tuple[float, float, float]


class StructureDB:
    """Memory-mapped, read-only view of a ProMod3 StructureDB file.

    >>> db = StructureDB()                    # doctest: +SKIP
    >>> len(db), db[0].name                   # doctest: +SKIP
    (21119, '12AS/A')
    """

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as fh:
                self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise StructureError(str(self.path), f"cannot open StructureDB: {exc.strerror or exc}") from None
        if self._mm[: len(_HEADER)] != _HEADER or len(self._mm) < _HEADER_LEN + 8:
            raise StructureError(str(self.path), "not a ProMod3 StructureDB file of the supported version "
                                 "(format 2, coordinates + sequence)")
        self.chains = self._read_toc()

    def _read_toc(self) -> list[ChainInfo]:
        mm, pos = self._mm, _HEADER_LEN
        (n,) = struct.unpack_from("<Q", mm, pos)
        pos += 8
        chains: list[ChainInfo] = []
        for i in range(n):
            (k,) = struct.unpack_from("<I", mm, pos)
            pdb_id = mm[pos + 4: pos + 4 + k].decode()
            pos += 4 + k
            (k,) = struct.unpack_from("<I", mm, pos)
            chain = mm[pos + 4: pos + 4 + k].decode()
            pos += 4 + k
            offset, length, first = struct.unpack_from("<IHh", mm, pos)
            shift = struct.unpack_from("<3f", mm, pos + 8)
            pos += 20
            chains.append(ChainInfo(i, pdb_id, chain, offset, length, first, shift))
        (n_res,) = struct.unpack_from("<Q", mm, pos)
        self._seq_start = pos + 8
        pos = self._seq_start + n_res
        (n_coords,) = struct.unpack_from("<Q", mm, pos)
        if n_coords != n_res or chains[-1].offset + chains[-1].length != n_res:
            raise StructureError(str(self.path), "inconsistent residue counts in StructureDB")
        self._coord_start = pos + 8
        self.num_residues = n_res
        return chains

    def __len__(self) -> int:
        return len(self.chains)

    def sequence(self, i: int) -> str:
        info = self.chains[i]
        start = self._seq_start + info.offset
        return self._mm[start: start + info.length].decode()

    def __getitem__(self, i: int) -> Protein:
        """Chain ``i`` as a backbone-only :class:`Protein` (N, CA, C, O per residue)."""
        info = self.chains[i]
        raw = np.frombuffer(self._mm, dtype="<i2", count=info.length * 12,
                            offset=self._coord_start + 24 * info.offset)
        coords = raw.reshape(info.length, 4, 3).astype(np.float32) * 0.01 - np.asarray(info.shift, np.float32)
        restype = np.array([RESTYPE_INDEX.get(a, RESTYPE_X) for a in self.sequence(i)], dtype=np.int8)
        n = info.length
        return Protein(
            name=f"{info.pdb_id}/{info.chain or '_'}",
            restype=restype,
            chain_id=np.full(n, info.chain),
            res_id=info.first_resnum + np.arange(n),
            ins_code=np.full(n, ""),
            atom_name=np.tile(_BACKBONE_ATOM37, n),
            element=np.tile(_ELEMENTS, n),
            coords=coords.reshape(-1, 3),
            atom_residue=np.repeat(np.arange(n), 4),
            source=f"{self.path}#{i}",
            backbone_only=True,
        )

    def __iter__(self) -> Iterator[Protein]:
        for i in range(len(self)):
            yield self[i]

    def close(self) -> None:
        self._mm.close()


def iter_structure_db(path: str | Path = DEFAULT_PATH, limit: int | None = None) -> Iterator[Protein]:
    """Yield backbone-only records of the first ``limit`` chains (all when None)."""
    db = StructureDB(path)
    for i in range(len(db) if limit is None else min(limit, len(db))):
        yield db[i]
