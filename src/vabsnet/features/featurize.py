"""Featurisation of one protein (numpy): the single boundary between structure records and the model.

Implements the input side of spec sections 1.3 and 2: one node per heavy atom, the CA doubling as the
residue node; an atom-atom kNN graph over all atoms and a residue-residue kNN graph over CA positions,
both with self. The virtual (global) node and its edges are added at collation (``vabsnet.data.batch``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vabsnet.config import EncoderConfig
from vabsnet.constants import ATOM_C, ATOM_CA, ATOM_N
from vabsnet.errors import LMFeatureError
from vabsnet.features.graph import knn
from vabsnet.structure.geometry import backbone_frames
from vabsnet.structure.protein import Protein
from vabsnet.structure.targets import chain_links


@dataclass(frozen=True, eq=False)
class ProteinGraph:
    """Model input of one protein. ``A`` atoms (nodes), ``R`` residues, ``ka``/``kr`` neighbours.

    Attributes
    ----------
    atom_token : ``[A]`` atom37 name index (or ``ATOM_MASK``).
    atom_residue : ``[A]`` residue of each atom.
    pos : ``[A, 3]`` float32 coordinates (possibly noised by masking).
    res_token : ``[R]`` residue token (restype, or ``RESTYPE_MASK``).
    ca_atom : ``[R]`` atom index of each residue's CA node.
    frames : ``[R, 3, 3]`` residue frames (rows = axes); ``frame_ok [R]`` False where undefined.
    seq_index, chain_index : ``[R]`` position in the record and chain ordinal (for sequence offsets).
    atom_nbr, atom_nbr_mask : ``[A, ka]`` atom kNN (self first).
    res_nbr, res_nbr_mask : ``[R, kr]`` CA kNN (self first).
    lm : ``[R, D_lm]`` float32 language-model features, or None; lm_cls : ``[D_lm]`` (sequence level, for
    the virtual node), or None.
    source_residue : ``[R]`` index of each residue in the record it came from (after cropping).
    name : record name.
    """

    atom_token: np.ndarray
    atom_residue: np.ndarray
    pos: np.ndarray
    res_token: np.ndarray
    ca_atom: np.ndarray
    frames: np.ndarray
    frame_ok: np.ndarray
    seq_index: np.ndarray
    chain_index: np.ndarray
    atom_nbr: np.ndarray
    atom_nbr_mask: np.ndarray
    res_nbr: np.ndarray
    res_nbr_mask: np.ndarray
    lm: np.ndarray | None
    lm_cls: np.ndarray | None
    source_residue: np.ndarray
    name: str

    @property
    def num_atoms(self) -> int:
        return len(self.atom_token)

    @property
    def num_residues(self) -> int:
        return len(self.res_token)


def crop_window(num_residues: int, size: int, rng: np.random.Generator | None) -> tuple[int, int]:
    """A contiguous window ``[start, stop)`` of at most ``size`` residues; random start when ``rng`` is
    given (training), the first window otherwise (evaluation)."""
    if num_residues <= size:
        return 0, num_residues
    start = int(rng.integers(0, num_residues - size + 1)) if rng is not None else 0
    return start, start + size


def residue_frames(protein: Protein) -> tuple[np.ndarray, np.ndarray]:
    """``[R, 3, 3]`` frames and ``[R]`` validity.

    From N, CA, C where the residue has them. DISCREPANCY (spec section 8.5): the reference code builds
    the frame of a span-masked residue from its noised, deleted N and C; we do not look at deleted atoms
    and use the CA trace (CA[i-1], CA[i], CA[i+1] in place of N, CA, C) when N or C is absent.
    """
    pos, mask = protein.atom37_coords, protein.atom37_mask
    n, ca, c = pos[:, ATOM_N].copy(), pos[:, ATOM_CA], pos[:, ATOM_C].copy()
    full = mask[:, ATOM_N] & mask[:, ATOM_C]
    if not full.all():
        link = chain_links_ca(protein)
        prev_ok, next_ok = link, np.append(link[1:], False)
        r = np.arange(protein.num_residues)
        prev, nxt = np.maximum(r - 1, 0), np.minimum(r + 1, protein.num_residues - 1)
        trace = ~full & prev_ok & next_ok
        n[trace], c[trace] = ca[prev][trace], ca[nxt][trace]
        full = full | trace
    frames = backbone_frames(n, ca, c).astype(np.float32)
    frames[~full] = 0.0
    return frames, full


SEQ_LINK_MAX_CA = 6.0  # Angstrom: consecutive numbers, CA-CA 3.8 A apart, each CA noised by 0.5 A per axis


def chain_links_ca(protein: Protein) -> np.ndarray:
    """``[R]`` residue i follows residue i-1 in the same chain: a peptide bond, or CA-CA under 4.2 A, or
    consecutive residue numbers with CA-CA under ``SEQ_LINK_MAX_CA`` (a span-masked residue has no N or C
    and a noised CA: without the sequence rule about half of them lost their frame)."""
    ca = protein.ca_coords
    link = chain_links(protein)
    if protein.num_residues > 1:
        same = protein.chain_id[1:] == protein.chain_id[:-1]
        dist = np.linalg.norm(ca[1:] - ca[:-1], axis=-1)
        consecutive = np.diff(protein.res_id.astype(np.int64)) == 1
        link[1:] |= same & ((dist < 4.2) | (consecutive & (dist < SEQ_LINK_MAX_CA)))
    return link


def featurize(protein: Protein, config: EncoderConfig, *, res_token: np.ndarray | None = None,
              atom_token: np.ndarray | None = None, lm: np.ndarray | None = None, lm_cls: np.ndarray | None = None,
              lm_hidden: np.ndarray | None = None, source_residue: np.ndarray | None = None) -> ProteinGraph:
    """Build the model input of ``protein``.

    ``res_token`` / ``atom_token`` override the true residue and atom tokens (masking). ``lm`` ``[R, D_lm]``
    and ``lm_cls`` ``[D_lm]`` are language-model features, required when ``config.lm_dim > 0`` (a model
    trained with them never silently sees zeros); ``lm_hidden [R]`` zeroes the rows of masked residues.
    """
    r = protein.num_residues
    if config.lm_dim > 0:
        if lm is None or lm_cls is None:
            raise LMFeatureError(f"{protein.name}: the model uses language-model features (encoder.lm_dim="
                                 f"{config.lm_dim}) and this chain has none; attach them with `vabsnet "
                                 "lm-features` (stores) or pass --lm-features (files)")
        lm, lm_cls = np.asarray(lm, np.float32), np.asarray(lm_cls, np.float32)
        if lm.shape != (r, config.lm_dim) or lm_cls.shape != (config.lm_dim,):
            raise LMFeatureError(f"{protein.name}: language-model features {lm.shape} / {lm_cls.shape}, the "
                                 f"model expects {(r, config.lm_dim)} / {(config.lm_dim,)}")
        if lm_hidden is not None:
            lm = np.where(np.asarray(lm_hidden, bool)[:, None], np.float32(0.0), lm)
    else:
        lm = lm_cls = None
    frames, frame_ok = residue_frames(protein)
    atom_nbr, atom_nbr_mask = knn(protein.coords, config.k_atom)
    res_nbr, res_nbr_mask = knn(protein.ca_coords, config.k_res)
    _, chain_index = np.unique(protein.chain_id, return_inverse=True)
    return ProteinGraph(
        atom_token=np.asarray(protein.atom_name if atom_token is None else atom_token, np.int64),
        atom_residue=protein.atom_residue.astype(np.int64),
        pos=np.asarray(protein.coords, np.float32),
        res_token=np.asarray(protein.restype if res_token is None else res_token, np.int64),
        ca_atom=protein.ca_index.astype(np.int64),
        frames=frames,
        frame_ok=frame_ok,
        seq_index=np.arange(r, dtype=np.int64),
        chain_index=chain_index.astype(np.int64),
        atom_nbr=atom_nbr,
        atom_nbr_mask=atom_nbr_mask,
        res_nbr=res_nbr,
        res_nbr_mask=res_nbr_mask,
        lm=lm,
        lm_cls=lm_cls,
        source_residue=np.arange(r, dtype=np.int64) if source_residue is None else source_residue,
        name=protein.name,
    )
