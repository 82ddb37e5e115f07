"""Fused kNN attention in Triton: gathers keys and values by neighbour index, adds the edge bias, and
normalises online (one pass over the K neighbours, running max and sum), without materialising the
``[Q, K, H, d]`` gathered keys/values, logits or probabilities that the ``gather`` path builds.

One program handles ``BLOCK_Q`` queries of one head. Forward saves only the output and the log-sum-exp
``[Q, H]``; backward recomputes each neighbour's probability from them (FlashAttention's scheme) and
scatters key and value gradients with atomic adds (float32; their summation order, so the last bits of
``dk``/``dv``, can vary between runs on a GPU). Attention dropout is drawn in the kernel from
``(seed, query, neighbour, head)`` with Triton's Philox generator, so backward redraws the same mask.

The function computed is the ``gather`` path's: for query ``i``, head ``h``,
``out_ih = sum_j softmax_j(<q_ih, k_jh> + b_ijh) * drop_ijh * v_jh`` over its valid neighbours ``j``.
Triton is optional: on a machine without it (or without CUDA) ``vabsnet.model.attention`` uses ``gather``.
The tests run these kernels on CPU through Triton's interpreter (``TRITON_INTERPRET=1``).
"""

from __future__ import annotations

import functools
import os
import warnings

import torch


@functools.cache
def triton_available() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def usable_for(x: torch.Tensor, explicit: bool = False) -> bool:
    """Whether the fused kernel runs on ``x``'s device: CUDA with Triton; or, when asked for ``explicit``-ly
    (``attention="fused"``), CPU under Triton's interpreter (slow; for tests)."""
    if not triton_available():
        return False
    return x.is_cuda or (explicit and x.device.type == "cpu" and interpreting())


def choose(impl: str, x: torch.Tensor) -> str:
    """The attention implementation that runs for ``encoder.attention = impl`` on ``x``'s device: ``auto``
    is ``fused`` where :func:`usable_for` says it can run and ``gather`` elsewhere (CPU, or no Triton);
    ``fused`` asked for where it cannot run falls back to ``gather`` with a warning (once per reason)."""
    if impl in ("gather", "reference"):
        return impl
    if usable_for(x, explicit=impl == "fused"):
        return "fused"
    if impl == "fused":
        why = ("Triton is not installed" if not triton_available() else
               f"the tensors are on {x.device.type} (the kernel runs on CUDA, or on CPU under TRITON_INTERPRET=1)")
        _warn_once(f"encoder.attention='fused' cannot run here ({why}); running 'gather' (same function)")
    return "gather"


@functools.cache
def _warn_once(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


@functools.cache
def _kernels(interpret: bool) -> tuple:
    """``(fwd, bwd)`` from a fresh instance of ``_knn_triton`` (decorated as compiled or interpreted
    kernels according to ``TRITON_INTERPRET`` at this moment)."""
    import importlib.util

    del interpret  # the cache key
    spec = importlib.util.find_spec("vabsnet.model._knn_triton")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.fwd, module.bwd


BLOCK_Q = 32


def _launch(n_q: int, heads: int, head_dim: int) -> tuple[tuple[int, int], int]:
    import triton

    return (triton.cdiv(max(n_q, 1), BLOCK_Q), heads), triton.next_power_of_2(head_dim)


class KnnAttention(torch.autograd.Function):
    """``out [Q, H, d] = KnnAttention.apply(q [Q, H, d], k [M, H, d], v [M, H, d], nbr [Q, K] (int64),
    mask [Q, K] (bool), bias [Q, K, H], rate, seed)``; ``q`` is already scaled. The kernels take the
    neighbour-major copies ``nbr, mask [K, Q]`` and ``bias [K, H, Q]`` (made here, saved for backward)."""

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, nbr: torch.Tensor,  # noqa: ANN001
                mask: torch.Tensor, bias: torch.Tensor, rate: float, seed: int) -> torch.Tensor:
        fwd, _ = _kernels(interpreting())
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        # neighbour-major layouts: a program (queries x one head) then reads each neighbour's index, mask
        # and bias for its queries from consecutive addresses
        nbr, mask = nbr.t().contiguous(), mask.t().to(torch.int8).contiguous()  # [K, Q]
        bias = bias.permute(1, 2, 0).contiguous()  # [K, H, Q]
        n_q, heads, head_dim = q.shape
        out = torch.empty_like(q)
        lse = torch.empty((n_q, heads), device=q.device, dtype=torch.float32)
        grid, block_d = _launch(n_q, heads, head_dim)
        fwd[grid](q, k, v, nbr, mask, bias, out, lse, n_q, nbr.shape[0], heads, head_dim, float(rate), int(seed),
                  BLOCK_Q=BLOCK_Q, BLOCK_D=block_d, DROPOUT=rate > 0)
        ctx.save_for_backward(q, k, v, nbr, mask, bias, out, lse)
        ctx.rate, ctx.seed = rate, seed
        return out

    @staticmethod
    def backward(ctx, dout: torch.Tensor) -> tuple:  # noqa: ANN001
        _, bwd = _kernels(interpreting())
        q, k, v, nbr, mask, bias, out, lse = ctx.saved_tensors
        n_q, heads, head_dim = q.shape
        f32 = torch.float32
        dq = torch.empty(q.shape, device=q.device, dtype=f32)
        dk = torch.zeros(k.shape, device=k.device, dtype=f32)
        dv = torch.zeros(v.shape, device=v.device, dtype=f32)
        dbias = torch.empty(bias.shape, device=bias.device, dtype=f32)
        grid, block_d = _launch(n_q, heads, head_dim)
        bwd[grid](q, k, v, nbr, mask, bias, out, dout.contiguous(), lse, dq, dk, dv, dbias, n_q, nbr.shape[0],
                  heads, head_dim, float(ctx.rate), int(ctx.seed), BLOCK_Q=BLOCK_Q, BLOCK_D=block_d,
                  DROPOUT=ctx.rate > 0)
        dbias = dbias.permute(2, 0, 1).to(bias.dtype)  # [K, H, Q] -> [Q, K, H]
        return (dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None, dbias, None, None)


def knn_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, nbr: torch.Tensor, mask: torch.Tensor,
                  bias: torch.Tensor, rate: float = 0.0, seed: int | None = None) -> torch.Tensor:
    """Fused attention of each query over its neighbours (see the module docstring). ``seed`` fixes the
    dropout draw (default: one from torch's generator, so ``torch.manual_seed`` makes runs repeatable)."""
    if rate > 0 and seed is None:
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
    return KnnAttention.apply(q, k, v, nbr, mask, bias, float(rate), int(seed or 0))
