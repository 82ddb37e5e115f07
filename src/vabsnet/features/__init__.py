"""From a :class:`~vabsnet.structure.Protein` to model input: kNN graphs, frames, tokens."""

from vabsnet.features.featurize import ProteinGraph, crop_window, featurize

__all__ = ["ProteinGraph", "crop_window", "featurize"]
