from __future__ import annotations

import math

import torch

from vabsnet.pretrain.objectives import distance_loss, position_loss, torsion_loss, type_loss


def test_type_loss_hand_computed():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0], [5.0, -5.0]])
    target = torch.tensor([0, 1, 1])
    masked = torch.tensor([True, True, False])
    loss, acc = type_loss(logits, target, masked)
    expected = (-math.log(math.exp(2) / (math.exp(2) + 1)) + math.log(2)) / 2
    assert abs(loss.item() - expected) < 1e-6
    assert acc.item() == 0.5  # second row ties: argmax picks class 0


def test_position_and_distance_losses():
    clean = torch.tensor([[0.0, 0, 0], [3.8, 0, 0], [7.6, 0, 0]])
    pred = clean + torch.tensor([[0.0, 0, 0], [0.0, 1.0, 0], [0.0, 0, 0]])
    noised = torch.tensor([False, True, False])
    assert position_loss(pred, clean, noised).item() == 1.0
    nbr = torch.tensor([[0, 1], [1, 0], [2, 1]])
    mask = torch.ones(3, 2, dtype=torch.bool)
    d = math.hypot(3.8, 1.0) - 3.8
    # edges touching residue 1: (0,1), (1,0), (2,1); self edges excluded
    assert abs(distance_loss(pred, clean, nbr, mask, noised).item() - d) < 1e-6
    assert distance_loss(pred, clean, nbr, mask, torch.zeros(3, dtype=torch.bool)).item() == 0.0


def test_torsion_loss_uses_the_pi_periodic_alternative():
    target = torch.tensor([[[0.0, 1.0]]])  # angle 0
    alt = -target  # angle pi
    pred = torch.tensor([[[0.0, -2.0]]])  # angle pi, norm 2
    mask = torch.tensor([[True]])
    assert abs(torsion_loss(pred, target, alt, mask, norm_weight=0.02).item() - 0.02) < 1e-6
    assert abs(torsion_loss(pred, target, target, mask, norm_weight=0.0).item() - 4.0) < 1e-6
