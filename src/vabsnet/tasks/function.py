"""Function prediction (spec section 5.1): EC numbers and GO terms as multi-label classification.

The readout is the virtual node's state after every layer, concatenated, beside the mean residue and mean atom
states (``[B, (L+2)*D]``), standardised with statistics of the training readouts, through a linear head
(``task.head=linear``, the default; ``mlp``: two layers) to one logit per term, its bias starting at each
term's training frequency. Labels come from a DeepFRI / TorchDrug dataset folder
(``task.labels``; see :mod:`vabsnet.data.annotations`) or, for ``ec`` without one, from the EC numbers in
the structure headers. Loss: binary cross-entropy (default) or the spec's asymmetric loss
(``task.loss=asl``). Measured on the GO benchmark's MF split (1,946-chain corpus, `span` encoder, head fitted on
frozen readouts, test chains below 30% identity; naive 0.458 Fmax / 0.400 AUPR): linear + BCE 0.481-0.484 /
0.44 at learning rates 1e-4 to 1e-3, linear + ASL 0.445 / 0.29, two-layer + ASL 0.469-0.476 / 0.40; ASL's
clipped negatives lift every score above the base rate, which costs the pair-centric ranking at these sizes.
Metrics: protein-centric Fmax and pair-centric micro AUPR.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vabsnet.atomic import atomic_write_text
from vabsnet.config import TaskConfig, task_section
from vabsnet.data import annotations as ann
from vabsnet.data.batch import Batch
from vabsnet.data.splits import SPLIT_NAMES
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError
from vabsnet.metrics import auprc_micro, fmax
from vabsnet.model.heads import ClsHead
from vabsnet.model.outputs import EncoderOutput
from vabsnet.structure.protein import Protein
from vabsnet.tasks.base import Metrics, Task


def asymmetric_loss(logits: torch.Tensor, target: torch.Tensor, gamma_pos: float = 1.0,
                    gamma_neg: float = 4.0, clip: float = 0.05) -> torch.Tensor:
    """Asymmetric loss (Ridnik et al. 2021) summed over terms, averaged over proteins.

    ``logits, target: [B, T]``. Negatives use the shifted probability ``max(p - clip, 0)`` and are
    down-weighted by ``p_m ** gamma_neg``; positives by ``(1 - p) ** gamma_pos``. With both gammas and
    ``clip`` at 0 this is binary cross-entropy summed over terms.
    """
    p = torch.sigmoid(logits)
    p_neg = (p - clip).clamp(min=0.0) if clip > 0 else p
    log_pos = F.logsigmoid(logits)
    log_neg = torch.log((1.0 - p_neg).clamp(min=1e-8)) if clip > 0 else F.logsigmoid(-logits)
    loss = target * (1.0 - p).pow(gamma_pos) * log_pos + (1.0 - target) * p_neg.pow(gamma_neg) * log_neg
    return -loss.sum(-1).mean()


@dataclass(frozen=True)
class FunctionConfig(TaskConfig):
    """``task.*`` of the function tasks (``ec``, ``go-mf``, ``go-bp``, ``go-cc``)."""

    name: str = "ec"
    labels: str = ""  # DeepFRI/TorchDrug dataset directory; "" = EC numbers from structure headers (ec only)
    test_cutoff: float = 0.95  # DeepFRI test chains kept: identity to train below this (0.3 ... 0.95)
    ec_level: int = 4  # header EC numbers truncated to this many levels (1-4)
    loss: Literal["asl", "bce"] = "bce"  # binary cross-entropy or the asymmetric loss of spec 5.1 (module doc)
    head: Literal["linear", "mlp"] = "linear"  # on the standardised readout; mlp: Linear-LayerNorm-GELU-Linear
    # chains of the label file with no term of this branch: "keep" (TorchDrug: all-negative examples, recall 0
    # in Fmax) or "skip" (CAFA: only chains with at least one term of the vocabulary, in every split)
    unlabelled: Literal["keep", "skip"] = "keep"
    terms: tuple[str, ...] = ()  # the label vocabulary, filled in by `finetune` and saved with the run

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(self.terms))

    def validate(self) -> None:
        super().validate()
        if self.test_cutoff not in ann.CUTOFFS:
            raise ValueError(f"task.test_cutoff must be one of {', '.join(map(str, ann.CUTOFFS))} (DeepFRI test CSV)")
        if not 1 <= self.ec_level <= 4:
            raise ValueError("task.ec_level must be in 1..4")
        if self.head not in ("linear", "mlp"):
            raise ValueError("task.head must be 'linear' or 'mlp'")
        if self.unlabelled not in ("keep", "skip"):
            raise ValueError("task.unlabelled must be 'keep' (TorchDrug) or 'skip' (CAFA)")


def mean_by(x: torch.Tensor, group: torch.Tensor, n: int) -> torch.Tensor:
    """``x [M, D]`` rows averaged per ``group [M]`` id into ``[n, D]`` (float32)."""
    total = torch.zeros(n, x.shape[1], device=x.device, dtype=torch.float32).index_add_(0, group, x.float())
    count = torch.bincount(group, minlength=n).clamp_min(1).to(total.dtype)
    return total / count[:, None]


class FunctionTask(Task):
    config_class = FunctionConfig
    config: FunctionConfig
    level = "protein"
    selection_metric = "fmax"
    headline = ("fmax", "auprc_micro")

    def __init__(self, config: TaskConfig, store: Store | None = None) -> None:
        config = cast(FunctionConfig, task_section(config))
        self.name = config.name
        self.kind = "EC" if config.name == "ec" else "GO"
        self.split_method = ""
        self._by_id: dict[str, list[str]] | None = None  # DeepFRI chain id -> terms
        self._by_key: dict[str, frozenset[str]] = {}  # header mode: store key -> terms
        file_terms: list[str] = []
        if config.labels:
            path = ann.annotation_file(config.labels, self.kind)
            if self.kind == "EC":
                file_terms, self._by_id = ann.read_ec_annot(path)
            else:
                file_terms, self._by_id = ann.read_go_annot(path, ann.GO_BRANCHES[config.name])
        elif self.kind != "EC":
            raise VabsnetError(f"task {config.name} needs a DeepFRI/TorchDrug folder: --labels DIR "
                               "(nrPDB-GO_annot.tsv and split lists)")
        elif store is not None:
            self._by_key = self._header_labels(store, config.ec_level)
        terms = config.terms or tuple(file_terms) or tuple(sorted(set().union(*self._by_key.values())))
        if not terms:
            raise VabsnetError(f"task {config.name}: no label vocabulary (no labels found"
                               + (f" in {store.path}" if store is not None else "; pass a store") + ")")
        self.config = replace(config, terms=tuple(terms))
        self.index = {t: i for i, t in enumerate(self.config.terms)}

    @staticmethod
    def _header_labels(store: Store, level: int) -> dict[str, frozenset[str]]:
        out = {}
        for key in store.keys:
            protein = store[key].protein
            chain = str(protein.chain_id[0]) if protein.num_residues else ""
            found = {t for e in protein.ec.get(chain, ()) if (t := ann.truncate_ec(e, level)) is not None}
            if found:
                out[key] = frozenset(found)
        return out

    def _terms_of(self, key: str) -> list[str] | None:
        if self._by_id is not None:
            return self._by_id.get(ann.deepfri_id(key))
        terms = self._by_key.get(key)
        return sorted(terms) if terms is not None else None

    def usable(self, protein: Protein) -> bool:
        return self.labelled(protein.name)

    def labelled(self, key: str) -> bool:
        """Whether the chain stored as ``key`` is an example of this task (see ``task.unlabelled``)."""
        terms = self._terms_of(key)
        if terms is None:
            return False
        return (self._by_id is not None and self.config.unlabelled == "keep") or any(t in self.index for t in terms)

    def labels(self, protein: Protein) -> np.ndarray:
        return self.label_row(protein.name)

    def label_row(self, key: str) -> np.ndarray:
        out = np.zeros((1, len(self.index)), np.float32)  # [1, T]
        for term in self._terms_of(key) or ():
            if term in self.index:
                out[0, self.index[term]] = 1.0
        return out

    def split_keys(self, store: Store) -> dict[str, list[str]]:
        """Store keys per split: the dataset's own lists (DeepFRI mode) or the store's identity split,
        re-split by cluster when the header-labelled chains leave a split empty."""
        if self._by_id is not None:
            ids = ann.split_ids(self.config.labels, self.kind, self.config.test_cutoff)
            out = {s: [k for k in store.keys if ann.deepfri_id(k) in ids[s]] for s in SPLIT_NAMES}
            self.split_method = f"dataset split lists, test at <{self.config.test_cutoff:.0%} identity"
            if not any(out.values()):
                raise VabsnetError(f"{store.path}: no record matches a chain of {self.config.labels} "
                                   "(expected entries named like 1A0B-A or 1a0b with chain A)")
            return out
        labelled = {k for k in store.keys if k in self._by_key}
        out = {s: [k for k in keys if k in labelled] for s, keys in store.splits().items()}
        self.split_method = "store identity split"
        if all(out.values()):
            return out
        cluster_of = store.split_info()["cluster_of"]
        reps = sorted({cluster_of.get(k, k) for k in labelled})
        if len(reps) < 3:
            return out
        order = [reps[i] for i in np.random.default_rng(0).permutation(len(reps))]
        role = {rep: ("test" if i == 0 else "valid" if i == 1 else "train") for i, rep in enumerate(order)}
        self.split_method = ("labelled chains re-split by identity cluster (1 cluster test, 1 valid, "
                             "rest train): the store split left a split without labels")
        return {s: sorted(k for k in labelled if role[cluster_of.get(k, k)] == s) for s in SPLIT_NAMES}

    def readout_dim(self, dim: int, layers: int) -> int:
        return dim * (layers + 2)

    def readout(self, out: EncoderOutput, batch: Batch) -> torch.Tensor:
        """``[B, (L + 2) * D]``: the virtual node after every layer, then the mean residue (CA) state and the
        mean atom state of each protein. The virtual node alone is nearly constant across proteins until the
        encoder has trained (it gets no protein-specific input of its own); the means carry the protein."""
        layers, b, d = out.graph_layers.shape
        virtual = out.graph_layers.permute(1, 0, 2).reshape(b, layers * d)  # [B, L*D]
        return torch.cat([virtual, mean_by(out.residue, batch.res_graph, b),
                          mean_by(out.atom, batch.atom_graph, b)], dim=1).float()

    def head_body(self, features: int, dim: int) -> nn.Module:
        if self.config.head == "mlp":
            return ClsHead(features, len(self.index), hidden=dim)
        body = nn.Linear(features, len(self.index))
        nn.init.zeros_(body.weight)  # the bias: the training base rate (Task.init_head)
        nn.init.zeros_(body.bias)
        return body

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.config.loss == "bce":
            return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1).mean()
        return asymmetric_loss(logits, target)

    def scores(self, logits: torch.Tensor, batch: Batch) -> list[np.ndarray]:
        return list(torch.sigmoid(logits).detach().cpu().numpy())

    def targets(self, target: torch.Tensor, batch: Batch) -> list[np.ndarray]:
        return list(target.cpu().numpy().astype(bool))

    def metrics(self, scores: list[np.ndarray], targets: list[np.ndarray]) -> Metrics:
        s, y = np.stack(scores), np.stack(targets)  # [P, T]
        return Metrics({"fmax": fmax(s, y), "auprc_micro": auprc_micro(s, y)},
                       {"proteins": len(scores), "terms": len(self.index),
                        "proteins_without_labels": int((y.sum(1) == 0).sum())},
                       {"split_method": self.split_method,
                        "averaging": {"fmax": "protein-centric: precision averaged over proteins with a score above "
                                      "the threshold, recall over all proteins, maximum F over every distinct "
                                      "score (TorchDrug f1_max)",
                                      "auprc_micro": "pair-centric: average precision over all (protein, term) "
                                      "pairs"}})

    def prediction_writer(self, out: Path) -> FunctionWriter:
        return FunctionWriter(out / "predictions.csv", self.config.terms)


class FunctionWriter:
    """``predictions.csv``: one row per chain with its ``TOP`` highest-scoring terms and their scores,
    best first (``chain_id, chain, term_1, score_1, ...``); written when the job ends."""

    TOP = 10

    def __init__(self, path: Path, terms: tuple[str, ...]) -> None:
        self.path, self.terms = path, terms
        k = min(self.TOP, len(terms))
        self.rows = ["chain_id,chain," + ",".join(f"term_{i},score_{i}" for i in range(1, k + 1))]

    def add(self, stem: str, chain: str, protein: Protein, scores: np.ndarray) -> None:
        top = np.argsort(-scores, kind="stable")[: self.TOP]
        self.rows.append(f"{stem},{chain}," + ",".join(f"{self.terms[i]},{scores[i]:.4f}" for i in top))

    def close(self) -> None:
        atomic_write_text(self.path, "\n".join(self.rows) + "\n")
