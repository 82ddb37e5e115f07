"""Protein language-model features (spec section 1.3): per-residue embeddings added to every atom of the
residue and a sequence-level embedding for the virtual node. The published model uses ESM-2 650M, layer 33
(1280-d) and the BOS token; both are zeroed for masked residues.

Two sources, one record of what was found (:class:`LMFeatures`):

- a directory written by fair-esm's ``esm-extract`` (one ``<label>.pt`` per sequence with ``label``,
  ``representations[layer]`` ``[L, D]``, ``mean_representations[layer]``, optionally ``bos_representations``
  and, when vabsnet wrote it, ``sequence``): :class:`ExtractDir`. A chain is found by its label (the store key
  ``<entry>/<chain>`` with ``/`` written as ``_``, as ``vabsnet lm-features STORE --fasta`` labels them), or
  else by its exact sequence; a length or sequence that does not match the chain is an error for that
  chain, never a silent misalignment;
- fair-esm run on the chain's sequence (:mod:`vabsnet.features.esm`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vabsnet.errors import LMFeatureError


@dataclass(frozen=True, eq=False)
class LMFeatures:
    """``residue [L, D]`` and ``cls [D]`` float16; ``source`` names the model and layer."""

    residue: np.ndarray
    cls: np.ndarray
    source: str

    def checked(self, name: str, sequence: str) -> LMFeatures:
        """Self, after checking it fits a chain of ``sequence`` (raises :class:`LMFeatureError`)."""
        if self.residue.ndim != 2 or self.residue.shape[0] != len(sequence):
            raise LMFeatureError(f"{name}: language-model features for {self.residue.shape[0]} residues, the "
                                 f"chain has {len(sequence)}")
        if self.cls.shape != (self.residue.shape[1],):
            raise LMFeatureError(f"{name}: sequence-level feature of shape {self.cls.shape}")
        if not np.isfinite(self.residue).all() or not np.isfinite(self.cls).all():
            raise LMFeatureError(f"{name}: non-finite language-model features")
        return self


def label_of(key: str) -> str:
    """The label of a chain in FASTA files and ``esm-extract`` output: the key with ``/`` as ``_``."""
    return key.replace("/", "_")


def _layer_of(data: dict, layer: int | None, path: Path) -> int:
    layers = sorted(int(k) for k in data.get("representations", {}))
    if not layers:
        raise LMFeatureError(f"{path}: no per-residue representations (run esm-extract with --include per_tok)")
    if layer is None:
        return layers[-1]
    if layer not in layers:
        raise LMFeatureError(f"{path}: no layer {layer} (has {layers})")
    return layer


def read_extract_file(path: str | Path, layer: int | None = None) -> tuple[str, str | None, LMFeatures]:
    """``(label, sequence or None, features)`` of one ``esm-extract`` file; ``layer`` None = the last."""
    import torch

    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise LMFeatureError(f"{path}: not a readable esm-extract file ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or "label" not in data:
        raise LMFeatureError(f"{path}: not an esm-extract file (no 'label')")
    n = _layer_of(data, layer, path)
    residue = data["representations"][n].float().numpy()
    if "bos_representations" in data and n in data["bos_representations"]:
        cls, kind = data["bos_representations"][n].float().numpy(), "bos"
    elif "mean_representations" in data and n in data["mean_representations"]:
        cls, kind = data["mean_representations"][n].float().numpy(), "mean"
    else:
        raise LMFeatureError(f"{path}: no sequence-level representation (--include bos or mean)")
    source = str(data.get("source", f"esm-extract layer {n}, sequence feature: {kind}"))
    return str(data["label"]), data.get("sequence"), LMFeatures(residue.astype(np.float16), cls.astype(np.float16),
                                                               source)


class ExtractDir:
    """Features from an ``esm-extract`` output directory, looked up per chain (see the module docstring)."""

    def __init__(self, directory: str | Path, layer: int | None = None) -> None:
        self.directory, self.layer = Path(directory), layer
        if not self.directory.is_dir():
            raise LMFeatureError(f"{self.directory}: no such directory of language-model features")
        self.files = {p.stem: p for p in sorted(self.directory.glob("*.pt"))}
        if not self.files:
            raise LMFeatureError(f"{self.directory}: no .pt files (esm-extract output expected)")
        self._by_sequence: dict[str, Path] | None = None

    def _sequence_index(self) -> dict[str, Path]:
        if self._by_sequence is None:  # read once, only when a label is not found
            self._by_sequence = {}
            for path in self.files.values():
                _, seq, _ = read_extract_file(path, self.layer)
                if seq:
                    self._by_sequence.setdefault(seq, path)
        return self._by_sequence

    def find(self, key: str, sequence: str) -> LMFeatures:
        """Features of the chain ``key`` with ``sequence``; raises :class:`LMFeatureError` when none fit."""
        path = self.files.get(label_of(key)) or self.files.get(key)
        if path is None:
            path = self._sequence_index().get(sequence)
        if path is None:
            raise LMFeatureError(f"{key}: no language-model features in {self.directory} (label "
                                 f"{label_of(key)!r} not found, and no file with this chain's sequence)")
        label, seq, features = read_extract_file(path, self.layer)
        if seq is not None and seq != sequence:
            raise LMFeatureError(f"{key}: {path.name} holds another sequence than the chain's")
        return features.checked(key, sequence)


def write_fasta(sequences: dict[str, str], path: str | Path) -> int:
    """A FASTA file of ``sequences`` labelled for :class:`ExtractDir` (input for ``esm-extract``)."""
    from vabsnet.atomic import atomic_write_text

    atomic_write_text(Path(path), "".join(f">{label_of(k)}\n{s}\n" for k, s in sequences.items()))
    return len(sequences)
