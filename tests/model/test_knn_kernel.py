"""The fused Triton kNN-attention kernel against the gather path and the scatter reference, values and
gradients. On CPU the kernel runs under Triton's interpreter (``TRITON_INTERPRET=1``); the same tests run
compiled on a GPU when there is one. Skipped where Triton is not installed."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vabsnet.data.batch import collate
from vabsnet.features import featurize
from vabsnet.model import VabsEncoder
from vabsnet.model import knn_kernel as kk

from .conftest import randomized

pytest.importorskip("triton")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(autouse=True)
def kernel_runs_here():
    if not kk.usable_for(torch.zeros(1, device=DEVICE), explicit=True):
        pytest.skip("Triton was imported before TRITON_INTERPRET was set (see tests/conftest.py)")


@pytest.fixture(scope="module")
def small(proteins):
    """Two real chains cut to 18 residues (the interpreter runs every program in Python)."""
    return [p.crop(10, 28) for p in proteins[:2]]


def _encoders(cfg, impls):
    base = randomized(VabsEncoder(dataclasses.replace(cfg, attention=impls[0]))).to(DEVICE).train()
    out = [base]
    for impl in impls[1:]:
        other = VabsEncoder(dataclasses.replace(cfg, attention=impl)).to(DEVICE).train()
        other.load_state_dict(base.state_dict())
        out.append(other)
    return out


def test_fused_equals_gather_and_reference_forward_and_backward(small, tiny_config):
    batch = collate([featurize(p, tiny_config) for p in small]).to(DEVICE)
    models = _encoders(tiny_config, ["fused", "gather", "reference"])
    outs = [m(batch).node for m in models]
    assert outs[0].abs().max() > 0.1
    weights = torch.randn_like(outs[0])
    for out in outs:
        (out * weights).sum().backward()
    scale = max(p.grad.abs().max().item() for p in models[1].parameters())
    assert scale > 1.0
    for other in models[1:]:
        torch.testing.assert_close(outs[0], other(batch).node, atol=1e-5, rtol=1e-5)
        for (name, pf), (_, po) in zip(models[0].named_parameters(), other.named_parameters(), strict=True):
            torch.testing.assert_close(pf.grad, po.grad, atol=1e-5 * scale, rtol=1e-5, msg=name)


def _inputs(seed, q=40, m=50, k=6, h=3, d=5):
    """Random attention inputs with masked neighbours and a head width that is not a power of two."""
    g = torch.Generator().manual_seed(seed)
    t = {"q": torch.randn(q, h, d, generator=g), "k": torch.randn(m, h, d, generator=g),
         "v": torch.randn(m, h, d, generator=g), "bias": torch.randn(q, k, h, generator=g)}
    nbr = torch.randint(0, m, (q, k), generator=g)
    mask = torch.rand(q, k, generator=g) > 0.3
    mask[:, 0] = True
    return {n: x.to(DEVICE).requires_grad_() for n, x in t.items()}, nbr.to(DEVICE), mask.to(DEVICE)


def _gathered(t, nbr, mask, keep=None, rate=0.0):
    logits = (t["q"][:, None] * t["k"][nbr]).sum(-1) + t["bias"]  # [Q, K, H]
    p = torch.softmax(logits.masked_fill(~mask[..., None], float("-inf")), dim=1)
    if keep is not None:
        p = p * keep / (1.0 - rate)
    return (p[..., None] * t["v"][nbr]).sum(1)


def _assert_same_gradients(out, ref, inputs):
    w = torch.randn_like(ref)
    got = torch.autograd.grad((out * w).sum(), list(inputs.values()))
    want = torch.autograd.grad((ref * w).sum(), list(inputs.values()))
    for name, a, b in zip(inputs, got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=name)


def test_kernel_matches_plain_torch_with_masked_neighbours():
    t, nbr, mask = _inputs(0)
    out = kk.knn_attention(t["q"], t["k"], t["v"], nbr, mask, t["bias"])
    ref = _gathered(t, nbr, mask)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    _assert_same_gradients(out, ref, t)


def test_dropout_mask_is_redrawn_identically_in_backward():
    """With dropout, the kernel's gradient equals plain torch's under the kernel's own keep mask, which we
    read back from the kernel: value rows that are one-hot in the neighbour slot expose each kept edge."""
    rate, seed = 0.4, 1234
    t, nbr, mask = _inputs(1)
    q_n, k_n = nbr.shape
    h = t["q"].shape[1]
    # recover keep[i, j, h]: neighbours become distinct items whose value is 1 in one slot
    probe_nbr = torch.arange(q_n * k_n, device=DEVICE).view(q_n, k_n)
    v_probe = torch.zeros(q_n * k_n, h, k_n, device=DEVICE)
    v_probe[torch.arange(q_n * k_n), :, torch.arange(q_n * k_n) % k_n] = 1.0
    k_probe = t["k"].detach()[nbr].reshape(q_n * k_n, h, -1)
    q_d, b_d = t["q"].detach(), t["bias"].detach()
    pad = torch.zeros(q_n, h, k_n - q_d.shape[2], device=DEVICE)
    probe = kk.knn_attention(torch.cat([q_d, pad], -1), torch.cat([k_probe, torch.zeros_like(k_probe[..., :1])
                                                                   .expand(-1, -1, k_n - q_d.shape[2])], -1),
                             v_probe, probe_nbr, mask, b_d, rate, seed)  # [Q, H, K]: p * keep / (1 - rate)
    keep = (probe > 0).permute(0, 2, 1).float()  # [Q, K, H]
    assert 0.45 < keep[mask].mean().item() < 0.75  # about 1 - rate of the valid edges kept
    out = kk.knn_attention(t["q"], t["k"], t["v"], nbr, mask, t["bias"], rate, seed)
    ref = _gathered(t, nbr, mask, keep, rate)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    _assert_same_gradients(out, ref, t)
