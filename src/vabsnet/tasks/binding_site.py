"""Binding-site prediction (spec section 5.2): per-atom logits, the residue score at its CA node.

Labels: a residue is positive when any of its heavy atoms lies within ``binding_cutoff`` of a kept
ligand (at least ``min_ligand_atoms`` heavy atoms); every atom of a positive residue is positive (as in the
reference code). Loss: binary cross-entropy over all atoms. Metrics: per protein then averaged, and pooled
over all residues (both reported, named so); the same per atom, from every atom's own score, under
``atom_`` (the paper's atom-level IoU is ``atom_iou``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vabsnet.atomic import atomic_write_text
from vabsnet.config import TaskConfig, task_section
from vabsnet.constants import RESTYPE_1TO3, RESTYPES
from vabsnet.data.batch import Batch, split_rows
from vabsnet.data.store import Store
from vabsnet.metrics import best_threshold, binary_report
from vabsnet.model.heads import ClsHead
from vabsnet.model.outputs import EncoderOutput
from vabsnet.structure.labels import binding_ligands, binding_site_labels
from vabsnet.structure.protein import Protein
from vabsnet.structure.write import to_pdb
from vabsnet.tasks.augment import Augmented, mask_residues_keep_atoms
from vabsnet.tasks.base import Metrics, Task


@dataclass(frozen=True)
class BindingSiteConfig(TaskConfig):
    """``task.*`` of binding-site prediction."""

    name: str = "binding-site"
    binding_cutoff: float = 4.0  # Angstrom, residue/atom to ligand heavy atom, inclusive
    min_ligand_atoms: int = 6  # ligands with fewer heavy atoms do not define binding sites
    glycans: bool = False  # covalently attached glycans (N-linked NAG ...) count as ligands
    augment: float = 0.2  # training: fraction of residues with type, atom names and LM features masked
    augment_noise: float = 0.5  # Angstrom, per axis, on the atoms of those residues
    threshold: float = 0.5  # the fixed threshold: used when threshold_rule is "fixed", reported beside otherwise
    # decision threshold chosen on the valid residues after fine-tuning (max pooled F1 or MCC), saved with the
    # model (calibration.json) and used by evaluate and predict; "fixed" keeps `threshold`
    threshold_rule: Literal["f1", "mcc", "fixed"] = "f1"


class BindingSiteTask(Task):
    config_class = BindingSiteConfig
    name = "binding-site"
    level = "residue"
    selection_metric = "auprc"
    headline = ("auroc", "auprc", "mcc", "f1", "iou")
    THRESHOLDED = ("mcc", "f1", "precision", "recall", "iou")
    lr_ratio = 0.1  # official 1e-5 fine-tuning over 1e-4 pre-training
    paper_schedule = {"train.lr": 1e-5, "train.warmup_steps": 10_000, "train.max_steps": 100_000,
                      "encoder.k_atom": 30, "encoder.k_res": 30}  # reproduce_finetune.sh

    def __init__(self, config: TaskConfig, store: Store | None = None) -> None:
        self.config: BindingSiteConfig = task_section(config)  # type: ignore[assignment]
        self.threshold, self.threshold_source = self.config.threshold, "fixed (task.threshold)"

    def calibrate(self, scores: list[np.ndarray], targets: list[np.ndarray]) -> dict | None:
        rule = self.config.threshold_rule
        if rule == "fixed" or not scores:
            return None
        threshold, value = best_threshold(np.concatenate(scores), np.concatenate(targets), rule)
        if math.isnan(value):
            return None
        return {"threshold": threshold, "rule": f"max pooled {rule.upper()} over the valid residues",
                f"valid_{rule}": value, "valid_proteins": len(scores),
                "valid_residues": int(sum(len(s) for s in scores))}

    def use_calibration(self, calibration: dict) -> None:
        self.threshold, self.threshold_source = float(calibration["threshold"]), str(calibration["rule"])

    def usable(self, protein: Protein) -> bool:
        return bool(binding_ligands(protein, self.config.min_ligand_atoms, self.config.glycans))

    def labels(self, protein: Protein) -> np.ndarray:
        c = self.config
        res = binding_site_labels(protein, c.binding_cutoff, c.min_ligand_atoms, c.glycans).residue
        return res[protein.atom_residue].astype(np.float32)  # [A]

    def augment(self, protein: Protein, rng: np.random.Generator) -> Augmented | None:
        if self.config.augment <= 0.0:
            return None
        return mask_residues_keep_atoms(protein, self.config.augment, self.config.augment_noise, rng)

    def readout_dim(self, dim: int, layers: int) -> int:
        return dim

    def readout(self, out: EncoderOutput, batch: Batch) -> torch.Tensor:
        return out.atom.float()  # [A, D]

    def head_body(self, features: int, dim: int) -> nn.Module:
        return ClsHead(features, 1, hidden=dim)  # its bias starts at the training base rate (Task.init_head)

    def head_logits(self, head: nn.Module, features: torch.Tensor) -> torch.Tensor:
        return head(features).squeeze(-1).float()  # [A]

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, target)

    def scores(self, logits: torch.Tensor, batch: Batch) -> list[np.ndarray]:
        return split_rows(torch.sigmoid(logits)[batch.ca_node], batch.num_residues)

    def targets(self, target: torch.Tensor, batch: Batch) -> list[np.ndarray]:
        return [t.astype(bool) for t in split_rows(target[batch.ca_node], batch.num_residues)]

    def atom_pairs(self, logits: torch.Tensor, target: torch.Tensor, batch: Batch) -> list[tuple]:
        """Per protein of the batch: (atom scores ``[A_p]``, atom labels ``[A_p]``)."""
        labels = [t.astype(bool) for t in split_rows(target, batch.num_atoms)]
        return list(zip(split_rows(torch.sigmoid(logits), batch.num_atoms), labels, strict=True))

    def atom_metrics(self, pairs: list[tuple]) -> dict:
        report = binary_report(pairs, self.threshold)
        return {**{f"atom_{k}": v for k, v in report["per_protein_mean"].items()},
                **{f"atom_pooled_{k}": v for k, v in report["pooled"].items()}}

    def metrics(self, scores: list[np.ndarray], targets: list[np.ndarray]) -> Metrics:
        pairs = list(zip(scores, targets, strict=True))
        report = binary_report(pairs, self.threshold)
        values = dict(report["per_protein_mean"])
        values.update({f"pooled_{k}": v for k, v in report["pooled"].items()})
        notes: dict[str, object] = {}
        if self.threshold != self.config.threshold:  # the same at the fixed threshold, labelled as such
            fixed = binary_report(pairs, self.config.threshold)
            notes[f"at_{self.config.threshold:g}"] = {
                **{k: fixed["per_protein_mean"][k] for k in self.THRESHOLDED},
                **{f"pooled_{k}": fixed["pooled"][k] for k in self.THRESHOLDED}}
        notes["threshold_source"] = self.threshold_source
        notes["averaging"] = {"<metric>": "computed per protein, then the mean over proteins where it "
                              "is defined (the reference code's convention)",
                              "pooled_<metric>": "pooled over all residues of the split",
                              "atom_<metric>, atom_pooled_<metric>": "the same over atoms, each atom "
                              "scored by its own logit (present in evaluate's metrics file)"}
        notes["threshold"] = report["threshold"]
        return Metrics(values, {"proteins": report["proteins"]}, notes)

    def prediction_writer(self, out: Path) -> BindingSiteWriter:
        return BindingSiteWriter(out, self.threshold)


class BindingSiteWriter:
    """Per chain: ``<stem>.csv`` (chain, residue number, insertion code, residue name, probability,
    predicted label) and ``<stem>.pdb``, the chain's heavy atoms with the residue probability as B-factor."""

    def __init__(self, out: Path, threshold: float) -> None:
        self.out, self.threshold = out, threshold

    def add(self, stem: str, chain: str, protein: Protein, scores: np.ndarray) -> None:
        rows = ["chain,residue_number,insertion_code,residue_name,probability,predicted"]
        for i in range(protein.num_residues):
            t = int(protein.restype[i])
            name = RESTYPE_1TO3[RESTYPES[t]] if t < len(RESTYPES) else "UNK"
            rows.append(f"{chain},{protein.res_id[i]},{protein.ins_code[i]},{name},{scores[i]:.4f},"
                        f"{int(scores[i] >= self.threshold)}")
        atomic_write_text(self.out / f"{stem}.csv", "\n".join(rows) + "\n")
        atomic_write_text(self.out / f"{stem}.pdb", to_pdb(protein, np.asarray(scores)[protein.atom_residue]))

    def close(self) -> None:
        pass
