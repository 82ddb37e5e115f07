"""Pre-training losses (spec section 4.3), as pure functions of predictions and targets.

DISCREPANCIES (deliberate, spec section 10): the distance loss covers residue kNN edges touching a noised
residue instead of a dense N x N matrix; SASA targets are divided by a scale; the angle-norm weight is
AlphaFold's 0.02, not the reference code's 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vabsnet.config import PretrainConfig
from vabsnet.pretrain.dataset import PretrainBatch
from vabsnet.pretrain.heads import PretrainPredictions


@dataclass(frozen=True)
class PretrainLosses:
    total: torch.Tensor
    type: torch.Tensor
    position: torch.Tensor
    distance: torch.Tensor
    torsion: torch.Tensor
    sasa: torch.Tensor
    type_accuracy: torch.Tensor

    def as_dict(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.__dict__.items()}


def type_loss(logits: torch.Tensor, target: torch.Tensor, masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and accuracy at the masked residues."""
    if not masked.any():
        zero = logits.sum() * 0.0
        return zero, zero.detach()
    sel_logits, sel_target = logits[masked], target[masked]
    acc = (sel_logits.argmax(-1) == sel_target).float().mean()
    return F.cross_entropy(sel_logits.float(), sel_target), acc


def position_loss(pred: torch.Tensor, clean: torch.Tensor, noised: torch.Tensor) -> torch.Tensor:
    """Mean over noised residues of the L1 distance (summed over x, y, z) to the clean CA."""
    if not noised.any():
        return pred.sum() * 0.0
    return (pred[noised] - clean[noised]).abs().sum(-1).mean()


def distance_loss(pred: torch.Tensor, clean: torch.Tensor, nbr: torch.Tensor, nbr_mask: torch.Tensor,
                  noised: torch.Tensor) -> torch.Tensor:
    """L1 between predicted and clean CA-CA distances over kNN edges ``[R, K]`` touching a noised residue."""
    touch = nbr_mask & (noised[:, None] | noised[nbr])
    touch[:, 0] = False  # self
    if not touch.any():
        return pred.sum() * 0.0
    i = torch.arange(nbr.shape[0], device=nbr.device)[:, None].expand_as(nbr)[touch]
    j = nbr[touch]
    d_pred = (pred[i] - pred[j]).norm(dim=-1)
    d_true = (clean[i] - clean[j]).norm(dim=-1)
    return (d_pred - d_true).abs().mean()


def torsion_loss(pred: torch.Tensor, target: torch.Tensor, alt: torch.Tensor, mask: torch.Tensor,
                 norm_weight: float = 0.02) -> torch.Tensor:
    """AlphaFold-style: squared error of unit (sin, cos), min over pi-periodic alternatives, + norm loss."""
    if not mask.any():
        return pred.sum() * 0.0
    norm = pred.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    unit = pred / norm
    err = torch.minimum(((unit - target) ** 2).sum(-1), ((unit - alt) ** 2).sum(-1))
    return err[mask].mean() + norm_weight * (norm.squeeze(-1) - 1.0).abs()[mask].mean()


def sasa_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(pred.float(), target)


def pretrain_losses(pred: PretrainPredictions, batch: PretrainBatch, config: PretrainConfig) -> PretrainLosses:
    t, acc = type_loss(pred.type_logits, batch.restype, batch.masked)
    pos = position_loss(pred.ca, batch.clean_ca, batch.noised)
    g = batch.graph
    dist = distance_loss(pred.ca, batch.clean_ca, g.res_nbr[:, :-1], g.res_nbr_mask[:, :-1], batch.noised)
    tor = torsion_loss(pred.torsion.float(), batch.torsion, batch.torsion_alt, batch.torsion_mask)
    sasa = sasa_loss(pred.sasa, batch.sasa)
    total = (config.w_type * t + config.w_position * pos + config.w_distance * dist + config.w_torsion * tor
             + config.w_sasa * sasa)
    return PretrainLosses(total=total, type=t, position=pos, distance=dist, torsion=tor, sasa=sasa,
                          type_accuracy=acc)
