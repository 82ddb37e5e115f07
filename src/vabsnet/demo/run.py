"""``vabsnet demo``: the leakage experiment end to end on the bundled corpus of real structures.

Stages (each resumable: run the same command again after a kill and finished stages are skipped, a stage
that was cut off resumes from its own checkpoint):

1. prepare the bundled corpus into ``OUT/corpus`` and split it at 30% sequence identity;
2. pre-train ``tiny`` encoders with ``span`` (SMPC), ``single``, ``residue`` and ``residue-only`` masking,
   and ``span`` with the published vector edge encoder, same budget (``--ablations`` adds ``span`` with the
   reference code's dense distance loss and with raw-SASA L1);
3. measure each encoder's masked residue-type accuracy on the held-out test chains (fixed mask draws);
4. fine-tune binding-site prediction from each encoder and from random initialisation (``scratch``) over
   several seeds, selecting on valid and evaluating on test;
5. write ``OUT/metrics.json``, ``OUT/report.md`` and the PNG plots (:mod:`vabsnet.demo.report`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from vabsnet.atomic import atomic_write_json
from vabsnet.config import Config, preset


@dataclass(frozen=True)
class Variant:
    """A row of the demo: a masking strategy (None: no pre-training) and the settings (``encoder.*``,
    ``pretrain.*``) that pre-training and fine-tuning share."""

    name: str
    mask: str | None
    overrides: tuple[tuple[str, object], ...] = ()
    reuse: str | None = None  # fine-tune from this variant's pre-trained encoder instead of pre-training


VARIANTS = (
    Variant("span", "span"),
    Variant("single", "single"),
    Variant("residue", "residue"),
    Variant("residue-only", "residue-only"),
    Variant("scratch", None),
    Variant("span+vector-edges", "span", (("encoder.edge_encoder", "vector"),)),
)
ABLATIONS = (  # opt-in (--ablations): the reference code's loss forms, and fine-tuning without augmentation
    Variant("span+dense-distance", "span", (("pretrain.distance_loss", "dense"),)),
    Variant("span+raw-sasa", "span", (("pretrain.sasa_scale", 1.0),)),
    Variant("span-no-augment", "span", (("task.augment", 0.0),), reuse="span"),
)
STRATEGIES = tuple(v.name for v in VARIANTS)
PRETRAINED = tuple(v.name for v in VARIANTS if v.mask is not None)


@dataclass(frozen=True)
class Budget:
    pretrain_steps: int
    finetune_steps: int
    seeds: tuple[int, ...]
    eval_every: int  # fine-tuning steps between validation passes
    crop: int  # training window (residues), pre-training and fine-tuning alike; batch 4
    mask_draws: int = 3  # held-out masked-type accuracy: independent mask draws


BUDGETS = {
    "small": Budget(pretrain_steps=300, finetune_steps=80, seeds=(0, 1, 2), eval_every=20, crop=128),
    "full": Budget(pretrain_steps=3000, finetune_steps=400, seeds=(0, 1, 2, 3, 4), eval_every=50, crop=256),
}


def pretrain_config(budget: Budget, mask: str, overrides: tuple = ()) -> Config:
    return preset("tiny").override(**{"pretrain.mask": mask, "train.max_steps": budget.pretrain_steps,
                                      "train.seed": 0, "train.checkpoint_every": 50,
                                      "data.crop_residues": budget.crop, **dict(overrides)})


FINETUNE_LR = 1e-4  # pre-training uses tiny's 1e-3; fine-tuning at 1e-3 erases the pre-trained features
# (measured: the spread of final residue states across a test chain fell from 0.56 to 0.025 in 80 steps)


def finetune_config(budget: Budget, seed: int, overrides: tuple = ()) -> Config:
    encoder = {k: v for k, v in overrides if k.startswith(("encoder.", "task."))}
    return preset("tiny").override(**{"task.name": "binding-site", "train.max_steps": budget.finetune_steps,
                                      "train.seed": seed, "task.eval_every": budget.eval_every,
                                      "train.lr": FINETUNE_LR,
                                      "train.warmup_steps": max(1, budget.finetune_steps // 10),
                                      "data.crop_residues": budget.crop, **encoder})


class _Stages:
    """Numbered progress lines, and how long each stage took: summed over invocations in
    ``OUT/timings.json``, so that a resumed demo reports the compute it really cost."""

    def __init__(self, total: int, progress: bool, path: Path) -> None:
        self.total, self.progress, self.done, self.path = total, progress, 0, path
        self.seconds: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}

    def start(self, name: str) -> float:
        self.done += 1
        if self.progress:
            print(f"[demo {self.done}/{self.total}] {name}", flush=True)
        return time.monotonic()

    def end(self, name: str, t0: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + time.monotonic() - t0, 1)
        atomic_write_json(self.path, self.seconds, indent=1)

    def total_seconds(self) -> float:
        return round(sum(self.seconds.values()), 1)


def run_demo(out: str | Path = "runs/demo", budget: str | Budget = "small", *, progress: bool = True,
             workers: int = 2, ablations: bool = False) -> dict:
    """Run (or resume) every stage; returns the content of ``OUT/metrics.json``. ``budget`` is a name in
    ``BUDGETS`` or a :class:`Budget`; ``ablations`` adds the rows of ``ABLATIONS``."""
    from vabsnet.data.prepare import prepare
    from vabsnet.data.splits import split_store
    from vabsnet.demo.report import write_report
    from vabsnet.train.checkpoint import ENCODER_FILE
    from vabsnet.train.finetune import MODEL_FILE, finetune
    from vabsnet.train.pretrain import pretrain, set_threads

    if isinstance(budget, Budget):
        b, budget = budget, "custom"
    elif budget in BUDGETS:
        b = BUDGETS[budget]
    else:
        raise ValueError(f"unknown budget {budget!r}; one of {sorted(BUDGETS)}")
    set_threads()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus"
    variants = VARIANTS + (ABLATIONS if ablations else ())
    pretrained = [v for v in variants if v.mask is not None and v.reuse is None]
    stages = _Stages(2 + 2 * len(pretrained) + len(variants) * len(b.seeds) + 1, progress, out / "timings.json")

    t0 = stages.start("prepare the bundled corpus")
    prep = prepare(["bundled"], corpus, workers=workers, progress=progress)
    stages.end("prepare", t0)
    t0 = stages.start("split at 30% identity (MMseqs2)")
    if not (corpus / "splits.json").exists():
        split_store(corpus, identity=0.3)
    split = json.loads((corpus / "splits.json").read_text())
    stages.end("split", t0)

    pretrain_results: dict[str, dict] = {}
    for v in pretrained:
        run = out / f"pretrain-{v.name}"
        t0 = stages.start(f"pre-train tiny, {v.name}, {b.pretrain_steps} steps")
        pretrain(corpus, run, pretrain_config(b, v.mask, v.overrides), progress="  steps" if progress else False)
        stages.end(f"pretrain {v.name}", t0)
        t0 = stages.start(f"held-out masked residue-type accuracy, {v.name}")
        pretrain_results[v.name] = _heldout(run, corpus, b)
        stages.end(f"heldout {v.name}", t0)

    finetune_results: dict[str, dict[int, dict]] = {v.name: {} for v in variants}
    for v in variants:
        init = None if v.mask is None else out / f"pretrain-{v.reuse or v.name}" / ENCODER_FILE
        for seed in b.seeds:
            run = out / f"finetune-{v.name}-seed{seed}"
            t0 = stages.start(f"fine-tune binding-site from {v.name}, seed {seed}, {b.finetune_steps} steps")
            if (run / "metrics.json").exists() and (run / MODEL_FILE).exists():
                result = json.loads((run / "metrics.json").read_text())
            else:
                result = finetune(corpus, run, finetune_config(b, seed, v.overrides), init=init,
                                  progress="  steps" if progress else False)
            finetune_results[v.name][seed] = result
            stages.end(f"finetune {v.name} seed {seed}", t0)

    stages.start("report")  # not timed: the times go into the report
    info = {"budget": budget, **asdict(b), "corpus": {"chains": prep.chains, "residues": prep.residues,
                                                      "atoms": prep.atoms, "split": split["counts"],
                                                      "clusters": split["num_clusters"]}}
    info["seconds"] = {**stages.seconds, "total": stages.total_seconds()}
    metrics = write_report(out, info, pretrain_results, finetune_results)
    if progress:
        print(f"{out}/report.md, {out}/metrics.json and plots written ({info['seconds']['total']:.0f} s of work)")
    return metrics


def _heldout(run: Path, corpus: Path, b: Budget) -> dict:
    """Held-out accuracy over ``b.mask_draws`` mask draws, cached in ``RUN/heldout.json``."""
    from vabsnet.train.pretrain import heldout_type_accuracy

    cache = run / "heldout.json"
    if cache.exists():
        saved = json.loads(cache.read_text())
        if saved.get("mask_draws") == b.mask_draws:
            return saved
    draws = [heldout_type_accuracy(run, corpus, "test", seed=s) for s in range(b.mask_draws)]
    result = {"mask_draws": b.mask_draws, "split": "test", "chains": draws[0]["chains"],
              "masked_residues": [d["masked_residues"] for d in draws],
              "masked_type_accuracy": [d["masked_type_accuracy"] for d in draws]}
    atomic_write_json(cache, result, indent=1)
    return result
