"""The one config system: typed dataclasses, named presets, JSON round trip, cross-field checks.

Presets:

- ``tiny``: about 1 M parameters; trains on a laptop CPU in minutes.
- ``base``: about 10-20 M parameters.
- ``paper``: the published sizes (spec section 3.1: 12 layers, width 768, 48 heads, edge width 128,
  FFN factor 1, kNN 15/15).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from vabsnet.registry import config_class

T = TypeVar("T")


@dataclass(frozen=True)
class EncoderConfig:
    """Vabs-Net encoder (spec sections 2-3)."""

    dim: int = 128
    layers: int = 4
    heads: int = 8
    edge_dim: int = 32
    ffn_mult: int = 1
    k_atom: int = 12  # atom-atom kNN, self included
    k_res: int = 12  # residue-residue kNN over CA, self included
    num_rbf: int = 16  # Gaussian radial basis of distance
    rbf_max: float = 12.0  # Angstrom
    max_seq_offset: int = 32  # clamped sequence-offset embedding
    lm_dim: int = 0  # per-residue language-model features (e.g. ESM-2: 320 / 1280); 0 = none
    directions: Literal["relative", "relative+absolute"] = "relative"
    # linear: one linear map of [RBF(d); unit direction in the query frame]; vector: the published encoder
    # (per-type affine Gaussians, NeRF-encoded directions, 3-layer MLP; vabsnet.model.vector_edges)
    edge_encoder: Literal["linear", "vector"] = "linear"
    norm: Literal["post", "pre"] = "post"  # the published model is post-LN
    dropout: float = 0.0
    attn_dropout: float = 0.0
    drop_path: float = 0.0  # largest per-layer drop-path rate (linear ramp from 0)
    # sparse attention kernel (all compute the same function; see vabsnet.model.attention):
    # auto = fused on CUDA when Triton is installed, else gather
    attention: Literal["auto", "fused", "gather", "reference"] = "auto"
    chunk_nodes: int = 16384  # attention queries per chunk (gather path): bounds memory on huge proteins
    checkpoint: bool = False  # activation checkpointing per block: recompute in backward, less memory

    def architecture(self) -> dict[str, Any]:
        """The fields that define the weights. The others (kNN sizes, dropout rates, the attention kernel,
        chunking, checkpointing) may differ between pre-training and fine-tuning: the official binding-site
        recipe fine-tunes at kNN 30/30 an encoder pre-trained at 15/15."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in _DATA_SIDE}

    def validate(self) -> None:
        if self.dim % self.heads:
            raise ValueError(f"encoder.dim={self.dim} is not divisible by encoder.heads={self.heads}")
        if self.k_atom < 1 or self.k_res < 1:
            raise ValueError("k_atom and k_res must be >= 1 (self is the first neighbour)")
        for name in ("dropout", "attn_dropout", "drop_path"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"encoder.{name} must be in [0, 1)")


_DATA_SIDE = frozenset({"k_atom", "k_res", "dropout", "attn_dropout", "drop_path", "attention", "chunk_nodes",
                        "checkpoint"})


@dataclass(frozen=True)
class DataConfig:
    crop_residues: int = 256  # contiguous window; random in training, first window in evaluation
    batch_size: int = 4
    num_workers: int = -1  # DataLoader worker processes; -1 = auto (0 on CPU, enough to feed a GPU)
    # pre-training draws: chain = each chain once per epoch; cluster = each sequence cluster of splits.json
    # once per epoch, a random member each time (the reference code's cluster-balanced sampling)
    sampling: Literal["chain", "cluster"] = "chain"


# Masking strategies of pre-training (vabsnet.pretrain.masking): the one list of their names.
Mask = Literal["span", "residue", "residue-only", "single"]
MASKS: tuple[str, ...] = get_args(Mask)


@dataclass(frozen=True)
class PretrainConfig:
    """SMPC masking and objective weights (spec section 4)."""

    mask: Mask = "span"
    mask_ratio: float = 0.3
    span_mean: float = 6.0  # Poisson mean of span lengths
    noise_std: float = 0.5  # Angstrom, on masked residues
    w_type: float = 1.0
    w_position: float = 1.0
    w_distance: float = 1.0
    w_torsion: float = 1.0
    w_sasa: float = 1.0
    sasa_scale: float = 30.0  # SASA targets are divided by this (square Angstrom); 1 = the reference's raw L1
    # knn: CA-CA distances over residue kNN edges touching a noised residue; dense: the reference form,
    # every noised CA against every atom of its protein (streamed in chunks)
    distance_loss: Literal["knn", "dense"] = "knn"


@dataclass(frozen=True)
class TaskConfig:
    """Fine-tuning settings that every task has (spec section 5). Each task extends this with its own
    section (``Task.config_class``, defined in the task's module); a :class:`Config` holds the section of
    the task it names, and switching ``task.name`` switches the section."""

    name: str = "binding-site"
    freeze_encoder: bool = False
    eval_every: int = 25  # optimizer steps between validation passes (model selection)
    # fine-tuning length when train.max_steps is not given: epochs over the task's train chains
    epochs: float = 10.0
    patience: int = 0  # validation passes without improvement before training stops (0: never stops early)
    # head-first phase (LP-FT): steps fitting the head on frozen, standardised readouts before training end
    # to end (0: none; the head still gets its standardisation)
    probe_steps: int = 300
    probe_lr: float = 1e-3
    head_lr_mult: float = 10.0  # end-to-end phase: the head's learning rate is train.lr times this
    # end-to-end phase: before each validation pass, re-fit the head (standardisation included) on the current
    # encoder's frozen train readouts, as in the head-first phase (measured: module doc of vabsnet.train.finetune)
    reprobe: bool = False

    def validate(self) -> None:
        if self.eval_every < 1:
            raise ValueError("task.eval_every must be >= 1 (optimizer steps between validation passes)")
        if self.epochs <= 0 or self.patience < 0 or self.probe_steps < 0 or self.probe_lr <= 0:
            raise ValueError("task.epochs and task.probe_lr must be > 0, task.patience and task.probe_steps >= 0")
        if self.head_lr_mult <= 0:
            raise ValueError("task.head_lr_mult must be > 0")


def task_section(task: TaskConfig) -> TaskConfig:
    """``task`` as the config class of the task it names (task defaults for the task's own fields)."""
    cls = config_class(task.name)
    if type(task) is cls:
        return task
    return cls(**{f.name: getattr(task, f.name) for f in dataclasses.fields(TaskConfig)})


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    max_steps: int = 300
    grad_clip: float = 5.0
    accumulate: int = 1
    precision: Literal["32", "bf16-mixed"] = "32"
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 50
    # machines in the job (DDP across nodes; each runs --devices processes). The global batch is
    # num_nodes x devices x data.batch_size x accumulate, so it is part of the run: a resume keeps it.
    num_nodes: int = 1


@dataclass(frozen=True)
class Config:
    preset: str = "tiny"
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    task: TaskConfig = field(default_factory=TaskConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", task_section(self.task))

    def validate(self) -> Config:
        self.encoder.validate()
        self.task.validate()
        if not 0.0 < self.pretrain.mask_ratio < 1.0:
            raise ValueError("pretrain.mask_ratio must be in (0, 1)")
        if self.train.num_nodes < 1:
            raise ValueError("train.num_nodes must be >= 1")
        if self.data.crop_residues < 8:
            raise ValueError("data.crop_residues must be >= 8")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        return _build(cls, data).validate()

    @classmethod
    def load(cls, path: str | Path) -> Config:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def override(self, **changes: Any) -> Config:
        """``cfg.override(**{"encoder.dim": 64, "train.lr": 3e-4})``."""
        data = self.to_dict()
        if "task.name" in changes and changes["task.name"] != self.task.name:
            if config_class(str(changes["task.name"])) is not type(self.task):  # another section: its defaults
                common = {f.name: data["task"][f.name] for f in dataclasses.fields(TaskConfig)}
                data["task"] = dataclasses.asdict(task_section(TaskConfig(**{**common, "name": changes["task.name"]})))
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split(".")
            for p in parents:
                node = node[p]
            if leaf not in node:
                raise KeyError(f"unknown config key {dotted!r}")
            node[leaf] = value
        return Config.from_dict(data)


def _checked(owner: str, name: str, hint: object, value: Any) -> Any:
    """``value`` as the field's type: Literal values must be one of the choices (``32`` from JSON is the
    choice ``"32"``), numbers must be numbers, flags must be booleans."""
    where = f"{owner}.{name}={value!r}"
    if get_origin(hint) is Literal:
        choices = get_args(hint)
        if value not in choices and str(value) in choices:
            value = str(value)
        if value not in choices:
            raise ValueError(f"{where}: must be one of {list(choices)}")
    elif hint is bool and not isinstance(value, bool):
        raise ValueError(f"{where}: must be true or false")
    elif hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{where}: must be an integer")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: must be a number")
        value = float(value)
    elif hint is str and not isinstance(value, str):
        raise ValueError(f"{where}: must be a string")
    return value


# Runs saved before tasks had their own sections hold every task's fields in one flat ``task`` section;
# on load, the fields of other tasks are dropped (they never applied to the run's task).
_FLAT_TASK_KEYS = frozenset({"binding_cutoff", "min_ligand_atoms", "threshold", "labels", "test_cutoff", "ec_level",
                             "loss", "terms"})


def _build(cls: type[T], data: dict[str, Any]) -> T:
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = get_type_hints(cls)
    unknown = set(data) - set(fields)
    if unknown:
        raise KeyError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    kwargs = {}
    for name, value in data.items():
        sub = fields[name].default_factory if fields[name].default_factory is not dataclasses.MISSING else None
        if sub is TaskConfig and isinstance(value, dict):  # the section of the task it names
            sub = config_class(str(value.get("name", TaskConfig.name)))
            own = {f.name for f in dataclasses.fields(sub)}
            value = {k: v for k, v in value.items() if k in own or k not in _FLAT_TASK_KEYS}
        if isinstance(value, dict) and sub is not None and dataclasses.is_dataclass(sub):
            value = _build(sub, value)  # type: ignore[arg-type]
        else:
            value = _checked(cls.__name__, name, hints[name], value)
        kwargs[name] = value
    return cls(**kwargs)


PRESETS: dict[str, Callable[[], Config]] = {  # built on demand: a Config resolves its task
    "tiny": lambda: Config(preset="tiny"),
    "base": lambda: Config(
        preset="base",
        encoder=EncoderConfig(dim=256, layers=10, heads=16, edge_dim=64, ffn_mult=2, k_atom=15, k_res=15),
        train=TrainConfig(lr=5e-4),
    ),
    # spec section 3.1 / 4.4: reproduce_pretrain.sh (12 x 768, 48 heads, edge 128, FFN 1x, kNN 15/15,
    # attention and activation dropout 0.1, drop-path up to 0.1, lr 1e-4, crop 800), the vector edge
    # encoder and ESM-2 650M features (1280-d; attach them with `vabsnet lm-features`)
    "paper": lambda: Config(
        preset="paper",
        encoder=EncoderConfig(dim=768, layers=12, heads=48, edge_dim=128, ffn_mult=1, k_atom=15, k_res=15,
                              num_rbf=128, rbf_max=9.0, max_seq_offset=256, attn_dropout=0.1,
                              dropout=0.1, drop_path=0.1, edge_encoder="vector", lm_dim=1280),
        data=DataConfig(crop_residues=800, batch_size=2),
        pretrain=PretrainConfig(distance_loss="dense", sasa_scale=1.0),  # the reference loss forms
        train=TrainConfig(lr=1e-4, warmup_steps=50_000, max_steps=5_000_000, weight_decay=0.0, accumulate=4),
    ),
}


def preset(name: str) -> Config:
    """A named preset (``tiny``, ``base``, ``paper``)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()


def parse_overrides(items: list[str]) -> dict[str, object]:
    """``["train.lr=1e-4", "task.name=go-mf"]`` (``--set`` values) as overrides: JSON values where they parse
    (numbers, booleans, lists), strings otherwise."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects key=value, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out
