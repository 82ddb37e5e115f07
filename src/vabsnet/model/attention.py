"""Sparse multi-head attention over fixed-size kNN neighbourhoods plus a global (virtual) node.

``logit_ijh = <q_ih, k_jh> / sqrt(d) + (W_b e_ij)_h``, softmax over the neighbours j of i, output
``W_o concat_h sum_j a_ijh v_jh`` with ``W_o`` zero-initialised (spec section 3.3).

Three implementations of the same function for the real queries (``encoder.attention``):

- ``fused``: the Triton kernel of :mod:`vabsnet.model.knn_kernel`; gathers, bias and an online softmax in
  one pass, nothing ``[Q, K, H, d]``-sized in memory. Used on CUDA when Triton is installed.
- ``gather``: every real query has exactly K neighbours, so keys and values are gathered into
  ``[Q, K, H, d]`` and the softmax runs over the K axis; queries are processed in chunks to bound memory.
  The fused kernel's fallback (CPU, no Triton).
- ``reference``: one flat edge list and a segment softmax with ``scatter_reduce``; kept for the tests.

``auto`` (default) is ``fused`` where it can run and ``gather`` elsewhere; so is ``fused`` (a model trained
with it runs anywhere), with a warning (:func:`vabsnet.model.knn_kernel.choose`). Each virtual node attends
over all items of its protein with a segment softmax (O(items)) in every implementation but ``reference``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vabsnet.model.edges import TrackEdges
from vabsnet.model.knn_kernel import choose, knn_attention


def segment_softmax(logits: torch.Tensor, segment: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Softmax of ``logits [E, H]`` within each segment id ``segment [E]`` (float32 inside)."""
    x = logits.float()
    seg = segment[:, None].expand_as(x)
    peak = torch.full((num_segments, x.shape[1]), float("-inf"), device=x.device)
    peak = peak.scatter_reduce(0, seg, x, reduce="amax", include_self=True)
    ex = torch.exp(x - peak[segment])
    total = torch.zeros((num_segments, x.shape[1]), device=x.device).index_add_(0, segment, ex)
    return (ex / total[segment]).to(logits.dtype)


class SparseAttention(nn.Module):
    def __init__(self, dim: int, heads: int, edge_dim: int, attn_dropout: float = 0.0,
                 impl: str = "gather", chunk: int = 16384) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.o = nn.Linear(dim, dim)
        self.bias = nn.Linear(edge_dim, heads)
        for lin in (self.q, self.k, self.v):
            nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(self.o.weight)
        nn.init.zeros_(self.o.bias)
        self.dropout = nn.Dropout(attn_dropout)
        self.impl, self.chunk = impl, chunk
        self.ran = ""

    def forward(self, h: torch.Tensor, edges: TrackEdges) -> torch.Tensor:
        """``h [M, D]`` item states -> ``[M, D]`` attention output (zero rows for non-query items)."""
        m = h.shape[0]
        q = self.q(h).view(m, self.heads, self.head_dim) * self.scale
        k = self.k(h).view(m, self.heads, self.head_dim)
        v = self.v(h).view(m, self.heads, self.head_dim)
        self.ran = choose(self.impl, q)  # the implementation of the last call (tests, benchmarks)
        if self.ran == "reference":
            out = self._reference(q, k, v, edges)
        elif self.ran == "fused":
            out = self._fused(q, k, v, edges)
        else:
            out = self._gather(q, k, v, edges)
        return self.o(out.reshape(m, -1))

    def _fused(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, e: TrackEdges) -> torch.Tensor:
        n_q = e.nbr.shape[0]
        rate = self.dropout.p if self.training else 0.0
        real = knn_attention(q[:n_q], k, v, e.nbr, e.mask, self.bias(e.feat), rate)  # [Q, H, d]
        return torch.cat([real, q.new_zeros((q.shape[0] - n_q,) + q.shape[1:])]).index_copy(
            0, e.virt_item, self._virtual(q, k, v, e))

    def _gather(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, e: TrackEdges) -> torch.Tensor:
        n_q = e.nbr.shape[0]
        q_real = q[:n_q]
        parts = []
        for s in range(0, n_q, self.chunk):
            nbr, mask = e.nbr[s: s + self.chunk], e.mask[s: s + self.chunk]
            # index_select (backward: index_add) is much faster on CPU than k[nbr] (backward: index_put)
            kg = k.index_select(0, nbr.reshape(-1)).view(*nbr.shape, *k.shape[1:])  # [C, K, H, d]
            vg = v.index_select(0, nbr.reshape(-1)).view(*nbr.shape, *v.shape[1:])
            logits = (q_real[s: s + self.chunk, None] * kg).sum(-1)  # [C, K, H]
            logits = logits + self.bias(e.feat[s: s + self.chunk])
            logits = logits.masked_fill(~mask[..., None], float("-inf"))
            attn = self.dropout(torch.softmax(logits.float(), dim=1).to(vg.dtype))
            parts.append((attn[..., None] * vg).sum(1))
        real = torch.cat(parts) if parts else q.new_zeros((0,) + q.shape[1:])
        virt = self._virtual(q, k, v, e)
        out = torch.zeros_like(q)
        out[:n_q] = real
        return out.index_copy(0, e.virt_item, virt)

    def _virtual(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, e: TrackEdges) -> torch.Tensor:
        b = e.virt_item.shape[0]
        qv = q.index_select(0, e.virt_item).index_select(0, e.member_graph)  # [Mv, H, d]
        logits = (qv * k.index_select(0, e.member_item)).sum(-1) + self.bias(e.virt_feat)
        attn = self.dropout(segment_softmax(logits, e.member_graph, b))
        out = torch.zeros((b,) + v.shape[1:], device=v.device, dtype=v.dtype)
        return out.index_add_(0, e.member_graph, (attn[..., None] * v.index_select(0, e.member_item)).to(v.dtype))

    def _reference(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, e: TrackEdges) -> torch.Tensor:
        n_q, kk = e.nbr.shape
        dst = torch.arange(n_q, device=q.device)[:, None].expand(n_q, kk)[e.mask]
        src = e.nbr[e.mask]
        bias = self.bias(e.feat)[e.mask]
        dst = torch.cat([dst, e.virt_item[e.member_graph]])
        src = torch.cat([src, e.member_item])
        bias = torch.cat([bias, self.bias(e.virt_feat)])
        logits = (q[dst] * k[src]).sum(-1) + bias
        attn = self.dropout(segment_softmax(logits, dst, q.shape[0]))
        out = torch.zeros_like(q)
        return out.index_add_(0, dst, (attn[..., None] * v[src]).to(v.dtype))
