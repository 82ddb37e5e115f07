"""Byte encoding of one prepared chain: a :class:`Protein` plus its precomputed targets.

Format (no pickle, deterministic bytes): ``b"VBSR"``, ``uint32`` schema version, ``uint32`` header length,
a JSON header (metadata and, per array, dtype, shape and byte offset), then the raw array buffers, each
aligned to 8 bytes. Decoding is zero-copy (``np.frombuffer``) and yields read-only arrays.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

from vabsnet.errors import StoreError
from vabsnet.structure.protein import Ligand, Protein

MAGIC = b"VBSR"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ChainRecord:
    """A prepared chain: the structure, its per-atom solvent accessibility ``sasa [A]`` and, when attached
    (``vabsnet lm-features``), language-model features: ``lm [R, D]`` per residue and ``lm_cls [D]`` for
    the sequence (float16), with ``lm_source`` naming the model and layer."""

    protein: Protein
    sasa: np.ndarray
    lm: np.ndarray | None = None
    lm_cls: np.ndarray | None = None
    lm_source: str = ""

    @property
    def key(self) -> str:
        return self.protein.name


def encode_arrays(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    """Serialise named arrays plus JSON-able metadata."""
    specs, buffers, offset = {}, [], 0
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype.hasobject:
            raise TypeError(f"array {name} has object dtype")
        raw = arr.tobytes()
        specs[name] = {"dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset}
        pad = (-len(raw)) % 8
        buffers.append(raw + b"\0" * pad)
        offset += len(raw) + pad
    header = json.dumps({"meta": meta, "arrays": specs}, sort_keys=True, separators=(",", ":")).encode()
    header += b" " * ((-len(header)) % 8)
    return MAGIC + struct.pack("<II", SCHEMA_VERSION, len(header)) + header + b"".join(buffers)


def decode_arrays(data: bytes | memoryview, key: str = "record") -> tuple[dict[str, np.ndarray], dict]:
    """Inverse of :func:`encode_arrays`; raises :class:`StoreError` on foreign or damaged bytes."""
    data = memoryview(data)
    if len(data) < 12 or bytes(data[:4]) != MAGIC:
        raise StoreError(f"{key}: not a vabsnet record")
    version, hlen = struct.unpack_from("<II", data, 4)
    if version != SCHEMA_VERSION:
        raise StoreError(f"{key}: record schema {version}, this vabsnet reads {SCHEMA_VERSION}; "
                         "re-run `vabsnet prepare`")
    try:
        header = json.loads(bytes(data[12:12 + hlen]))
        base = 12 + hlen
        arrays = {}
        for name, spec in header["arrays"].items():
            dtype = np.dtype(spec["dtype"])
            count = int(np.prod(spec["shape"], dtype=np.int64))
            arrays[name] = np.frombuffer(data, dtype=dtype, count=count,
                                         offset=base + spec["offset"]).reshape(spec["shape"])
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise StoreError(f"{key}: damaged record ({exc})") from None
    return arrays, header["meta"]


def encode_record(record: ChainRecord) -> bytes:
    p = record.protein
    lig = p.ligands
    arrays = {
        "restype": p.restype, "chain_id": p.chain_id, "res_id": p.res_id, "ins_code": p.ins_code,
        "atom_name": p.atom_name, "element": p.element, "coords": p.coords, "atom_residue": p.atom_residue,
        "sasa": np.asarray(record.sasa, dtype=np.float32),
        "lig_coords": np.concatenate([x.coords for x in lig]) if lig else np.zeros((0, 3), np.float32),
        "lig_elements": np.concatenate([x.elements for x in lig]) if lig else np.zeros(0, "<U2"),
        "lig_atom_names": np.concatenate([x.atom_names for x in lig]) if lig else np.zeros(0, "<U4"),
        "lig_sizes": np.array([x.num_atoms for x in lig], dtype=np.int32),
    }
    if record.lm is not None:
        arrays["lm"] = np.asarray(record.lm, np.float16)
        arrays["lm_cls"] = np.asarray(record.lm_cls, np.float16)
    meta = {
        "name": p.name, "source": p.source, "backbone_only": p.backbone_only,
        "modelled_sidechains": p.modelled_sidechains,
        "ec": {k: list(v) for k, v in p.ec.items()}, "sequence": p.sequence,
        "ligands": [[x.name, x.chain_id, x.res_id, x.attached_glycan] for x in lig],
    }
    if record.lm is not None:
        meta["lm_source"] = record.lm_source
    return encode_arrays(arrays, meta)


def decode_record(data: bytes | memoryview, key: str = "record") -> ChainRecord:
    a, meta = decode_arrays(data, key)
    bounds = np.concatenate([[0], np.cumsum(a["lig_sizes"])]).astype(np.int64)
    ligands = tuple(
        Ligand(name=lig[0], chain_id=lig[1], res_id=lig[2], atom_names=a["lig_atom_names"][s:e],
               elements=a["lig_elements"][s:e], coords=a["lig_coords"][s:e],
               attached_glycan=bool(lig[3]) if len(lig) > 3 else False)  # records before the flag: False
        for lig, s, e in zip(meta["ligands"], bounds[:-1], bounds[1:], strict=True)
    )
    protein = Protein(
        name=meta["name"], restype=a["restype"], chain_id=a["chain_id"], res_id=a["res_id"],
        ins_code=a["ins_code"], atom_name=a["atom_name"], element=a["element"], coords=a["coords"],
        atom_residue=a["atom_residue"], ligands=ligands, ec=meta["ec"], source=meta["source"],
        backbone_only=meta["backbone_only"], modelled_sidechains=meta.get("modelled_sidechains", False),
    )
    return ChainRecord(protein=protein, sasa=a["sasa"], lm=a.get("lm"), lm_cls=a.get("lm_cls"),
                       lm_source=meta.get("lm_source", ""))


def record_sequence(data: bytes | memoryview, key: str = "record") -> str:
    """The chain sequence of an encoded record, without decoding its arrays."""
    _, meta = decode_arrays(data, key)
    return meta["sequence"]
