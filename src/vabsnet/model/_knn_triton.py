"""The Triton kernels of :mod:`vabsnet.model.knn_kernel` (imported only when Triton is used; see there).

Kept at module scope: Triton's interpreter patches ``tl`` through the kernel's module globals. The loader
in ``knn_kernel`` executes this file once per mode (compiled or interpreted).
"""
# ruff: noqa: ANN202, N803

import triton
import triton.language as tl


@triton.jit
def _tile(n_q, n_heads, head_dim, BLOCK_Q: tl.constexpr, BLOCK_D: tl.constexpr):
    """This program's head, query rows ``[BLOCK_Q]``, their masks and the offsets of its ``[BLOCK_Q,
    BLOCK_D]`` tile in a ``[rows, heads, head_dim]`` tensor."""
    h = tl.program_id(1)
    rows = (tl.program_id(0) * BLOCK_Q + tl.arange(0, BLOCK_Q)).to(tl.int64)  # row * stride > 2^31 happens
    dims = tl.arange(0, BLOCK_D)
    rmask = rows < n_q
    tile = rmask[:, None] & (dims < head_dim)[None, :]
    row_stride = n_heads * head_dim
    col = h * head_dim + dims[None, :]
    return h, rows, rmask, tile, row_stride, col


@triton.jit
def _neighbour(q, K, V, NBR, MASK, BIAS, j, h, rows, rmask, tile, row_stride, col, n_q, n_heads):
    """Neighbour ``j`` of every query row: the edge-head id (offset into ``BIAS [K, H, Q]``, also the
    dropout counter), validity, gathered key and value rows ``[BLOCK_Q, BLOCK_D]`` (float32) and the logits
    ``<q, k> + bias``. ``NBR`` and ``MASK`` are ``[K, Q]``: every load over the query block is contiguous."""
    edge = j * n_q + rows
    eh = (j * n_heads + h) * n_q + rows
    idx = tl.load(NBR + edge, mask=rmask, other=0)
    valid = (tl.load(MASK + edge, mask=rmask, other=0) != 0) & rmask
    k = tl.load(K + idx[:, None] * row_stride + col, mask=tile, other=0.0).to(tl.float32)
    v = tl.load(V + idx[:, None] * row_stride + col, mask=tile, other=0.0).to(tl.float32)
    s = tl.sum(q * k, 1) + tl.load(BIAS + eh, mask=rmask, other=0.0).to(tl.float32)
    return eh, idx, valid, k, v, s


@triton.jit
def fwd(Q, K, V, NBR, MASK, BIAS, OUT, LSE, n_q, n_nbr, n_heads, head_dim, rate, seed,
        BLOCK_Q: tl.constexpr, BLOCK_D: tl.constexpr, DROPOUT: tl.constexpr):
    h, rows, rmask, tile, row_stride, col = _tile(n_q, n_heads, head_dim, BLOCK_Q, BLOCK_D)
    q = tl.load(Q + rows[:, None] * row_stride + col, mask=tile, other=0.0).to(tl.float32)
    m = tl.full((BLOCK_Q,), float("-inf"), tl.float32)
    l_sum = tl.zeros((BLOCK_Q,), tl.float32)
    acc = tl.zeros((BLOCK_Q, BLOCK_D), tl.float32)
    for j in range(0, n_nbr):
        eh, idx, valid, k, v, s = _neighbour(q, K, V, NBR, MASK, BIAS, j, h, rows, rmask, tile, row_stride,
                                             col, n_q, n_heads)
        s = tl.where(valid, s, float("-inf"))
        m_new = tl.maximum(m, s)
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        alpha = tl.exp(m - m_safe)
        p = tl.exp(s - m_safe)
        l_sum = l_sum * alpha + p
        if DROPOUT:
            keep = tl.rand(seed, eh) >= rate
            p = tl.where(keep, p / (1.0 - rate), 0.0)
        acc = acc * alpha[:, None] + p[:, None] * v
        m = m_new
    l_safe = tl.where(l_sum > 0.0, l_sum, 1.0)
    out = acc / l_safe[:, None]
    tl.store(OUT + rows[:, None] * row_stride + col, out.to(OUT.dtype.element_ty), mask=tile)
    tl.store(LSE + rows * n_heads + h, m + tl.log(l_safe), mask=rmask)


@triton.jit
def bwd(Q, K, V, NBR, MASK, BIAS, OUT, DOUT, LSE, DQ, DK, DV, DBIAS, n_q, n_nbr, n_heads, head_dim, rate,
        seed, BLOCK_Q: tl.constexpr, BLOCK_D: tl.constexpr, DROPOUT: tl.constexpr):
    h, rows, rmask, tile, row_stride, col = _tile(n_q, n_heads, head_dim, BLOCK_Q, BLOCK_D)
    q = tl.load(Q + rows[:, None] * row_stride + col, mask=tile, other=0.0).to(tl.float32)
    do = tl.load(DOUT + rows[:, None] * row_stride + col, mask=tile, other=0.0).to(tl.float32)
    o = tl.load(OUT + rows[:, None] * row_stride + col, mask=tile, other=0.0).to(tl.float32)
    lse = tl.load(LSE + rows * n_heads + h, mask=rmask, other=0.0)
    delta = tl.sum(do * o, 1)  # sum_j p_j * dp_j, dropout included
    dq = tl.zeros((BLOCK_Q, BLOCK_D), tl.float32)
    for j in range(0, n_nbr):
        eh, idx, valid, k, v, s = _neighbour(q, K, V, NBR, MASK, BIAS, j, h, rows, rmask, tile, row_stride,
                                             col, n_q, n_heads)
        p = tl.where(valid, tl.exp(s - lse), 0.0)
        scale = tl.full((BLOCK_Q,), 1.0, tl.float32)
        if DROPOUT:
            keep = tl.rand(seed, eh) >= rate
            scale = tl.where(keep, 1.0 / (1.0 - rate), 0.0)
        gate = valid[:, None] & tile
        tl.atomic_add(DV + idx[:, None] * row_stride + col, (p * scale)[:, None] * do, mask=gate)
        ds = p * (scale * tl.sum(do * v, 1) - delta)
        tl.store(DBIAS + eh, ds, mask=rmask)
        dq += ds[:, None] * k
        tl.atomic_add(DK + idx[:, None] * row_stride + col, ds[:, None] * q, mask=gate)
    tl.store(DQ + rows[:, None] * row_stride + col, dq, mask=tile)
