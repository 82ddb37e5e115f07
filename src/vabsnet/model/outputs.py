"""Typed model outputs."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True, eq=False)
class EncoderOutput:
    """Encoder states. ``A`` atoms, ``R`` residues, ``B`` proteins, ``L`` layers, ``D`` width.

    Attributes
    ----------
    atom : ``[A, D]`` final state of every atom node.
    residue : ``[R, D]`` final state of every residue (its CA node).
    graph : ``[B, D]`` final state of every protein's virtual node.
    graph_layers : ``[L, B, D]`` virtual-node state after each layer (function-prediction readout).
    node : ``[A + B, D]`` all node states (atoms, then virtual nodes).
    """

    atom: torch.Tensor
    residue: torch.Tensor
    graph: torch.Tensor
    graph_layers: torch.Tensor
    node: torch.Tensor
