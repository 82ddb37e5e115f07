"""Task heads: the fixed standardisation of readouts, and the function readout on a fresh encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vabsnet.config import preset
from vabsnet.corpus import entry
from vabsnet.data.batch import collate
from vabsnet.features import featurize
from vabsnet.model import VabsEncoder
from vabsnet.model.heads import Standardize
from vabsnet.structure import load_structure
from vabsnet.tasks.function import FunctionTask, mean_by


def test_standardize_matches_numpy_and_keeps_constant_features_small():
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(3.0, 2.0, 500), rng.normal(-1.0, 0.1, 500), np.full(500, 7.0) + rng.normal(0, 1e-7, 500)]
    norm = Standardize(3, eps=1e-4)
    t = torch.tensor(x, dtype=torch.float32)
    assert torch.equal(norm(t), t)  # the identity until fitted
    norm.fit(t)
    out = norm(t).numpy()
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-4)
    np.testing.assert_allclose(out, expected, atol=1e-4)  # float32 rounding of 7.0, times 1/sqrt(eps)
    assert out[:, 0].std() == pytest.approx(1.0, abs=1e-4) and out[:, 1].std() == pytest.approx(0.995, abs=2e-3)
    assert np.abs(out[:, 2]).max() < 1e-4  # float noise is not blown up to unit scale
    state = norm.state_dict()  # saved with the model
    assert set(state) == {"mean", "scale"}


def test_mean_by_groups():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [10.0, 0.0]])
    torch.testing.assert_close(mean_by(x, torch.tensor([0, 0, 2]), 3),
                               torch.tensor([[2.0, 3.0], [0.0, 0.0], [10.0, 0.0]]))


def test_fresh_encoder_readout_tells_proteins_apart():
    """The virtual node of a fresh encoder is the same for every protein (its residual branches start at zero
    and it has no input of its own); the pooled residue and atom states carry the protein, so after
    standardisation two different chains are far apart."""
    cfg = preset("tiny").encoder
    torch.manual_seed(0)
    encoder = VabsEncoder(cfg).eval()
    graphs = [featurize(load_structure(entry(e).path, chains=[c]), cfg) for e, c in
              [("1AFS", "A"), ("1gbt", "A"), ("4CUP", "A"), ("2OFG", "X")]]
    batch = collate(graphs)
    with torch.no_grad():
        out = encoder(batch)
        x = FunctionTask.readout(FunctionTask.__new__(FunctionTask), out, batch)  # [B, (L+2)*D]
    layers, dim = cfg.layers, cfg.dim
    assert x.shape == (4, (layers + 2) * dim)
    virtual, pooled = x[:, : layers * dim], x[:, layers * dim:]
    assert float((virtual - virtual[0]).abs().max()) < 1e-4  # the diagnosis: constant across proteins
    assert float((pooled[0] - pooled[1]).abs().max()) > 0.05
    norm = Standardize(x.shape[1])
    norm.fit(x)
    z = norm(x)
    distance = float((z[0] - z[1]).norm())
    assert distance > 10.0  # of sqrt(2 * 2 * D) = 22.6 for two independent standardised rows


def test_init_head_starts_at_the_training_base_rate():
    """After ``Task.init_head`` a head whose last layer is zero predicts each output's training frequency for
    every input: the naive predictor, which the head-first fit then improves on."""
    from vabsnet.tasks.binding_site import BindingSiteTask
    from vabsnet.tasks.function import FunctionConfig

    torch.manual_seed(0)
    x = torch.randn(40, 12) * 5 + 2
    y = torch.zeros(40, 3)
    y[:10, 0] = 1.0  # 0.25
    y[:2, 1] = 1.0  # 0.05
    y[:, 2] = 1.0  # 1.0, clamped to 1 - 1e-4
    task = FunctionTask.__new__(FunctionTask)
    task.index, task.config = {"a": 0, "b": 1, "c": 2}, FunctionConfig(name="go-mf")
    head = task.head(4, 1)  # readout width 4 * (1 + 2) = 12
    task.init_head(head, x, y)
    with torch.no_grad():
        p = torch.sigmoid(task.head_logits(head, torch.randn(7, 12)))
    torch.testing.assert_close(p, torch.tensor([0.25, 0.05, 1 - 1e-4]).expand(7, 3))
    site = BindingSiteTask.__new__(BindingSiteTask)  # per-atom targets [A]: one bias, the atom base rate
    head = site.head(4, 1)
    site.init_head(head, torch.randn(50, head.norm.mean.numel()), (torch.arange(50) < 3).float())
    with torch.no_grad():
        p = torch.sigmoid(site.head_logits(head, torch.randn(5, head.norm.mean.numel())))
    torch.testing.assert_close(p, torch.full((5,), 0.06))
