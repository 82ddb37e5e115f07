from __future__ import annotations

import numpy as np
import pytest
import torch

from vabsnet.config import preset
from vabsnet.corpus import entry
from vabsnet.model import VabsEncoder
from vabsnet.structure import load_structure

CHAINS = [("1AFS", "A"), ("1osm", "A"), ("19hc", "A"), ("2xr6A", "A")]


@pytest.fixture(scope="module")
def proteins():
    return [load_structure(entry(e).path).select_chain(c) for e, c in CHAINS]


@pytest.fixture
def tiny_config():
    return preset("tiny").encoder


def randomized(model: VabsEncoder, seed: int = 0) -> VabsEncoder:
    """All parameters drawn at random: zero-initialised output layers would make attention a no-op."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(1.0 + 0.1 * torch.randn(module.weight.shape, generator=gen))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
            elif isinstance(module, torch.nn.Linear):
                fan_in = module.weight.shape[1]
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) / fan_in**0.5)
                if module.bias is not None:
                    module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
            elif isinstance(module, torch.nn.Embedding):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen))
    return model.eval()


def random_rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))
