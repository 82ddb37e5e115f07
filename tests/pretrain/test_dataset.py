from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vabsnet.config import preset
from vabsnet.corpus import entry
from vabsnet.data.prepare import prepare
from vabsnet.data.sampler import StepSampler
from vabsnet.data.store import Store
from vabsnet.pretrain.dataset import PretrainDataset, collate_pretrain


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "s"
    prepare([entry(i).path for i in ("1AFS", "1osm", "19hc")], path, progress=False)
    return Store(path)


def test_examples_are_deterministic_per_index(store):
    cfg = preset("tiny").override(**{"data.crop_residues": 64})
    ds = PretrainDataset(store, store.keys, cfg, seed=3)
    a, b = ds[5], ds[5]
    np.testing.assert_array_equal(a.graph.pos, b.graph.pos)
    np.testing.assert_array_equal(a.masked, b.masked)
    again = next(i for i in range(6, 60) if ds.key_for(i) == ds.key_for(5))  # the same chain, another index
    other = ds[again]
    assert not (other.masked.shape == a.masked.shape and np.array_equal(other.masked, a.masked))  # a new draw
    other_seed = PretrainDataset(store, store.keys, cfg, seed=4)
    assert [other_seed.key_for(i) for i in range(12)] != [ds.key_for(i) for i in range(12)]
    batch = collate_pretrain([ds[i] for i in range(3)])
    assert batch.masked.shape[0] == batch.graph.total_residues == batch.restype.shape[0]
    assert batch.sasa.shape[0] == batch.graph.total_atoms
    assert batch.graph.total_residues <= 3 * 64


def test_epochs_visit_every_chain(store):
    ds = PretrainDataset(store, store.keys, preset("tiny"), seed=0)
    n = len(store.keys)
    assert sorted(ds.key_for(i) for i in range(n)) == sorted(store.keys)
    assert sorted(ds.key_for(i) for i in range(n, 2 * n)) == sorted(store.keys)


def test_step_sampler_shards_ranks_and_resumes():
    step = {"now": 0}
    samplers = [StepSampler(lambda: step["now"], 3, 2, 2, r, 2) for r in range(2)]
    seen = [list(s) for s in samplers]
    assert sorted(seen[0] + seen[1]) == list(range(3 * 2 * 2 * 2))
    assert not set(seen[0]) & set(seen[1])
    step["now"] = 2
    assert list(samplers[0]) == seen[0][-4:] and len(samplers[0]) == 4


def test_batches_move_every_tensor_nested_ones_included(store):
    config = preset("tiny").override(**{"data.crop_residues": 32})
    batch = collate_pretrain([PretrainDataset(store, store.keys, config, seed=0)[i] for i in range(2)])
    moved = batch.to("meta")
    tensors = [getattr(moved, f.name) for f in dataclasses.fields(moved) if f.name != "graph"]
    tensors += [getattr(moved.graph, f.name) for f in dataclasses.fields(moved.graph)
                if isinstance(getattr(moved.graph, f.name), torch.Tensor)]
    assert len(tensors) > 20 and all(t.device.type == "meta" for t in tensors)
    assert moved.graph.names == batch.graph.names


def test_cluster_sampling_visits_each_cluster_once_per_epoch(store):
    """19hc's chains are near-identical globin copies (one cluster of many chains); with cluster sampling
    an epoch sees each cluster once, so that family is drawn as often as 1AFS or 1osm, not chain-weighted."""
    from vabsnet.data.splits import split_store
    from vabsnet.pretrain.dataset import cluster_groups

    split_store(store.path, identity=0.3, fractions=(1.0, 0.0, 0.0))
    groups = cluster_groups(store, store.keys)
    sizes = sorted(len(g) for g in groups)
    assert sum(sizes) == len(store.keys) and sizes[-1] > 1  # a multi-chain cluster exists
    ds = PretrainDataset(store, store.keys, preset("tiny"), seed=0, groups=groups)
    assert len(ds) == len(groups)
    of = {k: i for i, g in enumerate(groups) for k in g}
    epochs = 40
    drawn = [of[ds.key_for(i)] for i in range(epochs * len(groups))]
    for e in range(epochs):  # every cluster exactly once per epoch
        assert sorted(drawn[e * len(groups):(e + 1) * len(groups)]) == list(range(len(groups)))
    big = max(range(len(groups)), key=lambda i: len(groups[i]))
    members = {ds.key_for(i) for i in range(epochs * len(groups)) if of[ds.key_for(i)] == big}
    assert len(members) > 1  # a random member each time
    assert [ds.key_for(i) for i in range(20)] == [ds.key_for(i) for i in range(20)]  # deterministic
