"""Pre-training losses (spec section 4.3), as pure functions of predictions and targets.

Options (``pretrain.*``): ``distance_loss="knn"`` (default) covers residue kNN edges touching a noised
residue; ``"dense"`` is the reference code's form, every noised CA against every atom of its protein,
streamed in chunks of queries (never an N x N matrix). ``sasa_scale`` divides SASA targets (30 by default;
1 is the reference code's raw L1 in square Angstrom). DISCREPANCY: the angle-norm weight is AlphaFold's
0.02, not the reference code's 1.0.
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


# The names a pre-training run logs (metrics.csv columns, plots): "loss" is the weighted total, then each
# objective's loss, then the masked-type accuracy.
OBJECTIVES: tuple[str, ...] = ("type", "position", "distance", "torsion", "sasa")
LOGGED: tuple[str, ...] = ("loss", *OBJECTIVES, "type_accuracy")


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


def dense_distance_loss(pred_ca: torch.Tensor, clean_ca: torch.Tensor, noised: torch.Tensor,
                        atom_pos: torch.Tensor, ca_atom: torch.Tensor, res_graph: torch.Tensor,
                        atom_graph: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """L1 between predicted and clean distances from every noised CA ``[R]`` to every other atom ``[A]`` of
    its protein (the reference code's dense form). Predicted positions: the denoised CA where noised, the
    input position elsewhere (unmasked atoms are clean). Memory: ``chunk x A_protein`` at a time."""
    if not noised.any():
        return pred_ca.sum() * 0.0
    noised_ca = ca_atom[noised]
    pred_atom = atom_pos.index_put((noised_ca,), pred_ca[noised].to(atom_pos.dtype))
    true_atom = atom_pos.index_put((noised_ca,), clean_ca[noised].to(atom_pos.dtype))
    total, count = pred_ca.new_zeros(()), 0
    for b in torch.unique(res_graph[noised]).tolist():
        atoms = torch.nonzero(atom_graph == b).squeeze(1)  # [A_b]
        queries = torch.nonzero(noised & (res_graph == b)).squeeze(1)
        for start in range(0, len(queries), chunk):
            q = queries[start:start + chunk]
            d_pred = torch.cdist(pred_ca[q].float(), pred_atom[atoms].float())  # [q, A_b]
            d_true = torch.cdist(clean_ca[q].float(), true_atom[atoms].float())
            not_self = atoms[None, :] != ca_atom[q][:, None]
            total = total + ((d_pred - d_true).abs() * not_self).sum()
            count += int(not_self.sum())
    return total / max(count, 1)


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
    if config.distance_loss == "dense":
        a = g.total_atoms
        dist = dense_distance_loss(pred.ca, batch.clean_ca, batch.noised, g.node_pos[:a], g.ca_node, g.res_graph,
                                   g.atom_graph)
    else:
        dist = distance_loss(pred.ca, batch.clean_ca, g.res_nbr[:, :-1], g.res_nbr_mask[:, :-1], batch.noised)
    tor = torsion_loss(pred.torsion.float(), batch.torsion, batch.torsion_alt, batch.torsion_mask)
    sasa = sasa_loss(pred.sasa, batch.sasa)
    total = (config.w_type * t + config.w_position * pos + config.w_distance * dist + config.w_torsion * tor
             + config.w_sasa * sasa)
    return PretrainLosses(total=total, type=t, position=pos, distance=dist, torsion=tor, sasa=sasa,
                          type_accuracy=acc)
