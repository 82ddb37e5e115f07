"""Labelled examples of a task: a store's records, cropped in training, whole in evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from vabsnet.config import Config
from vabsnet.data.batch import Batch, collate, map_tensors
from vabsnet.data.store import Store
from vabsnet.features.featurize import ProteinGraph, crop_window, featurize

if TYPE_CHECKING:  # tasks.base defines Task with this module's dataset as its default
    from vabsnet.tasks.base import Task

_USABLE: dict[tuple, list[tuple[str, int]]] = {}  # (store, keys, task) -> usable (key, atoms)
CACHE_ATOMS = 2_000_000  # featurised evaluation chains kept in memory (about 0.3 GB at kNN 12)


@dataclass(frozen=True, eq=False)
class LabelledBatch:
    graph: Batch
    target: torch.Tensor  # what Task.labels gives, rows concatenated: [A] per atom, [R] per residue, [B, T] per protein

    def to(self, device: torch.device | str) -> LabelledBatch:
        return map_tensors(self, lambda t: t.to(device, non_blocking=True))

    def pin_memory(self) -> LabelledBatch:
        return map_tensors(self, torch.Tensor.pin_memory)


class TaskDataset(Dataset):
    """Records of ``keys`` that the task can label. Training: index = global sample number (each epoch a
    seeded permutation of the keys, a seeded random window of ``data.crop_residues``). Evaluation: index =
    record, the whole chain (as ``predict`` scores it)."""

    def __init__(self, store: Store, keys: list[str], config: Config, task: Task, train: bool,
                 seed: int) -> None:
        self.store, self.config, self.task, self.train, self.seed = store, config, task, train, seed
        self.keys: list[str] = []
        self.atoms: list[int] = []  # per kept record, for batching evaluation by an atom budget
        # evaluation examples are the same every pass: featurised once, kept up to CACHE_ATOMS atoms in all
        self._cache: dict[int, tuple[ProteinGraph, np.ndarray]] = {}
        self._cached_atoms = 0
        # decoding every record is the cost: runs over one store (the seeds of a demo row) share the answer
        memo = ((str(store.path), tuple(keys), getattr(task, "name", ""), repr(getattr(task, "config", None)))
                if hasattr(store, "path") else None)  # stand-in stores (tests) are not memoised
        found = _USABLE.get(memo) if memo else None
        if found is None:
            found = []
            for key in keys:
                protein = store[key].protein
                if task.usable(protein):
                    found.append((key, int(protein.num_atoms)))
            if memo:
                _USABLE[memo] = found
                while len(_USABLE) > 8:
                    _USABLE.pop(next(iter(_USABLE)))
        for key, atoms in found:
            self.keys.append(key)
            self.atoms.append(atoms)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> tuple[ProteinGraph, np.ndarray]:
        n = len(self.keys)
        position = index % n
        if not self.train and position in self._cache:
            return self._cache[position]
        if self.train:
            position = int(np.random.default_rng([self.seed, index // n, 7]).permutation(n)[position])
        record = self.store[self.keys[position]]
        protein, enc = record.protein, self.config.encoder
        if not self.train:
            item = featurize(protein, enc, lm=record.lm, lm_cls=record.lm_cls), self.task.labels(protein)
            if self._cached_atoms + protein.num_atoms <= CACHE_ATOMS:
                self._cache[position] = item
                self._cached_atoms += protein.num_atoms
            return item
        rng = np.random.default_rng([self.seed, index])
        start, stop = crop_window(protein.num_residues, self.config.data.crop_residues, rng)
        protein = protein.crop(start, stop)
        lm = record.lm[start:stop] if record.lm is not None else None
        labels = self.task.labels(protein)
        aug = self.task.augment(protein, rng)
        if aug is None:
            return featurize(protein, enc, lm=lm, lm_cls=record.lm_cls), labels
        return featurize(aug.protein, enc, res_token=aug.res_token, atom_token=aug.atom_token, lm=lm,
                         lm_cls=record.lm_cls, lm_hidden=aug.masked), labels


def collate_labelled(items: list[tuple[ProteinGraph, np.ndarray]]) -> LabelledBatch:
    return LabelledBatch(collate([g for g, _ in items]), torch.from_numpy(np.concatenate([t for _, t in items])))
