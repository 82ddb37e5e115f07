"""The published "vector edge encoder" (spec section 3.2), ``encoder.edge_encoder="vector"``.

Per edge (i, j) with node types t_i, t_j::

    d'  = (|m_i[t_i]| + |m_j[t_j]|) * d + (b_i[t_i] + b_j[t_j])     # learned per-type affine map
    g   = MLP(Gaussians_K(d'))                                       # K Gaussians over [0, rbf_max]
    e1  = PairEmb[t_i, t_j] + g
    e   = MLP3([e1 ; nerf(direction of j in i's frame)])             # replaces e1 (no residual)

``nerf`` (90 values per vector): three angles of the vector, each as ``[a, sin 2^k a, cos 2^k a]`` for
k = 0..3 (27), and its three components as ``[x, sin 2^k x, cos 2^k x]`` for k = 0..9 (63). With
``directions="relative+absolute"`` the global vector (in Angstrom, not rotation invariant) is encoded too,
as in the reference code; by default only the local-frame part is, so the encoder stays invariant. The MLP
over the concatenation lets direction matter at short range only, which one linear layer cannot express.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vabsnet.config import EncoderConfig
from vabsnet.model.edges import EdgeEncoder

NERF_DIMS = 90


def _nerf(x: torch.Tensor, octaves: int) -> torch.Tensor:
    """``[..., C] -> [..., C * (1 + 2 * octaves)]``: x, sin(2^k x), cos(2^k x)."""
    freqs = 2.0 ** torch.arange(octaves, device=x.device, dtype=x.dtype)
    scaled = x[..., None] * freqs  # [..., C, octaves]
    return torch.cat([x[..., None], scaled.sin(), scaled.cos()], -1).flatten(-2)


def vector_encoding(v: torch.Tensor) -> torch.Tensor:
    """``[..., 3] -> [..., 90]`` (angles as in the reference code's ``compute_sin_cos``)."""
    x, y, z = v.unbind(-1)
    xy, xz, yz = torch.hypot(x, y), torch.hypot(x, z), torch.hypot(y, z)
    angles = torch.stack([torch.atan2(z.abs(), xy), torch.atan2(y.abs(), xz), torch.atan2(xy, yz)], -1)
    return torch.cat([_nerf(angles, 4), _nerf(v, 10)], -1)


class VectorEdgeEncoder(EdgeEncoder):
    """Drop-in :class:`EdgeEncoder` with the published distance and vector encoders."""

    def build_geometry(self, config: EncoderConfig) -> None:
        e, k, n = config.edge_dim, config.num_rbf, self.num_tokens
        self.mul_i, self.mul_j = nn.Embedding(n, 1), nn.Embedding(n, 1)
        self.bias_i, self.bias_j = nn.Embedding(n, 1), nn.Embedding(n, 1)
        for emb, value in ((self.mul_i, 1.0), (self.mul_j, 1.0), (self.bias_i, 0.0), (self.bias_j, 0.0)):
            nn.init.constant_(emb.weight, value)
        self.gauss_sigma = config.rbf_max / max(k - 1, 1)
        gauss_out = nn.Linear(k, e)
        self.gauss = nn.Sequential(nn.Linear(k, k), nn.GELU(), gauss_out)
        nn.init.zeros_(gauss_out.weight)
        nn.init.zeros_(gauss_out.bias)
        width = e + NERF_DIMS * (2 if self.absolute else 1)
        self.vector = nn.Sequential(nn.Linear(width, e), nn.LeakyReLU(), nn.LayerNorm(e), nn.Linear(e, e),
                                    nn.LeakyReLU(), nn.LayerNorm(e), nn.Linear(e, e))

    def edge(self, dist: torch.Tensor, local: torch.Tensor, vec: torch.Tensor, ti: torch.Tensor,
             tj: torch.Tensor) -> torch.Tensor:
        scale = self.mul_i(ti).abs() + self.mul_j(tj).abs()  # [..., 1]
        shifted = scale.squeeze(-1) * dist + (self.bias_i(ti) + self.bias_j(tj)).squeeze(-1)
        s = self.gauss_sigma
        phi = torch.exp(-0.5 * ((shifted[..., None] - self.centers) / s) ** 2) / (math.sqrt(2 * math.pi) * s)
        e1 = self.pair(ti * self.num_tokens + tj) + self.gauss(phi)
        parts = [e1, vector_encoding(local)] + ([vector_encoding(vec)] if self.absolute else [])
        return self.vector(torch.cat(parts, -1))
