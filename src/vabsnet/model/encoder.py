"""The Vabs-Net encoder: bi-level sparse attention over atoms and residues sharing the CA node.

One block (spec section 3.3, post-LN by default)::

    H = LN(H + DropPath(AtomAttn(H, E_aa)));  H = LN(H + DropPath(FFN(H)))          # all nodes
    X = H[res_node]
    X = LN(X + DropPath(ResAttn(X, E_rr)));   X = LN(X + DropPath(FFN(X)))          # CA + virtual
    H[res_node] = X                                                                  # write back

Node input: ``AtomEmb[atom name] + ResEmb[residue type of the atom's residue] + LMProj(lm)`` then LN.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from vabsnet.config import EncoderConfig
from vabsnet.constants import ATOM_VIRTUAL, NUM_ATOM_TOKENS, NUM_RESIDUE_TOKENS, RESTYPE_PAD, RESTYPE_VIRTUAL
from vabsnet.data.batch import Batch
from vabsnet.model.attention import SparseAttention
from vabsnet.model.edges import EdgeEncoder, TrackEdges
from vabsnet.model.outputs import EncoderOutput
from vabsnet.model.vector_edges import VectorEdgeEncoder


class DropPath(nn.Module):
    """Stochastic depth per node (mask shape ``[n, 1]``), as in the reference code."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = torch.rand(x.shape[0], 1, device=x.device) >= self.rate
        return x * keep.to(x.dtype) / (1.0 - self.rate)


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, mult: int, dropout: float) -> None:
        last = nn.Linear(dim * mult, dim)
        super().__init__(nn.Linear(dim, dim * mult), nn.GELU(), nn.Dropout(dropout), last)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)


class Block(nn.Module):
    def __init__(self, config: EncoderConfig, drop_path: float) -> None:
        super().__init__()
        d, impl = config.dim, config.attention
        self.pre = config.norm == "pre"
        self.atom_attn = SparseAttention(d, config.heads, config.edge_dim, config.attn_dropout, impl,
                                         config.chunk_nodes)
        self.res_attn = SparseAttention(d, config.heads, config.edge_dim, config.attn_dropout, impl,
                                        config.chunk_nodes)
        self.atom_ffn = FeedForward(d, config.ffn_mult, config.dropout)
        self.res_ffn = FeedForward(d, config.ffn_mult, config.dropout)
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(4))
        self.drop = DropPath(drop_path)

    def _sub(self, x: torch.Tensor, fn: nn.Module, norm: nn.Module, *args: object) -> torch.Tensor:
        if self.pre:
            return x + self.drop(fn(norm(x), *args))
        return norm(x + self.drop(fn(x, *args)))

    def forward(self, h: torch.Tensor, res_node: torch.Tensor, atom_edges: TrackEdges,
                res_edges: TrackEdges) -> torch.Tensor:
        h = self._sub(h, self.atom_attn, self.norms[0], atom_edges)
        h = self._sub(h, self.atom_ffn, self.norms[1])
        x = h[res_node]
        x = self._sub(x, self.res_attn, self.norms[2], res_edges)
        x = self._sub(x, self.res_ffn, self.norms[3])
        return h.index_copy(0, res_node, x)


class VabsEncoder(nn.Module):
    """``VabsEncoder(config)(batch) -> EncoderOutput``."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        d = config.dim
        self.atom_emb = nn.Embedding(NUM_ATOM_TOKENS, d)
        self.res_emb = nn.Embedding(NUM_RESIDUE_TOKENS, d, padding_idx=RESTYPE_PAD)
        h_lm = config.lm_dim  # the reference NodeEmbedHead: Linear(1280, 1280) -> LN -> GELU -> Linear(1280, dim)
        self.lm_proj = (nn.Sequential(nn.Linear(h_lm, h_lm), nn.LayerNorm(h_lm), nn.GELU(), nn.Linear(h_lm, d))
                        if config.lm_dim > 0 else None)
        self.input_norm = nn.LayerNorm(d)
        edges = VectorEdgeEncoder if config.edge_encoder == "vector" else EdgeEncoder
        self.atom_edges = edges(NUM_ATOM_TOKENS, ATOM_VIRTUAL, config)
        self.res_edges = edges(NUM_RESIDUE_TOKENS, RESTYPE_VIRTUAL, config)
        rates = torch.linspace(0.0, config.drop_path, config.layers).tolist() if config.layers > 1 else [0.0]
        self.blocks = nn.ModuleList(Block(config, r) for r in rates)

    def edges(self, batch: Batch) -> tuple[TrackEdges, TrackEdges]:
        """Atom-track and residue-track edge features of a batch (no gradient flows to coordinates)."""
        pos = batch.node_pos.detach()
        a, b = batch.total_atoms, batch.num_graphs
        virt_chain = torch.full((b,), -1, device=pos.device, dtype=batch.chain_index.dtype)
        atom_res = batch.atom_residue
        atom_seq = torch.cat([batch.seq_index[atom_res], torch.zeros_like(virt_chain)])
        atom_chain = torch.cat([batch.chain_index[atom_res], virt_chain])
        atom_edges = self.atom_edges(
            pos, batch.node_atom_token, atom_seq, atom_chain, batch.frames[atom_res],
            batch.frame_ok[atom_res].to(pos.dtype), batch.atom_nbr, batch.atom_nbr_mask, batch.node_graph,
            batch.virtual_node)
        r = batch.total_residues
        res_pos = pos[batch.res_node]
        res_token = batch.node_res_token[batch.res_node]
        res_seq = torch.cat([batch.seq_index, torch.zeros_like(virt_chain)])
        res_chain = torch.cat([batch.chain_index, virt_chain])
        res_graph = torch.cat([batch.res_graph, torch.arange(b, device=pos.device)])
        res_edges = self.res_edges(
            res_pos, res_token, res_seq, res_chain, batch.frames, batch.frame_ok.to(pos.dtype),
            batch.res_nbr, batch.res_nbr_mask, res_graph, torch.arange(b, device=pos.device) + r)
        assert atom_edges.nbr.shape[0] == a
        return atom_edges, res_edges

    def embed(self, batch: Batch) -> torch.Tensor:
        h = self.atom_emb(batch.node_atom_token) + self.res_emb(batch.node_res_token)
        if self.lm_proj is not None:
            if batch.lm is None or batch.lm_cls is None:
                raise ValueError("encoder expects language-model features (lm_dim > 0) but the batch has none")
            lm = self.lm_proj(torch.cat([batch.lm, batch.lm_cls]))  # [R + B, D]: residues, then sequences
            # every atom gets its residue's features, each virtual node its sequence's (spec section 1.3)
            h = h + lm[torch.cat([batch.atom_residue, batch.total_residues + torch.arange(
                batch.num_graphs, device=lm.device)])]
        return self.input_norm(h)

    def forward(self, batch: Batch) -> EncoderOutput:
        atom_edges, res_edges = self.edges(batch)
        h = self.embed(batch)
        graph_layers = []
        recompute = self.config.checkpoint and self.training and torch.is_grad_enabled()
        for block in self.blocks:
            if recompute:  # keep only each block's input; recompute its activations in backward
                h = checkpoint(block, h, batch.res_node, atom_edges, res_edges, use_reentrant=False)
            else:
                h = block(h, batch.res_node, atom_edges, res_edges)
            graph_layers.append(h[batch.virtual_node])
        a = batch.total_atoms
        return EncoderOutput(atom=h[:a], residue=h[batch.ca_node], graph=h[a:],
                             graph_layers=torch.stack(graph_layers), node=h)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
