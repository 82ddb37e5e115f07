"""Pocket and redocking benchmark (issue 13, item 4): vabsnet against pyKVFinder, pocketeer and random surface
patches on every ligand-bound real structure bundled with vabsnet, each judged by a model that never trained
on it (5-fold cross-validation over 30%-identity clusters, see folds.py).

    python benchmarks/pockets/run_pockets.py --out runs/pocketbench            # every stage, resumable
    python benchmarks/pockets/run_pockets.py --out runs/pocketbench --stage tables

Stages: ``train`` (fold stores, pre-training, fine-tuning), ``pockets`` (all finders, DCC/DCA per ligand:
``OUT/pockets/<entry>.json``), ``redock`` (Vina in crystal, vabsnet top-1/top-3 and blind boxes:
``OUT/redock/<entry>/result.json``; ``--fixed-boxes`` runs only the crystal and blind boxes, which need no
model), ``tables`` (``OUT/results.json``, ``OUT/tables.md``). Needs ``pip install pykvfinder==0.9.6
pocketeer==0.4.0`` and the dock extra.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from finders import (  # noqa: E402
    METHODS,
    VABSNET,
    cavity_candidates,
    geometric,
    oracle_pockets,
    pocketnet_pockets,
    pocketnet_run,
    random_draws,
    rescored,
    vabsnet_pockets,
)
from folds import train_folds  # noqa: E402
from redock import redock_entry, setting_outcome  # noqa: E402

from vabsnet.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from vabsnet.bench.pockets import benchmark_ligands, structure_successes, success_rates  # noqa: E402
from vabsnet.corpus import entry  # noqa: E402
from vabsnet.demo.run import Budget  # noqa: E402
from vabsnet.dock import Box, box_around  # noqa: E402
from vabsnet.structure import load_structure  # noqa: E402

BUDGET = Budget(pretrain_steps=1000, finetune_steps=600, seeds=(0,), eval_every=100, crop=128)
CRITERIA = ("dcc_top1", "dcc_topn2", "dca_top1", "dca_topn2")
SETTINGS = ("crystal", "top1", "top3", "pocketeer-top1", "blind", "cavities-top1")


def entries(out: Path) -> list[tuple[str, Path, int]]:
    """``(entry, file, fold)`` of every ligand-bound entry, the fold being the one that holds it out."""
    info = json.loads((out / "folds.json").read_text())
    found = []
    for name in info["ligand_entries"]:  # bundled entry ids are the structures' names (file stems)
        fold = [k for k, s in enumerate(info["splits"]) if any(x.split("/")[0] == name for x in s["test"])]
        path = info.get("ligand_paths", {}).get(name)  # folds.json before the complexes: bundled only
        found.append((name, Path(path) if path else entry(name).path, fold[0]))
    return found


def pockets_stage(out: Path) -> None:
    """Every finder on every structure whose fold model exists; methods already in a row are kept."""
    from vabsnet.pockets import PocketFinder

    finders: dict[tuple[int, str], PocketFinder] = {}
    for name, path, fold in entries(out):
        dest = out / "pockets" / f"{name}.json"
        run = out / f"fold{fold}" / "finetune-span"
        row = json.loads(dest.read_text()) if dest.exists() else {}
        todo = [m for m in METHODS if m not in row.get("methods", {})
                or (m == "pocketeer" and "pocketeer_box" not in row)]  # rows written before the box was kept
        if not todo or not (run / "metrics.json").exists():  # done, or its fold is still training
            continue
        _fill_row(row, todo, path, fold, run, out / "pockets" / "work", finders)
        atomic_write_json(dest, row, indent=1)
        print(f"{name}: fold {fold}, {len(row['ligands'])} ligands; found at DCA top-(n+2): " + ", ".join(
            f"{m} {sum(row['methods'][m]['dca_topn2'])}" for m in METHODS if m != "random" and m in row["methods"]),
            flush=True)


def _fill_row(row: dict, todo: list[str], path: Path, fold: int, run: Path, work: Path, finders: dict) -> None:
    """Run the finders of ``todo`` on one structure and put their pockets' successes into ``row``."""
    from vabsnet.pockets import PocketFinder

    protein = load_structure(path)
    found_ligands = benchmark_ligands(protein)
    ligands = [lig.coords for lig in found_ligands]
    row.update(fold=fold, residues=protein.num_residues, ligands=[lig.name for lig in found_ligands])
    methods = row.setdefault("methods", {})
    atom_probs, geometric_found = None, {}

    def finder(variant: str) -> PocketFinder:
        if (fold, variant) not in finders:  # one model load per fold and variant
            finders[(fold, variant)] = PocketFinder(run, device="cpu", top_fraction=VABSNET[variant],
                                                    method="atoms")
        return finders[(fold, variant)]

    def geometric_once(method: str) -> tuple[list, float]:
        if method not in geometric_found:  # pocketeer serves its own row and the re-ranked one
            geometric_found[method] = geometric(method, protein)
        return geometric_found[method]

    for method in todo:
        t0 = time.perf_counter()
        if method in VABSNET:
            vabsnet_finder = finder(method)
            t0 = time.perf_counter()  # the model load is not part of the cost
            found, boxes, atom_probs = vabsnet_pockets(vabsnet_finder, path, work)
            seconds = time.perf_counter() - t0
            if method == "vabsnet":
                row["vabsnet_boxes"] = boxes[:3]
        elif method == "pocketeer+vabsnet":
            if atom_probs is None:  # the calibrated finder's pass gives the atom probabilities
                _, _, atom_probs = vabsnet_pockets(finder("vabsnet"), path, work)
            found, seconds = geometric_once("pocketeer")
            t0 = time.perf_counter()
            found = rescored(found, *atom_probs) if atom_probs is not None else found
            seconds += time.perf_counter() - t0 + methods["vabsnet"]["seconds"]  # with vabsnet's pass
        elif method == "random":
            draws = [structure_successes(d, ligands) for d in random_draws(protein)]
            methods[method] = {"seconds": (time.perf_counter() - t0) / len(draws), "pockets": 10, "draws": draws}
            continue
        elif method == "oracle":
            found = oracle_pockets(protein)
            seconds = time.perf_counter() - t0
        elif method == "pocketnet":
            csv = work.parent.parent / "pocketnet" / f"{protein.name}.csv"
            if not csv.with_suffix(".seconds").exists():
                continue  # the pocketnet stage has not reached it yet: a later pockets pass fills it in
            seconds = pocketnet_csv(protein, csv)
            found = pocketnet_pockets(protein, csv)
        else:
            found, seconds = geometric_once(method)
            if method == "pocketeer":  # its best pocket's box, for the comparison redock
                box = box_around(found[0].points, "pocketeer1", margin=4.0) if found else None
                row["pocketeer_box"] = box and {"center": box.center.tolist(), "size": box.size.tolist()}
        methods[method] = {"seconds": seconds, "pockets": len(found), **structure_successes(found, ligands)}


def pocketnet_csv(protein: object, csv: Path) -> float:
    """pocketnet's CSV for one structure (run once, kept with its seconds in ``<csv>.seconds``)."""
    timing = csv.with_suffix(".seconds")
    if not csv.exists() or not timing.exists():
        seconds = pocketnet_run(protein, csv)  # type: ignore[arg-type]
        atomic_write_text(timing, f"{seconds:.3f}\n")
    return float(timing.read_text())


def pocketnet_stage(out: Path) -> None:
    """pocketnet on every structure (no fold model needed, so it can run while folds train)."""
    for name, path, _ in entries(out):
        csv = out / "pocketnet" / f"{name}.csv"
        if not csv.exists():
            print(f"{name}: pocketnet {pocketnet_csv(load_structure(path), csv):.1f} s", flush=True)


def cavities_stage(out: Path) -> None:
    """Every structure's geometric candidates with their features under its fold model and their DCC/DCA to
    each benchmark ligand: ``OUT/cavities/<entry>.json`` (ranked at the tables stage)."""
    from vabsnet.bench.pockets import PocketPoints, dcc_dca
    from vabsnet.pockets import PocketFinder

    finders: dict[int, PocketFinder] = {}
    for name, path, fold in entries(out):
        dest = out / "cavities" / f"{name}.json"
        run = out / f"fold{fold}" / "finetune-span"
        if dest.exists() or not (run / "metrics.json").exists():
            continue
        if fold not in finders:
            finders[fold] = PocketFinder(run, device="cpu", method="atoms")
        protein = load_structure(path)
        ligands = [lig.coords for lig in benchmark_ligands(protein)]
        found, geometry_s, model_s = cavity_candidates(finders[fold], path, out / "cavities" / "work")
        points = [PocketPoints(c["center"], c["points"]) for c in found]
        dist = [dcc_dca(points, lig) for lig in ligands]  # per ligand: ([C] dcc, [C] dca)
        rows = [{"features": c["features"], "center": np.round(c["center"], 3).tolist(),
                 "points": len(c["points"]), "size": np.round(np.maximum(
                     2 * np.abs(c["points"] - c["center"]).max(0) + 8.0, 12.0), 2).tolist(),
                 "dcc": [float(d[0][i]) for d in dist], "dca": [float(d[1][i]) for d in dist]}
                for i, c in enumerate(found)]
        atomic_write_json(dest, {"fold": fold, "ligands": len(ligands), "seconds_geometry": geometry_s,
                                 "seconds_model": model_s, "candidates": rows}, indent=1)
        hits = sum(any(d <= 4.0 for d in r["dca"]) for r in rows)
        print(f"{name}: fold {fold}, {len(rows)} candidates ({hits} touch a ligand), geometry {geometry_s:.1f} s, "
              f"model {model_s:.1f} s", flush=True)


def redock_stage(out: Path, fixed_only: bool, cpu: int, boxes: tuple[str, ...]) -> None:
    """Vina redocking per structure in the ``boxes`` asked for: crystal, pocket1-3 (vabsnet's atom pockets),
    pocketeer1, cavity1 (the default method's top candidate, ranked by the cross-validated scorer), blind."""
    top = ranked_cavities(out).get("vabsnet-cavities", {}) if (out / "cavities").is_dir() else {}
    for name, path, _ in entries(out):
        pockets_file = out / "pockets" / f"{name}.json"
        pockets, extra = None, []
        if not fixed_only:
            if not pockets_file.exists():
                print(f"{name}: no pockets yet (its fold is training, or run the pockets stage)", flush=True)
                continue
            row = json.loads(pockets_file.read_text())
            pockets, box = (row["vabsnet_boxes"] if "pocket1" in boxes else None), row.get("pocketeer_box")
            if box and "pocketeer1" in boxes:
                extra.append(Box("pocketeer1", np.asarray(box["center"]), np.asarray(box["size"])))
            if "cavity1" in boxes and top.get(name, {}).get("top") is not None:
                cand = json.loads((out / "cavities" / f"{name}.json").read_text())["candidates"][top[name]["top"]]
                extra.append(Box("cavity1", np.asarray(cand["center"]), np.asarray(cand["size"])))
        try:
            result = redock_entry(load_structure(path), pockets, out / "redock" / name, cpu=cpu, extra=extra,
                                  blind="blind" in boxes)
        except Exception as exc:  # one structure Vina or meeko cannot take does not end the stage
            result = {"skipped": f"{type(exc).__name__}: {str(exc)[:200]}"}
            atomic_write_json(out / "redock" / name / "result.json", result, indent=1)
        tops = {b: (r["rmsd"][0], r["seconds"]) for b, r in result.get("boxes", {}).items()}
        print(f"{name}: {result.get('skipped') or result.get('ligand')} {tops}", flush=True)


RANKED = {"cavities-volume": None, "cavities-geometry": "GEOMETRY", "vabsnet-cavities": "FEATURES"}


def ranked_cavities(out: Path) -> dict[str, dict[str, dict]]:
    """Per ranking of :data:`RANKED`, per structure: DCC/DCA successes of its candidates in that order. The
    regressions are cross-validated: a structure's candidates are ranked by a scorer fitted on the other
    folds' structures only (their candidates labelled by whether they touch a ligand, DCA <= 4 A)."""
    from vabsnet import pocket_rank
    from vabsnet.bench.pockets import found_at

    rows = {p.stem: json.loads(p.read_text()) for p in sorted((out / "cavities").glob("*.json"))}
    folds = sorted({r["fold"] for r in rows.values()})
    result: dict[str, dict[str, dict]] = {m: {} for m in RANKED}
    fitted: dict[str, dict] = {m: {} for m in RANKED}
    for method, features in RANKED.items():
        for k in folds:
            train = [c for r in rows.values() if r["fold"] != k for c in r["candidates"]]
            scorer = None
            if features is not None and train:
                labels = np.array([min(c["dca"], default=99.0) <= 4.0 for c in train], float)
                scorer = pocket_rank.fit_scorer([c["features"] for c in train], labels,
                                                getattr(pocket_rank, features))
                fitted[method][str(k)] = dict(zip(scorer.features, np.round(scorer.weights, 3).tolist(), strict=True))
            for name, r in rows.items():
                if r["fold"] != k:
                    continue
                cands = r["candidates"]
                score = (scorer.score([c["features"] for c in cands]) if scorer is not None
                         else np.array([c["features"]["log_volume"] for c in cands]))
                order = np.argsort(-score, kind="stable")
                n = r["ligands"]
                hits: dict[str, list] = {f"{m}_{t}": [] for m in ("dcc", "dca") for t in ("top1", "topn2")}
                for j in range(n):
                    for m in ("dcc", "dca"):
                        d = np.array([cands[i][m][j] for i in order])
                        hits[f"{m}_top1"].append(found_at(d, 1))
                        hits[f"{m}_topn2"].append(found_at(d, n + 2))
                seconds = r["seconds_geometry"] + (r["seconds_model"] if method == "vabsnet-cavities" else 0.0)
                result[method][name] = {**hits, "pockets": len(cands), "seconds": seconds,
                                        "top": int(order[0]) if len(order) else None}
    result["_weights"] = fitted  # type: ignore[assignment]
    return result


def tables_stage(out: Path) -> dict:
    rows = {p.stem: json.loads(p.read_text()) for p in sorted((out / "pockets").glob("*.json"))}
    ranked = ranked_cavities(out) if (out / "cavities").is_dir() else {}
    weights = ranked.pop("_weights", {})
    for name, row in rows.items():
        for method, per in ranked.items():
            if name in per:
                row["methods"][method] = per[name]
    methods = [m for m in (*METHODS, *RANKED) if all(m in r["methods"] for r in rows.values())]
    pockets: dict[str, dict] = {}
    for m in methods:
        if m == "random":
            per_draw = [success_rates([r["methods"][m]["draws"][d] for r in rows.values()])
                        for d in range(len(next(iter(rows.values()))["methods"][m]["draws"]))]
            rates = {k: float(np.mean([d[k] for d in per_draw])) for k in CRITERIA}
            rates.update({f"{k}_sd": float(np.std([d[k] for d in per_draw])) for k in CRITERIA})
            rates["ligands"] = per_draw[0]["ligands"]
        else:
            rates = success_rates([r["methods"][m] for r in rows.values()])
        hits = [r["methods"][m]["draws"] if m == "random" else [r["methods"][m]] for r in rows.values()]
        # each structure weighs one, whatever its ligand count (19hc's 18 haems, 6FX1's 54 sugars)
        rates["dca_top1_per_structure"] = float(np.mean([np.mean([np.mean(d["dca_top1"]) for d in h]) for h in hits]))
        rates["pockets_per_structure"] = float(np.mean([r["methods"][m]["pockets"] for r in rows.values()]))
        rates["seconds_per_structure"] = float(np.mean([r["methods"][m]["seconds"] for r in rows.values()]))
        pockets[m] = rates
    redock: dict[str, dict] = {}
    results = {p.parent.name: json.loads(p.read_text()) for p in sorted((out / "redock").glob("*/result.json"))}
    for s in SETTINGS:
        outcomes = []
        for key, r in results.items():
            o = setting_outcome(r, s)
            finder = {"top1": "vabsnet", "top3": "vabsnet", "pocketeer-top1": "pocketeer",
                      "cavities-top1": "vabsnet-cavities"}.get(s)
            if o is not None and finder and key in rows:  # finding the pockets is part of the cost
                o = (o[0], o[1], o[2] + rows[key]["methods"][finder]["seconds"])
            if o is not None:
                outcomes.append(o)
        redock[s] = {"complexes": len(outcomes), "success_top_pose": float(np.mean([o[0] for o in outcomes]))
                     if outcomes else float("nan"), "success_any_pose": float(np.mean([o[1] for o in outcomes]))
                     if outcomes else float("nan"), "seconds_per_complex": float(np.mean([o[2] for o in outcomes]))
                     if outcomes else float("nan")}
    summary = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, 2 cores",
               "structures": len(rows), "pockets": pockets, "redock": redock, "scorer_weights": weights,
               "redock_complexes": {k: {"ligand": v.get("ligand"), "skipped": v.get("skipped"),
                                        "top_rmsd": {b: r["rmsd"][0] for b, r in v.get("boxes", {}).items()}}
                                    for k, v in results.items()}}
    atomic_write_json(out / "results.json", summary, indent=1)
    atomic_write_text(out / "tables.md", _markdown(summary, rows))
    return summary


def _markdown(summary: dict, rows: dict) -> str:
    lines = [f"Pocket success over {summary['pockets']['vabsnet']['ligands']} ligands of {summary['structures']} "
             "structures (DCC/DCA < 4 A)", "",
             "| method | DCC top-1 | DCC top-(n+2) | DCA top-1 | DCA top-(n+2) | DCA top-1, per structure | "
             "pockets / structure | s / structure |",
             "|---|---|---|---|---|---|---|---|"]
    for m, r in summary["pockets"].items():
        cells = [f"{r[k]:.3f}" + (f" ± {r[k + '_sd']:.3f}" if m == "random" else "") for k in CRITERIA]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {r['dca_top1_per_structure']:.3f}"
                     + f" | {r['pockets_per_structure']:.1f} | {r['seconds_per_structure']:.2f} |")
    methods = list(summary["pockets"])
    lines += ["", "Per structure: ligands found at DCA top-1 / top-(n+2), of n", "",
              "| entry | fold | residues | n | " + " | ".join(methods) + " |",
              "|---|---|---|---|" + "---|" * len(methods)]
    for name, r in rows.items():
        n = len(r["ligands"])
        cells = []
        for m in methods:
            hit = r["methods"][m]
            if m == "random":
                cells.append("{:.1f} / {:.1f}".format(*(np.mean([sum(d[k]) for d in hit["draws"]])
                                                       for k in ("dca_top1", "dca_topn2"))))
            else:
                cells.append(f"{sum(hit['dca_top1'])} / {sum(hit['dca_topn2'])}")
        lines.append(f"| {name} | {r['fold']} | {r['residues']} | {n} | " + " | ".join(cells) + " |")
    lines += ["", "Redocking (top-scored pose, heavy-atom RMSD < 2 A)", "",
              "| box | complexes | success (top pose) | success (any of 9 poses) | s / complex |",
              "|---|---|---|---|---|"]
    for s, r in summary["redock"].items():
        if not r["complexes"]:
            continue  # a setting this run did not dock (see --boxes)
        lines.append(f"| {s} | {r['complexes']} | {r['success_top_pose']:.3f} | {r['success_any_pose']:.3f} | "
                     f"{r['seconds_per_complex']:.1f} |")
    ran = {b for r in summary["redock_complexes"].values() for b in r["top_rmsd"]}
    boxes = [b for b in ("crystal", "pocket1", "pocket2", "pocket3", "pocketeer1", "cavity1", "blind") if b in ran]
    lines += ["", "Top-scored pose RMSD (A) per box", "", "| entry | ligand | " + " | ".join(boxes) + " |",
              "|---|---|" + "---|" * len(boxes)]
    for name, r in summary["redock_complexes"].items():
        cells = [f"{r['top_rmsd'][b]:.2f}" if b in r["top_rmsd"] else "-" for b in boxes]
        lines.append(f"| {name} | {r['ligand'] or r['skipped']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/pocketbench"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--stage", choices=("all", "train", "pocketnet", "pockets", "cavities", "redock", "tables"),
                        default="all")
    parser.add_argument("--fixed-boxes", action="store_true", help="redock: crystal and blind boxes only")
    parser.add_argument("--boxes", default="crystal,pocket1,pocketeer1,cavity1,blind",
                        help="redock: which boxes (crystal, pocket1 = vabsnet's atom pockets 1-3, pocketeer1, "
                        "cavity1, blind)")
    parser.add_argument("--cpu", type=int, default=2, help="Vina threads")
    parser.add_argument("--complexes", type=Path, help="scripts/plinder_complexes.py output: more ligand-bound "
                        "entries in the folds")
    parser.add_argument("--encoder", help="fine-tune every fold from this pre-trained encoder (e.g. the shipped "
                        "tiny-span) instead of pre-training one per fold")
    args = parser.parse_args()
    if args.stage in ("all", "train"):
        train_folds(args.out, BUDGET, folds=args.folds, complexes=args.complexes, encoder=args.encoder)
    if args.stage in ("all", "pocketnet"):
        pocketnet_stage(args.out)
    if args.stage in ("all", "pockets"):
        pockets_stage(args.out)
    if args.stage in ("all", "cavities"):
        cavities_stage(args.out)
    if args.stage in ("all", "redock"):
        redock_stage(args.out, args.fixed_boxes, args.cpu, tuple(args.boxes.split(",")))
    if args.stage in ("all", "tables"):
        print(tables_stage(args.out)["pockets"])


if __name__ == "__main__":
    main()
