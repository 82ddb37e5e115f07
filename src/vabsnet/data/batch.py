"""Collation of :class:`ProteinGraph` objects into one :class:`Batch` of flat tensors (no padding).

Node layout: the ``A`` atoms of all proteins (protein by protein), then one virtual node per protein, so
``N = A + B``. The residue track works on ``R + B`` items: the CA node of every residue, then the virtual
nodes. Neighbour lists get the protein's virtual node appended as their last column, so every real node
attends to its own kNN plus the global node (spec section 2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np
import torch

from vabsnet.constants import ATOM_VIRTUAL, RESTYPE_VIRTUAL
from vabsnet.features.featurize import ProteinGraph


@dataclass(frozen=True, eq=False)
class Batch:
    """Flat tensors of ``B`` proteins. Shapes: ``A`` atoms, ``R`` residues, ``N = A + B`` nodes.

    Attributes
    ----------
    node_atom_token, node_res_token : ``[N]`` atom-name and residue tokens of every node.
    node_pos : ``[N, 3]`` coordinates; a virtual node sits at the CA centroid of its protein.
    node_graph : ``[N]`` protein of each node.
    atom_residue : ``[A]`` residue of each atom.
    atom_nbr, atom_nbr_mask : ``[A, ka + 1]`` node indices (last column: the virtual node).
    res_node : ``[R + B]`` node index of each residue-track item (CA nodes, then virtual nodes).
    res_nbr, res_nbr_mask : ``[R, kr + 1]`` residue-track item indices (last column: virtual item).
    frames, frame_ok : ``[R, 3, 3]``, ``[R]`` residue frames.
    seq_index, chain_index : ``[R]`` sequence position and batch-unique chain ordinal.
    res_graph : ``[R]`` protein of each residue; ``atom_graph [A]`` likewise.
    lm : ``[R, D_lm]`` or None; lm_cls : ``[B, D_lm]`` (sequence level, for the virtual nodes) or None.
    num_atoms, num_residues : ``[B]`` per-protein counts.
    names : protein names.
    """

    node_atom_token: torch.Tensor
    node_res_token: torch.Tensor
    node_pos: torch.Tensor
    node_graph: torch.Tensor
    atom_residue: torch.Tensor
    atom_nbr: torch.Tensor
    atom_nbr_mask: torch.Tensor
    res_node: torch.Tensor
    res_nbr: torch.Tensor
    res_nbr_mask: torch.Tensor
    frames: torch.Tensor
    frame_ok: torch.Tensor
    seq_index: torch.Tensor
    chain_index: torch.Tensor
    res_graph: torch.Tensor
    atom_graph: torch.Tensor
    lm: torch.Tensor | None
    lm_cls: torch.Tensor | None
    num_atoms: torch.Tensor
    num_residues: torch.Tensor
    names: tuple[str, ...]

    @property
    def num_graphs(self) -> int:
        return len(self.names)

    @property
    def total_atoms(self) -> int:
        return int(self.atom_residue.shape[0])

    @property
    def total_residues(self) -> int:
        return int(self.res_graph.shape[0])

    @property
    def virtual_node(self) -> torch.Tensor:
        """``[B]`` node index of each protein's virtual node."""
        return torch.arange(self.num_graphs, device=self.node_pos.device) + self.total_atoms

    @property
    def ca_node(self) -> torch.Tensor:
        """``[R]`` node index of each residue's CA."""
        return self.res_node[: self.total_residues]

    def to(self, device: torch.device | str) -> Batch:
        return map_tensors(self, lambda t: t.to(device, non_blocking=True))

    def pin_memory(self) -> Batch:
        """Page-locked copy (the DataLoader calls this with ``pin_memory=True``) for asynchronous copies."""
        return map_tensors(self, torch.Tensor.pin_memory)


T = TypeVar("T")


def map_tensors(obj: T, fn: Callable[[torch.Tensor], torch.Tensor]) -> T:
    """A copy of a frozen dataclass with ``fn`` applied to every tensor field (and inside nested ones)."""
    changes: dict[str, object] = {}
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, torch.Tensor):
            changes[f.name] = fn(value)
        elif dataclasses.is_dataclass(value):
            changes[f.name] = map_tensors(value, fn)
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]


def collate(graphs: Sequence[ProteinGraph]) -> Batch:
    """Concatenate graphs, shifting their indices; append virtual nodes and their edges."""
    if not graphs:
        raise ValueError("cannot collate an empty list of graphs")
    b = len(graphs)
    n_atoms = np.array([g.num_atoms for g in graphs])
    n_res = np.array([g.num_residues for g in graphs])
    atom_off = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    res_off = np.concatenate([[0], np.cumsum(n_res)[:-1]])
    a_tot, r_tot = int(n_atoms.sum()), int(n_res.sum())
    virt_node = a_tot + np.arange(b)
    virt_item = r_tot + np.arange(b)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(g, name) for g in graphs])

    atom_graph = np.repeat(np.arange(b), n_atoms)
    res_graph = np.repeat(np.arange(b), n_res)
    atom_nbr = np.concatenate([g.atom_nbr + o for g, o in zip(graphs, atom_off, strict=True)])
    atom_nbr = np.concatenate([atom_nbr, virt_node[atom_graph][:, None]], axis=1)
    atom_nbr_mask = np.concatenate([cat("atom_nbr_mask"), np.ones((a_tot, 1), bool)], axis=1)
    res_nbr = np.concatenate([g.res_nbr + o for g, o in zip(graphs, res_off, strict=True)])
    res_nbr = np.concatenate([res_nbr, virt_item[res_graph][:, None]], axis=1)
    res_nbr_mask = np.concatenate([cat("res_nbr_mask"), np.ones((r_tot, 1), bool)], axis=1)
    ca_node = np.concatenate([g.ca_atom + o for g, o in zip(graphs, atom_off, strict=True)])
    pos = cat("pos")
    centroids = np.stack([g.pos[g.ca_atom].mean(0) for g in graphs]).astype(np.float32)
    res_token = cat("res_token")
    chain_off = np.concatenate([[0], np.cumsum([g.chain_index.max() + 1 for g in graphs])[:-1]])
    chain_index = np.concatenate([g.chain_index + o for g, o in zip(graphs, chain_off, strict=True)])

    def t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x))

    return Batch(
        node_atom_token=t(np.concatenate([cat("atom_token"), np.full(b, ATOM_VIRTUAL)])),
        node_res_token=t(np.concatenate([res_token[np.concatenate(
            [g.atom_residue + o for g, o in zip(graphs, res_off, strict=True)])], np.full(b, RESTYPE_VIRTUAL)])),
        node_pos=t(np.concatenate([pos, centroids])),
        node_graph=t(np.concatenate([atom_graph, np.arange(b)])),
        atom_residue=t(np.concatenate([g.atom_residue + o for g, o in zip(graphs, res_off, strict=True)])),
        atom_nbr=t(atom_nbr),
        atom_nbr_mask=t(atom_nbr_mask),
        res_node=t(np.concatenate([ca_node, virt_node])),
        res_nbr=t(res_nbr),
        res_nbr_mask=t(res_nbr_mask),
        frames=t(cat("frames")),
        frame_ok=t(cat("frame_ok")),
        seq_index=t(cat("seq_index")),
        chain_index=t(chain_index),
        res_graph=t(res_graph),
        atom_graph=t(atom_graph),
        lm=t(cat("lm")) if graphs[0].lm is not None else None,
        lm_cls=t(np.stack([cast(np.ndarray, g.lm_cls) for g in graphs])) if graphs[0].lm_cls is not None else None,
        num_atoms=t(n_atoms),
        num_residues=t(n_res),
        names=tuple(g.name for g in graphs),
    )


def atom_batches(sizes: Sequence[int], budget: int) -> list[list[int]]:
    """Consecutive groups of item indices whose atom counts ``sizes`` sum to at most ``budget`` (an item
    larger than the budget forms a group of its own): batches for inference that fill a device evenly."""
    groups: list[list[int]] = []
    total = 0
    for i, n in enumerate(sizes):
        if groups and total + n <= budget:
            groups[-1].append(i)
            total += n
        else:
            groups.append([i])
            total = n
    return groups


def split_rows(values: torch.Tensor, counts: torch.Tensor) -> list[np.ndarray]:
    """``values [sum(counts), ...]`` -> per-protein float32 numpy arrays."""
    return [t.numpy() for t in torch.split(values.detach().float().cpu(), counts.cpu().tolist())]
