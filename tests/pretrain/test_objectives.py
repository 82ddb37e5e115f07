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


def test_dense_distance_loss_by_hand_and_by_chunks():
    from vabsnet.pretrain.objectives import dense_distance_loss

    # protein 0: residues 0, 1 (CA atoms 0 and 2; atom 1 a side-chain atom of residue 0); protein 1: residue
    # 2 (CA atom 3) and atom 4. Residue 1 is noised: its input CA sits 1 A off, predicted back 0.5 A off.
    atom_pos = torch.tensor([[0.0, 0, 0], [1.5, 0, 0], [3.8, 1.0, 0], [50.0, 0, 0], [52.0, 0, 0]])
    clean_ca = torch.tensor([[0.0, 0, 0], [3.8, 0, 0], [50.0, 0, 0]])
    pred_ca = torch.tensor([[9.0, 9, 9], [3.8, 0.5, 0], [9.0, 9, 9]])  # only noised rows are used
    noised = torch.tensor([False, True, False])
    ca_atom, res_graph, atom_graph = torch.tensor([0, 2, 3]), torch.tensor([0, 0, 1]), torch.tensor([0, 0, 0, 1, 1])
    # pairs: (res 1, atom 0): pred |(3.8, .5)| vs 3.8; (res 1, atom 1): pred |(2.3, .5)| vs 2.3; no pairs
    # across proteins, none with itself
    expected = ((math.hypot(3.8, 0.5) - 3.8) + (math.hypot(2.3, 0.5) - 2.3)) / 2
    args = (pred_ca, clean_ca, noised, atom_pos, ca_atom, res_graph, atom_graph)
    assert abs(dense_distance_loss(*args).item() - expected) < 1e-6
    assert abs(dense_distance_loss(*args, chunk=1).item() - expected) < 1e-6
    assert dense_distance_loss(pred_ca, clean_ca, torch.zeros(3, dtype=torch.bool), *args[3:]).item() == 0.0


def test_dense_distance_option_trains(tmp_path):
    """A pre-training step with the dense distance loss and raw SASA on real chains: finite, and the
    dense loss sees every atom of the protein (more pairs than kNN edges, so another value)."""
    import numpy as np

    from vabsnet.config import preset
    from vabsnet.corpus import entry
    from vabsnet.data.records import ChainRecord
    from vabsnet.model import VabsEncoder
    from vabsnet.pretrain.dataset import collate_pretrain, make_example
    from vabsnet.pretrain.heads import PretrainHeads
    from vabsnet.pretrain.objectives import pretrain_losses
    from vabsnet.structure import load_structure
    from vabsnet.structure.targets import atom_sasa

    p = load_structure(entry("1AFS").path).select_chain("A")
    record = ChainRecord(protein=p, sasa=atom_sasa(p))
    values = {}
    for dist, scale in (("knn", 30.0), ("dense", 1.0)):
        cfg = preset("tiny").override(**{"pretrain.distance_loss": dist, "pretrain.sasa_scale": scale,
                                         "data.crop_residues": 96})
        batch = collate_pretrain([make_example(record, cfg, np.random.default_rng(0))])
        torch.manual_seed(0)
        enc, heads = VabsEncoder(cfg.encoder), PretrainHeads(cfg.encoder.dim, cfg.encoder.heads)
        losses = pretrain_losses(heads(enc(batch.graph), batch.graph), batch, cfg.pretrain)
        losses.total.backward()
        values[dist] = losses
        assert torch.isfinite(losses.total)
    assert values["dense"].distance.item() != values["knn"].distance.item()
    assert values["dense"].sasa.item() > 10 * values["knn"].sasa.item()  # raw square Angstrom vs / 30
