"""Pre-training examples from a store: crop, mask, featurise; deterministic per (seed, sample index).

Every random choice for the sample with global index ``g`` comes from ``np.random.default_rng([seed, g])``
and the chain is ``keys[permutation(epoch)[g % n]]``, so a run resumed at optimizer step ``s`` sees exactly
the samples an uninterrupted run sees from step ``s`` on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from vabsnet.config import Config
from vabsnet.constants import CHI_PI_PERIODIC, RESTYPE_1TO3, RESTYPES
from vabsnet.data.batch import Batch, collate, map_tensors
from vabsnet.data.store import Store
from vabsnet.features.featurize import ProteinGraph, crop_window, featurize
from vabsnet.pretrain.masking import apply_mask
from vabsnet.structure.targets import torsion_angles

_PI_PERIODIC = np.zeros((len(RESTYPES) + 1, 7), dtype=bool)  # [21, 7] torsions that are pi-periodic
for _t, _aa in enumerate(RESTYPES):
    for _chi in CHI_PI_PERIODIC.get(RESTYPE_1TO3[_aa], ()):
        _PI_PERIODIC[_t, 3 + _chi] = True


@dataclass(frozen=True, eq=False)
class PretrainExample:
    graph: ProteinGraph
    restype: np.ndarray  # [R] true types
    masked: np.ndarray  # [R]
    noised: np.ndarray  # [R]
    clean_ca: np.ndarray  # [R, 3]
    torsion: np.ndarray  # [R, 7, 2]
    torsion_alt: np.ndarray  # [R, 7, 2]
    torsion_mask: np.ndarray  # [R, 7]
    sasa: np.ndarray  # [A] of the input atoms


@dataclass(frozen=True, eq=False)
class PretrainBatch:
    """A collated :class:`Batch` and the pre-training targets. Shapes as in :class:`Batch`."""

    graph: Batch
    restype: torch.Tensor  # [R]
    masked: torch.Tensor  # [R] bool
    noised: torch.Tensor  # [R] bool
    clean_ca: torch.Tensor  # [R, 3]
    torsion: torch.Tensor  # [R, 7, 2]
    torsion_alt: torch.Tensor  # [R, 7, 2]
    torsion_mask: torch.Tensor  # [R, 7] bool
    sasa: torch.Tensor  # [A]

    def to(self, device: torch.device | str) -> PretrainBatch:
        return map_tensors(self, lambda t: t.to(device, non_blocking=True))

    def pin_memory(self) -> PretrainBatch:
        return map_tensors(self, torch.Tensor.pin_memory)


def make_example(record: object, config: Config, rng: np.random.Generator, train: bool = True) -> PretrainExample:
    """Crop, compute clean targets, mask, featurise one :class:`~vabsnet.data.records.ChainRecord`."""
    protein, sasa = record.protein, record.sasa  # type: ignore[attr-defined]
    start, stop = crop_window(protein.num_residues, config.data.crop_residues, rng if train else None)
    crop = protein.crop(start, stop)
    atom_sel = (protein.atom_residue >= start) & (protein.atom_residue < stop)
    crop_sasa = sasa[atom_sel]
    tors = torsion_angles(crop)
    alt = tors.sin_cos.copy()
    flip = _PI_PERIODIC[crop.restype]
    alt[flip] *= -1.0
    pre = config.pretrain
    view = apply_mask(crop, pre.mask, rng, ratio=pre.mask_ratio, span_mean=pre.span_mean, noise_std=pre.noise_std)
    lm = record.lm[start:stop] if record.lm is not None else None  # type: ignore[attr-defined]
    graph = featurize(view.protein, config.encoder, res_token=view.res_token, lm=lm,
                      lm_cls=record.lm_cls, lm_hidden=view.masked)  # type: ignore[attr-defined]
    return PretrainExample(
        graph=graph, restype=crop.restype.astype(np.int64), masked=view.masked, noised=view.noised,
        clean_ca=crop.ca_coords.astype(np.float32), torsion=tors.sin_cos, torsion_alt=alt,
        torsion_mask=tors.mask, sasa=(crop_sasa[view.kept_atom] / pre.sasa_scale).astype(np.float32),
    )


def collate_pretrain(examples: Sequence[PretrainExample]) -> PretrainBatch:
    def cat(name: str) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([getattr(e, name) for e in examples]))

    return PretrainBatch(
        graph=collate([e.graph for e in examples]), restype=cat("restype"), masked=cat("masked"),
        noised=cat("noised"), clean_ca=cat("clean_ca"), torsion=cat("torsion"), torsion_alt=cat("torsion_alt"),
        torsion_mask=cat("torsion_mask"), sasa=cat("sasa"),
    )


class PretrainDataset(Dataset):
    """Index = global sample index (unbounded); see the module docstring. With ``groups`` (sequence
    clusters of ``keys``), an epoch visits every group once in a seeded order and takes a seeded random
    member each time, so a family with many chains is not seen more often than one with a single chain."""

    def __init__(self, store: Store, keys: Sequence[str], config: Config, seed: int, train: bool = True,
                 groups: Sequence[Sequence[str]] | None = None) -> None:
        if not keys:
            raise ValueError(f"{store.path}: no chains to train on")
        self.store, self.keys, self.config, self.seed, self.train = store, list(keys), config, seed, train
        self.groups = [list(g) for g in groups] if groups is not None and train else None

    def __len__(self) -> int:
        return len(self.groups) if self.groups is not None else len(self.keys)

    def key_for(self, index: int) -> str:
        n = len(self.keys)
        if not self.train:
            return self.keys[index % n]
        if self.groups is not None:
            epoch, pos = divmod(index, len(self.groups))
            group = self.groups[np.random.default_rng([self.seed, epoch]).permutation(len(self.groups))[pos]]
            return group[int(np.random.default_rng([self.seed, index, 3]).integers(len(group)))]
        epoch, pos = divmod(index, n)
        return self.keys[np.random.default_rng([self.seed, epoch]).permutation(n)[pos]]

    def __getitem__(self, index: int) -> PretrainExample:
        rng = np.random.default_rng([self.seed, index])
        return make_example(self.store[self.key_for(index)], self.config, rng, train=self.train)


def cluster_groups(store: Store, keys: Sequence[str]) -> list[list[str]]:
    """``keys`` grouped by their sequence cluster in ``STORE/splits.json`` (a key without one is its own
    group), groups and members in a stable order."""
    cluster_of = store.split_info().get("cluster_of", {})
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(cluster_of.get(key, key), []).append(key)
    return [sorted(groups[rep]) for rep in sorted(groups)]
