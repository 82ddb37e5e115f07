"""Pre-training heads (spec section 3.4): residue type, torsions, per-atom SASA, CA position."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vabsnet.constants import NUM_RESTYPES
from vabsnet.data.batch import Batch
from vabsnet.model.heads import ClsHead
from vabsnet.model.outputs import EncoderOutput


@dataclass(frozen=True, eq=False)
class PretrainPredictions:
    type_logits: torch.Tensor  # [R, 21]
    torsion: torch.Tensor  # [R, 7, 2] unnormalised (sin, cos)
    sasa: torch.Tensor  # [A] normalised SASA
    ca: torch.Tensor  # [R, 3] denoised CA positions


class PositionHead(nn.Module):
    """Equivariant CA update over the residue kNN graph (the reference MovementPredictionHead)::

        a_ijh = softmax_j(<q_ih, k_jh> / sqrt(d));  z_ih = sum_j a_ijh (x_i - x_j) v_jh;  dx_i = sum_h w_h z_ih

    ``w`` starts at zero, so the head starts as the identity on the (noised) input positions.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q, self.k = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v = nn.Linear(dim, heads)
        self.out = nn.Linear(heads, 1, bias=False)
        nn.init.zeros_(self.out.weight)

    def forward(self, residue: torch.Tensor, batch: Batch) -> torch.Tensor:
        r = batch.total_residues
        nbr, mask = batch.res_nbr[:, :-1], batch.res_nbr_mask[:, :-1]  # drop the virtual column
        x = batch.node_pos[batch.ca_node]
        q = self.q(residue).view(r, self.heads, self.head_dim)
        k = self.k(residue).view(r, self.heads, self.head_dim)
        logits = (q[:, None] * k[nbr]).sum(-1) / math.sqrt(self.head_dim)  # [R, K, H]
        attn = torch.softmax(logits.masked_fill(~mask[..., None], float("-inf")), dim=1)
        rel = x[:, None, :] - x[nbr]  # [R, K, 3]
        z = torch.einsum("rkh,rkc,rkh->rhc", attn, rel, self.v(residue)[nbr])
        return x + self.out(z.transpose(1, 2)).squeeze(-1)


class PretrainHeads(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.restype = ClsHead(dim, NUM_RESTYPES)
        self.torsion = ClsHead(dim, 14)
        self.sasa = ClsHead(dim, 1)
        self.position = PositionHead(dim, heads)

    def forward(self, out: EncoderOutput, batch: Batch) -> PretrainPredictions:
        torsion = self.torsion(out.residue).view(-1, 7, 2)
        torsion = torsion + torch.tensor([0.0, 1.0], device=torsion.device)  # start at angle 0, not NaN
        return PretrainPredictions(
            type_logits=self.restype(out.residue), torsion=torsion, sasa=self.sasa(out.atom).squeeze(-1),
            ca=self.position(out.residue.float(), batch),
        )
