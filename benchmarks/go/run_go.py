"""The GO benchmark (issue 12, items 3-4): sequence baselines and vabsnet, per ontology, several seeds.

    python benchmarks/go/run_go.py --store STORE --labels BENCH --out runs/go \\
        [--ontologies mf,bp,cc] [--variants naive,transfer,scratch,span,residue,residue-only,single] \\
        [--seeds 0,1] [--pretrain-steps 1500] [--finetune-steps 400] [--crop 192] [--preset tiny]

BENCH comes from ``vabsnet go-benchmark STORE --out BENCH``; STORE's ``splits.json`` from
``vabsnet split STORE --hold-out BENCH`` (pre-training reads its train split, which then holds no benchmark
valid or test chain nor anything clustered with one; checked here before any pre-training). Fine-tuning
uses the DeepFRI lists of BENCH, chains with at least one term of the ontology (``task.unlabelled=skip``,
CAFA's convention), the test split at 95% and, from the same predictions, the subsets at 50% and 30%.
Every run is reused when finished, so a killed benchmark resumes. Writes ``OUT/results.json``,
``OUT/tables.md`` and ``OUT/timings.json`` (seconds per stage, summed over resumed invocations).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from vabsnet.atomic import atomic_write_json, atomic_write_text
from vabsnet.bench.go_baselines import BASELINES, metrics_by_cutoff, run_baselines, test_keys_at
from vabsnet.config import Config, parse_overrides, preset
from vabsnet.data.annotations import deepfri_id
from vabsnet.data.splits import held_out_ids
from vabsnet.data.store import Store
from vabsnet.errors import VabsnetError
from vabsnet.metrics import score_spread
from vabsnet.runtime import ENCODER_FILE, MODEL_FILE
from vabsnet.tasks.base import build_task
from vabsnet.train.evaluate import read_chain_scores
from vabsnet.train.finetune import finetune
from vabsnet.train.pretrain import pretrain, set_threads

MASKS = ("span", "residue", "residue-only", "single")
CUTOFFS = (0.3, 0.5, 0.95)  # the identity cutoffs the tables report (of DeepFRI's five)


class Timings:
    """Seconds per stage in ``OUT/timings.json``, summed over invocations."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}

    def add(self, name: str, t0: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + time.monotonic() - t0, 1)
        atomic_write_json(self.path, self.seconds, indent=1)


def check_held_out(store_path: str, labels: str) -> dict:
    """Refuse to pre-train when the store's train split holds a benchmark valid/test chain."""
    info = Store(store_path).split_info()
    held = held_out_ids(labels)
    leaked = sorted(k for k in info["splits"]["train"] if deepfri_id(k) in held)
    if leaked or not info.get("held_out"):
        raise VabsnetError(f"{store_path}/splits.json: {len(leaked)} benchmark valid/test chains in train "
                           f"(e.g. {leaked[:3]}); run `vabsnet split {store_path} --hold-out {labels}`")
    return {"train": len(info["splits"]["train"]), "held_out": info["held_out"], "identity": info["identity"]}


def pretrain_dir(out: str | Path, mask: str, seed: int) -> Path:
    """Where seed ``seed``'s pre-training with ``mask`` lives: a pre-trained row's seed is the seed of its
    pre-training and of its fine-tuning, so the spread over seeds includes the pre-training's."""
    return Path(out) / (f"pretrain-{mask}" if seed == 0 else f"pretrain-{mask}-seed{seed}")


def finetune_config(args: argparse.Namespace, onto: str, seed: int) -> Config:
    """The benchmark's settings; `finetune` fills in the task recipe (rate, length in epochs, warm-up) for
    the rest, as `vabsnet finetune` does. ``--finetune-steps 0``: the recipe's length."""
    steps = {"train.max_steps": args.finetune_steps} if args.finetune_steps else {}
    return preset(args.preset).override(**parse_overrides(args.set), **{
        "task.name": f"go-{onto}", "task.labels": args.labels, "task.test_cutoff": 0.95, "task.unlabelled": "skip",
        "train.seed": seed, "task.eval_every": args.eval_every, "data.crop_residues": args.crop,
        "task.patience": args.patience, **steps})


def vabsnet_row(args: argparse.Namespace, onto: str, variant: str, seed: int, timings: Timings) -> dict:
    run = Path(args.out) / f"finetune-{onto}-{variant}-seed{seed}"
    cache = run / "cutoffs.json"
    if cache.exists():
        return json.loads(cache.read_text())
    init = None if variant == "scratch" else pretrain_dir(args.out, variant, seed) / ENCODER_FILE
    t0 = time.monotonic()
    if not (run / MODEL_FILE).exists() or not (run / "scores_test.npz").exists():
        finetune(args.store, run, finetune_config(args, onto, seed), init=init, accelerator=args.accelerator,
                 progress=f"  go-{onto} {variant} seed {seed}", given=set(parse_overrides(args.set)))
    task = build_task(Config.load(run / "config.json").task)
    result = {}
    for name, file in (("finetuned", "scores_test.npz"), ("probe", "scores_probe_test.npz")):
        chains, scores, targets = read_chain_scores(run / file)
        result[name] = metrics_by_cutoff(task, chains, np.stack(scores), np.stack(targets), CUTOFFS)
        for cutoff, kept in zip(CUTOFFS, (test_keys_at(task, chains, c) for c in CUTOFFS), strict=True):
            result[name][f"{cutoff:g}"]["spread"] = score_spread(
                [s for s, k in zip(scores, kept, strict=True) if k],
                [t for t, k in zip(targets, kept, strict=True) if k],
                "protein")
    atomic_write_json(cache, result, indent=1)
    timings.add(f"finetune go-{onto} {variant}", t0)
    return result


def summarise(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def tables(results: dict) -> str:
    lines = []
    for onto, rows in results["ontologies"].items():
        chains = rows["chains"]
        lines += [f"### GO-{onto.upper()} ({rows['terms']} terms; train {chains['train']}, valid {chains['valid']}, "
                  f"test {chains['test']} chains: {rows['test_at']['0.3']} below 30%, "
                  f"{rows['test_at']['0.5']} below 50% identity to train)", "",
                  "| method | Fmax <30% | AUPR <30% | Fmax <50% | AUPR <50% | Fmax <95% | AUPR <95% | "
                  "score sd <30% |", "|---|---|---|---|---|---|---|---|"]
        for method, by_seed in rows["methods"].items():
            cells = []
            for cutoff in ("0.3", "0.5", "0.95"):
                for metric in ("fmax", "auprc_micro"):
                    cells.append(summarise([r[cutoff][metric] for r in by_seed.values()]))
            sd = [r["0.3"]["spread"]["score_sd"] for r in by_seed.values() if "spread" in r["0.3"]]
            cells.append(f"{statistics.mean(sd):.4f}" if sd else "—")
            if method in BASELINES:
                label = method
            elif method.endswith(" probe"):
                label = f"vabsnet {method[:-6]}, head-first probe ({len(by_seed)} seeds)"
            else:
                label = f"vabsnet {method}, fine-tuned ({len(by_seed)} seeds)"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", required=True)
    p.add_argument("--labels", required=True, help="the go-benchmark folder")
    p.add_argument("--out", required=True)
    p.add_argument("--ontologies", default="mf,bp,cc")
    p.add_argument("--variants", default=",".join(BASELINES) + ",scratch," + ",".join(MASKS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--pretrain-steps", type=int, default=1500)
    p.add_argument("--finetune-steps", type=int, default=0, help="0: the task recipe's (task.epochs)")
    p.add_argument("--patience", type=int, default=3, help="validation passes without improvement before stopping")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--crop", type=int, default=192)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="fine-tuning config override kept over the task recipe, e.g. --set task.reprobe=true")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--device", default="auto", help="for scoring the test chains")
    args = p.parse_args()
    set_threads()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings = Timings(out / "timings.json")
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = args.variants.split(",")
    saved = out / "results.json"  # ontologies, methods and seeds of earlier invocations are kept
    results: dict = json.loads(saved.read_text()) if saved.exists() else {"ontologies": {}}
    masks = [v for v in variants if v in MASKS]
    if masks:
        results["pretrain_corpus"] = check_held_out(args.store, args.labels)
    for mask, seed in ((m, s) for m in masks for s in seeds):
        t0 = time.monotonic()
        config = preset(args.preset).override(**{
            "pretrain.mask": mask, "train.max_steps": args.pretrain_steps, "train.seed": seed,
            "data.crop_residues": args.crop, "data.sampling": "cluster", "train.checkpoint_every": 100})
        pretrain(args.store, pretrain_dir(out, mask, seed), config, accelerator=args.accelerator,
                 progress=f"  pretrain {mask} seed {seed}")
        timings.add(f"pretrain {mask}", t0)
    for onto in args.ontologies.split(","):
        config = finetune_config(args, onto, 0).task
        t0 = time.monotonic()
        base = run_baselines(args.store, config)
        timings.add(f"baselines go-{onto}", t0)
        methods: dict[str, dict] = results["ontologies"].get(onto, {}).get("methods", {})  # earlier invocations
        methods.update({b: {"-": base[b]} for b in BASELINES if b in variants})
        for variant in (v for v in variants if v not in BASELINES):
            rows = {str(s): vabsnet_row(args, onto, variant, s, timings) for s in seeds}
            methods.setdefault(variant, {}).update({s: r["finetuned"] for s, r in rows.items()})
            methods.setdefault(f"{variant} probe", {}).update({s: r["probe"] for s, r in rows.items()})
        any_row = base["naive"]
        results["ontologies"][onto] = {"terms": any_row["0.95"]["terms"], "chains": base["chains"],
                                       "test_at": {c: any_row[c]["proteins"] for c in any_row},
                                       "baseline_seconds": base["seconds"], "methods": methods,
                                       "arguments": vars(args)}
        results["seconds"] = timings.seconds
        atomic_write_json(saved, results, indent=1)
    atomic_write_text(out / "tables.md", tables(results) + "\n")
    print((out / "tables.md").read_text())


if __name__ == "__main__":
    main()
