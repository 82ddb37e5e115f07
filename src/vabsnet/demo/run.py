"""``vabsnet demo``: the leakage experiment end to end on the bundled corpus of real structures.

Stages (each resumable: run the same command again after a kill and finished stages are skipped, a stage
that was cut off resumes from its own checkpoint):

1. prepare the bundled corpus into ``OUT/corpus`` and split it at 30% sequence identity;
2. pre-train ``tiny`` encoders with ``span`` (SMPC), ``single``, ``residue`` and ``residue-only`` masking,
   and ``span`` with the published vector edge encoder, same budget (``--ablations`` adds ``span`` with the
   reference code's dense distance loss and with raw-SASA L1);
3. measure each encoder's masked residue-type accuracy on the held-out test chains (fixed mask draws);
4. fine-tune binding-site prediction from each encoder and from random initialisation (``scratch``) over
   several seeds with the task's recipe (head first, then end to end), selecting on valid and evaluating on
   test;
5. write ``OUT/metrics.json``, ``OUT/report.md`` and the PNG plots (:mod:`vabsnet.demo.report`).

Training runs go two at a time on a machine with two or more cores, each in its own process with half the
threads (on 2 cores two one-thread runs do 1.5x the work of one two-thread run); runs without a dependency
start first, and an encoder's fine-tunes start as soon as it is pre-trained. The seeds of one variant run in
one process, so they share the frozen readouts of the head-first phase. Each finished run prints its time
and an estimate of what is left; ``OUT/timings.json`` and ``metrics.json["info"]["seconds"]`` keep them.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
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
    probe_steps: int = 300  # fine-tuning's head-first phase (task.probe_steps)


BUDGETS = {
    "small": Budget(pretrain_steps=160, finetune_steps=16, seeds=(0, 1, 2), eval_every=16, crop=128,
                    probe_steps=100, mask_draws=2),
    "full": Budget(pretrain_steps=800, finetune_steps=64, seeds=(0, 1, 2, 3, 4), eval_every=32, crop=128),
}


def pretrain_config(budget: Budget, mask: str, overrides: tuple = ()) -> Config:
    return preset("tiny").override(**{"pretrain.mask": mask, "train.max_steps": budget.pretrain_steps,
                                      "train.seed": 0, "train.checkpoint_every": 50,
                                      "data.crop_residues": budget.crop, **dict(overrides)})


def finetune_config(budget: Budget, seed: int, overrides: tuple = ()) -> Config:
    """The run's own settings; ``finetune`` applies the task's recipe (learning rate, warm-up) to the rest."""
    encoder = {k: v for k, v in overrides if k.startswith(("encoder.", "task."))}
    return preset("tiny").override(**{"task.name": "binding-site", "train.max_steps": budget.finetune_steps,
                                      "train.seed": seed, "task.eval_every": budget.eval_every,
                                      "task.probe_steps": budget.probe_steps, "data.crop_residues": budget.crop,
                                      **encoder})


FINETUNE_GIVEN = ("task.name", "train.max_steps", "train.seed", "task.eval_every", "task.probe_steps",
                  "data.crop_residues")


@dataclass(frozen=True)
class Job:
    """Training runs of the demo for one variant: pre-training (then its held-out accuracy), or fine-tuning
    over the budget's seeds (in one process, so the seeds share the frozen readouts of the head-first phase)."""

    kind: str  # "pretrain" | "finetune"
    variant: Variant

    @property
    def name(self) -> str:
        return f"{self.kind} {self.variant.name}"


def _run_job(job: Job, out: Path, b: Budget, threads: int, progress: bool | str) -> tuple[dict, float]:
    """Run one job (in this process or a pool worker); returns its result and its wall time."""
    t0 = time.monotonic()
    if job.kind == "pretrain":
        return _run_one(job, 0, out, b, threads, progress), time.monotonic() - t0
    return {seed: _run_one(job, seed, out, b, threads, progress) for seed in b.seeds}, time.monotonic() - t0


def _run_one(job: Job, seed: int, out: Path, b: Budget, threads: int, progress: bool | str) -> dict:
    import torch

    from vabsnet.runtime import ENCODER_FILE, MODEL_FILE
    from vabsnet.train.finetune import finetune
    from vabsnet.train.pretrain import pretrain

    if threads:
        torch.set_num_threads(threads)
    corpus, v = out / "corpus", job.variant
    if job.kind == "pretrain":
        run = out / f"pretrain-{v.name}"
        pretrain(corpus, run, pretrain_config(b, v.mask, v.overrides), progress=progress)  # type: ignore[arg-type]
        return _heldout(run, corpus, b)
    run = out / f"finetune-{v.name}-seed{seed}"
    if (run / "metrics.json").exists() and (run / MODEL_FILE).exists():
        return json.loads((run / "metrics.json").read_text())
    init = None if v.mask is None else out / f"pretrain-{v.reuse or v.name}" / ENCODER_FILE
    given = FINETUNE_GIVEN + tuple(k for k, _ in v.overrides)
    return finetune(corpus, run, finetune_config(b, seed, v.overrides), init=init, progress=progress, given=given)


class _Stages:
    """Numbered progress lines with an estimate of the time left, and how long each stage took: summed
    over invocations in ``OUT/timings.json``, so that a resumed demo reports the compute it really cost."""

    def __init__(self, total: int, progress: bool, path: Path, parallel: int = 1) -> None:
        self.total, self.progress, self.done, self.path, self.parallel = total, progress, 0, path, parallel
        self.seconds: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}
        self.t_start = time.monotonic()
        self.job_seconds: list[float] = []

    def start(self, name: str) -> float:
        if self.progress:
            print(f"[demo {self.done + 1}/{self.total}] {name}", flush=True)
        return time.monotonic()

    def end(self, name: str, t0: float, seconds: float | None = None) -> None:
        self.done += 1
        took = time.monotonic() - t0 if seconds is None else seconds
        self.seconds[name] = round(self.seconds.get(name, 0.0) + took, 1)
        atomic_write_json(self.path, self.seconds, indent=1)
        if seconds is not None:
            self.job_seconds.append(seconds)
            if self.progress:
                left = self.total - self.done - 1  # the report is the last stage
                mean = sum(self.job_seconds) / len(self.job_seconds)
                print(f"[demo {self.done}/{self.total}] {name}: {took:.0f} s; elapsed "
                      f"{time.monotonic() - self.t_start:.0f} s, about {left * mean / self.parallel:.0f} s left",
                      flush=True)

    def total_seconds(self) -> float:
        return round(sum(self.seconds.values()), 1)


def default_jobs() -> int:
    """Training runs at once: two on a machine with two or more cores, each on half of them (on 2 CPU
    cores two one-thread runs do 1.5x the work of one two-thread run; measured)."""
    from vabsnet.train.engine import available_cores

    return 2 if available_cores() >= 2 else 1


def run_demo(out: str | Path = "runs/demo", budget: str | Budget = "small", *, progress: bool = True,
             workers: int = 2, ablations: bool = False, jobs: int | None = None) -> dict:
    """Run (or resume) every stage; returns the content of ``OUT/metrics.json``. ``budget`` is a name in
    ``BUDGETS`` or a :class:`Budget`; ``ablations`` adds the rows of ``ABLATIONS``; ``jobs``: training runs
    at once (default :func:`default_jobs`), each in its own process with ``cores / jobs`` threads."""
    from vabsnet.data.prepare import prepare
    from vabsnet.data.splits import split_store
    from vabsnet.demo.report import write_report
    from vabsnet.train.pretrain import set_threads

    if isinstance(budget, Budget):
        b, budget = budget, "custom"
    elif budget in BUDGETS:
        b = BUDGETS[budget]
    else:
        raise ValueError(f"unknown budget {budget!r}; one of {sorted(BUDGETS)}")
    set_threads()
    jobs = jobs or default_jobs()
    wall0 = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus"
    variants = VARIANTS + (ABLATIONS if ablations else ())
    pretrained = [v for v in variants if v.mask is not None and v.reuse is None]
    stages = _Stages(2 + len(pretrained) + len(variants) + 1, progress, out / "timings.json", jobs)

    t0 = stages.start("prepare the bundled corpus")
    prep = prepare(["bundled"], corpus, workers=workers, progress=progress)
    stages.end("prepare", t0)
    t0 = stages.start("split at 30% identity (MMseqs2)")
    if not (corpus / "splits.json").exists():
        split_store(corpus, identity=0.3)
    split = json.loads((corpus / "splits.json").read_text())
    stages.end("split", t0)

    # runs without a dependency first, so the second slot is never idle waiting for an encoder
    pending = [Job("finetune", v) for v in variants if v.mask is None] + [Job("pretrain", v) for v in pretrained]
    waiting = [Job("finetune", v) for v in variants if v.mask is not None]
    results = _run_jobs(pending, waiting, out, b, jobs, stages, progress)
    pretrain_results = {v.name: results[Job("pretrain", v).name] for v in pretrained}
    finetune_results = {v.name: results[Job("finetune", v).name] for v in variants}

    stages.start("report")  # not timed: the times go into the report
    info = {"budget": budget, **asdict(b), "jobs": jobs,
            "corpus": {"chains": prep.chains, "residues": prep.residues, "atoms": prep.atoms,
                       "split": split["counts"], "clusters": split["num_clusters"]}}
    info["seconds"] = {**stages.seconds, "total": stages.total_seconds(), "wall": round(time.monotonic() - wall0, 1)}
    metrics = write_report(out, info, pretrain_results, finetune_results)
    if progress:
        print(f"{out}/report.md, {out}/metrics.json and plots written ({info['seconds']['wall']:.0f} s wall, "
              f"{info['seconds']['total']:.0f} s of run time over {jobs} parallel runs)")
    return metrics


def _run_jobs(pending: list[Job], waiting: list[Job], out: Path, b: Budget, jobs: int, stages: _Stages,
              progress: bool) -> dict[str, dict]:
    """Run ``pending`` jobs, and each fine-tuning job of ``waiting`` once its encoder is pre-trained, ``jobs``
    at a time (``jobs`` = 1: in this process, with step bars)."""
    results: dict[str, dict] = {}

    def ready(job: Job) -> bool:
        source = job.variant.reuse or job.variant.name
        return f"pretrain {source}" in results

    if jobs <= 1:
        for job in pending + waiting:
            t0 = stages.start(job.name)
            results[job.name], seconds = _run_job(job, out, b, 0, "  steps" if progress else False)
            stages.end(job.name, t0, seconds)
        return results
    from vabsnet.train.engine import available_cores

    threads = max(1, available_cores() // jobs)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        running = {}

        def submit(job: Job) -> None:
            running[pool.submit(_run_job, job, out, b, threads, False)] = (job, time.monotonic())

        for job in pending:
            submit(job)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job, t0 = running.pop(future)
                results[job.name], seconds = future.result()
                stages.end(job.name, t0, seconds)
                for nxt in [j for j in waiting if ready(j)]:
                    waiting.remove(nxt)
                    submit(nxt)
    return results


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
