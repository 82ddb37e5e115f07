"""Edge features, computed once per forward pass and shared by all layers (spec section 3.2).

Per edge (query i, neighbour j): type-pair embedding + Gaussian radial basis of the distance + direction
of j in the backbone frame of i's residue (+ optionally the global direction) + clamped sequence-offset
embedding, then LayerNorm. DISCREPANCY: the published model also feeds the global-frame direction with a
NeRF encoding (not rotation invariant); here that is ``directions="relative+absolute"`` and off by default,
so the default model is exactly invariant to rigid motions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vabsnet.config import EncoderConfig


@dataclass(frozen=True, eq=False)
class TrackEdges:
    """Edges of one attention track over ``M`` items (``Q`` real queries, ``B`` virtual items).

    nbr, mask : ``[Q, K]`` neighbour items of each real query; feat : ``[Q, K, E]``.
    member_item, member_graph : ``[Mv]`` items attended by the virtual queries and their protein.
    virt_item : ``[B]`` item index of each virtual node; virt_feat : ``[Mv, E]``.
    """

    nbr: torch.Tensor
    mask: torch.Tensor
    feat: torch.Tensor
    member_item: torch.Tensor
    member_graph: torch.Tensor
    virt_item: torch.Tensor
    virt_feat: torch.Tensor


class EdgeEncoder(nn.Module):
    """Edge features of one track; ``num_tokens`` is the size of its node-type vocabulary."""

    centers: torch.Tensor

    def __init__(self, num_tokens: int, virtual_token: int, config: EncoderConfig) -> None:
        super().__init__()
        self.num_tokens, self.virtual_token = num_tokens, virtual_token
        self.max_offset = config.max_seq_offset
        self.absolute = config.directions == "relative+absolute"
        e = config.edge_dim
        self.pair = nn.Embedding(num_tokens * num_tokens, e)
        nn.init.normal_(self.pair.weight, std=0.02)
        self.offset = nn.Embedding(2 * self.max_offset + 3, e)  # offsets, other chain, virtual
        self.norm = nn.LayerNorm(e)
        self.register_buffer("centers", torch.linspace(0.0, config.rbf_max, config.num_rbf), persistent=False)
        self.sigma = config.rbf_max / config.num_rbf
        self.build_geometry(config)

    def build_geometry(self, config: EncoderConfig) -> None:
        self.geometry = nn.Linear(config.num_rbf + 3 + (3 if self.absolute else 0), config.edge_dim)

    def edge(self, dist: torch.Tensor, local: torch.Tensor, vec: torch.Tensor, ti: torch.Tensor,
             tj: torch.Tensor) -> torch.Tensor:
        """``[..., E]`` features before the sequence offset: distance ``[...]``, direction of j in i's
        frame ``[..., 3]`` (unit or 0), global vector ``[..., 3]``, node types of i and j."""
        geo = [self.rbf(dist), local]
        if self.absolute:
            geo.append(vec / dist.clamp_min(1e-6)[..., None])
        return self.geometry(torch.cat(geo, -1)) + self.pair(ti * self.num_tokens + tj)

    def rbf(self, d: torch.Tensor) -> torch.Tensor:
        return torch.exp(-0.5 * ((d[..., None] - self.centers) / self.sigma) ** 2)

    def forward(self, pos: torch.Tensor, token: torch.Tensor, seq: torch.Tensor, chain: torch.Tensor,
                query_frame: torch.Tensor, query_frame_ok: torch.Tensor, nbr: torch.Tensor,
                mask: torch.Tensor, item_graph: torch.Tensor, virt_item: torch.Tensor) -> TrackEdges:
        """pos/token/seq/chain: ``[M]`` per item (virtual items have chain -1); query_frame ``[Q, 3, 3]``."""
        q = nbr.shape[0]
        qi = torch.arange(q, device=pos.device)
        vec = pos[nbr] - pos[qi, None]  # [Q, K, 3]
        dist = vec.norm(dim=-1)
        unit = vec / dist.clamp_min(1e-6)[..., None]
        local = torch.einsum("qab,qkb->qka", query_frame, unit) * query_frame_ok[:, None, None]
        off = (seq[nbr] - seq[qi, None]).clamp(-self.max_offset, self.max_offset) + self.max_offset
        off = torch.where(chain[nbr] == chain[qi, None], off, 2 * self.max_offset + 1)
        off = torch.where(chain[nbr] < 0, 2 * self.max_offset + 2, off)
        feat = self.norm(self.edge(dist, local, vec, token[qi, None].expand_as(nbr), token[nbr]) + self.offset(off))

        member = torch.arange(pos.shape[0], device=pos.device)
        vpos = pos[virt_item][item_graph]
        vdist = (pos - vpos).norm(dim=-1)
        zeros = torch.zeros(pos.shape[0], 3, device=pos.device, dtype=pos.dtype)  # no direction to the centre
        vfeat = self.edge(vdist, zeros, zeros, torch.full_like(token, self.virtual_token), token)
        vfeat = self.norm(vfeat + self.offset(torch.full_like(token, 2 * self.max_offset + 2)))
        return TrackEdges(nbr=nbr, mask=mask, feat=feat, member_item=member, member_graph=item_graph,
                          virt_item=virt_item, virt_feat=vfeat)
