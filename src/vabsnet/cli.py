"""Command-line interface: each sub-command parses its flags and calls one library function."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from vabsnet import __version__
from vabsnet.config import MASKS
from vabsnet.constants import ATOM_BUDGET, MAX_CHAIN_RESIDUES
from vabsnet.data.annotations import CUTOFFS
from vabsnet.errors import VabsnetError
from vabsnet.registry import TASKS


def _prepare(args: argparse.Namespace) -> int:
    from vabsnet.data.prepare import PrepareOptions, prepare

    options = PrepareOptions(chains_per_entry=args.chains_per_entry, min_residues=args.min_residues,
                             max_chain_residues=args.max_chain_residues,
                             modelled_sidechains=args.modelled_sidechains)
    summary = prepare(args.inputs, args.out, workers=args.workers, options=options,
                      progress=not args.quiet, shard=_shard(args))
    print(f"{args.out}: {summary.entries} entries, {summary.chains} chains, {summary.residues} residues, "
          f"{summary.atoms} atoms; {summary.failures} failures (see {args.out}/failures.jsonl); "
          f"{summary.skipped_done} inputs already done; {summary.seconds:.1f} s")
    if args.lm_features:
        from vabsnet.data.lm_attach import attach, from_directory, pending_sequences

        todo = pending_sequences(args.out)
        lm = attach(args.out, from_directory(args.lm_features, todo, args.lm_layer), len(todo), drop_failed=True,
                    progress=not args.quiet)
        print(f"{args.out}: language-model features for {lm.chains} chains ({lm.source}); {lm.failures} chains "
              f"without matching features removed (see {args.out}/lm_failures.jsonl)")
    return 0


def _split(args: argparse.Namespace) -> int:
    from vabsnet.data.splits import held_out_ids, split_store

    fractions = tuple(float(x) for x in args.fractions.split(","))
    hold_out = held_out_ids(args.hold_out) if args.hold_out else None
    result = split_store(args.store, identity=args.identity, fractions=fractions, seed=args.seed,  # type: ignore[arg-type]
                         hold_out=hold_out)
    held = f"; {result['held_out']['chains']} chains held out in test" if hold_out else ""
    print(f"{args.store}/splits.json: {result['num_clusters']} clusters at {args.identity:.0%} identity; "
          + ", ".join(f"{k} {v}" for k, v in result["counts"].items()) + held)
    return 0


def _parse_overrides(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise VabsnetError(f"--set expects key=value, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _config(args: argparse.Namespace, **flags: object) -> object:
    """The preset (or ``--config FILE``), then the flags that were given (None = not given), then ``--set``; a
    key given both by a flag and by ``--set`` is an error rather than a guess."""
    from vabsnet.config import Config, preset

    sets = _parse_overrides(args.set or [])
    given = {k: v for k, v in flags.items() if v is not None}
    clash = sorted(set(given) & set(sets))
    if clash:
        raise VabsnetError(f"{', '.join(clash)}: given both by a flag and by --set; use one")
    if args.config and args.preset:
        raise VabsnetError("--config and --preset both name the base configuration; use one")
    try:
        base = Config.load(args.config) if args.config else preset(args.preset or "tiny")
        return base.override(**given, **sets)
    except OSError as exc:
        raise VabsnetError(f"--config {args.config}: {exc.strerror or exc}") from None
    except (KeyError, ValueError, TypeError) as exc:
        where = f"{args.config}: " if args.config else ""
        raise VabsnetError(f"bad configuration: {where}{exc}") from None


def _pretrain(args: argparse.Namespace) -> int:
    from vabsnet.train.pretrain import pretrain, set_threads

    set_threads()
    config = _config(args, **{"pretrain.mask": args.mask, "train.seed": args.seed,
                              "train.precision": args.precision, "train.max_steps": args.max_steps,
                              "train.num_nodes": args.num_nodes})
    result = pretrain(args.store, args.out, config, devices=args.devices, accelerator=args.accelerator,  # type: ignore[arg-type]
                      progress=not args.quiet)
    if result.final and result.rank == 0:
        print(f"{args.out}: {result.steps} steps (resumed from {result.resumed_from}); last step: "
              + ", ".join(f"{k} {v:.3f}" for k, v in result.final.items()))
    return 0


def _headline(result: dict) -> str:
    """The headline metrics of a task's result (the ones its task names), as one line."""
    from vabsnet.registry import task_class

    keys = task_class(result["task"]).headline
    return ", ".join(f"{k} {result[k]:.3f}" for k in keys if result.get(k) is not None)


def _finetune(args: argparse.Namespace) -> int:
    from vabsnet.train.finetune import finetune
    from vabsnet.train.pretrain import set_threads

    set_threads()
    flags = {"task.name": args.task, "train.seed": args.seed,
             "task.freeze_encoder": True if args.freeze_encoder else None,
             "task.labels": args.labels, "task.test_cutoff": args.test_cutoff,
             "train.precision": args.precision, "train.max_steps": args.max_steps,
             "train.num_nodes": args.num_nodes}
    config = _config(args, **flags)
    given = {k for k, v in flags.items() if v is not None} | set(_parse_overrides(args.set or []))
    result = finetune(args.store, args.out, config, init=args.encoder, devices=args.devices,  # type: ignore[arg-type]
                      accelerator=args.accelerator, progress=not args.quiet, given=given)
    if result:  # rank 0
        print(f"{args.out}/metrics.json (test, {len(result['chains'])} chains): {_headline(result)}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from vabsnet.train.evaluate import evaluate

    result = evaluate(args.run, args.store, args.split, device=args.device, precision=args.precision)
    print(f"{args.run} on {args.split}: {_headline(result)}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from vabsnet.predict import predict_files

    summary = predict_files(args.task, args.run, args.inputs, args.out, progress=not args.quiet,
                            max_chain_residues=args.max_chain_residues, device=args.device,
                            precision=args.precision, atom_budget=args.atom_budget,
                            lm_features=args.lm_features, shard=_shard(args))
    print(f"{args.out}: {summary.chains} chains from {summary.files} files; {summary.failures} failures "
          f"(see {args.out}/failures.jsonl)")
    return 0


def _pockets(args: argparse.Namespace) -> int:
    from vabsnet.pockets import pocket_files

    summary, threshold = pocket_files(args.run, args.inputs, args.out, min_probability=args.min_probability,
                                      link=args.link, min_atoms=args.min_atoms, top_fraction=args.top_fraction,
                                      progress=not args.quiet,
                                      device=args.device, precision=args.precision, atom_budget=args.atom_budget,
                                      max_chain_residues=args.max_chain_residues,
                                      lm_features=args.lm_features, shard=_shard(args))
    cut = (f"the top {args.top_fraction:g} of each chain's atoms" if args.top_fraction is not None
           else f"atoms with probability >= {threshold:.3f}")
    print(f"{args.out}: pockets of {summary.chains} chains from {summary.files} files ({cut}, linked within "
          f"{args.link:g} A); {summary.failures} failures "
          f"(see {args.out}/failures.jsonl)")
    return 0


def _dock(args: argparse.Namespace) -> int:
    import numpy as np

    from vabsnet.dock import Box, dock

    boxes = []
    if args.box:
        values = [float(x) for x in args.box.split(",")]
        if len(values) != 6:
            raise VabsnetError(f"--box {args.box!r}: six numbers expected, centre x,y,z then size x,y,z")
        boxes.append(Box("box", np.array(values[:3]), np.array(values[3:])))
    result = dock(args.receptor, args.out, sdf=args.ligand, smiles=args.smiles, run=args.run, top_k=args.top_k,
                  boxes=boxes, blind=args.blind, exhaustiveness=args.exhaustiveness, poses=args.poses, seed=args.seed,
                  cpu=args.cpu, device=args.device, min_probability=args.min_probability)
    print(f"{args.out}: {len(result.poses)} poses in {len(result.boxes)} boxes, best Vina score "
          f"{result.best_score:.2f} kcal/mol (poses.sdf, summary.csv); receptor residues without a template: "
          f"{result.receptor_residues_ignored}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from vabsnet.embed import embed_files

    summary = embed_files(args.encoder, args.inputs, args.out, fmt=args.format, progress=not args.quiet,
                          max_chain_residues=args.max_chain_residues, device=args.device,
                          precision=args.precision, atom_budget=args.atom_budget,
                            lm_features=args.lm_features, shard=_shard(args))
    print(f"{args.out}: {summary.chains} chains from {summary.files} files; {summary.failures} failures "
          f"(see {args.out}/failures.jsonl)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from vabsnet.demo import run_demo

    run_demo(args.out, args.budget, progress=not args.quiet, workers=args.workers, ablations=args.ablations,
             jobs=args.jobs)
    return 0


def _add_training(p: argparse.ArgumentParser) -> None:
    p.add_argument("--devices", type=int, default=1, help="processes per node (DDP: gloo on CPU, NCCL on GPUs)")
    p.add_argument("--num-nodes", type=int, help="machines in the job (train.num_nodes; launch with srun or "
                   "torchrun, one launcher per node: see the README)")
    p.add_argument("--accelerator", default="auto", choices=["auto", "cpu", "cuda", "gpu"])
    p.add_argument("--precision", choices=["32", "bf16-mixed"], help="default: the preset's train.precision")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--preset", help="tiny (default) | base | paper")
    p.add_argument("--config", metavar="FILE", help="a whole config as JSON (e.g. a run's config.json) instead "
                   "of --preset; flags and --set apply on top")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="config override, e.g. --set data.crop_residues=128 (repeatable)")
    p.add_argument("--quiet", action="store_true")


def _add_inference(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA when available) | cpu | cuda[:N]")
    p.add_argument("--precision", choices=["32", "bf16-mixed"], help="default: the model's train.precision")
    p.add_argument("--atom-budget", type=int, default=ATOM_BUDGET, help="atoms per batch of chains")


def _add_lm_input(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lm-features", metavar="DIR",
                   help="esm-extract output with the chains' language-model features (labels <entry>_<chain>, "
                   "or the same sequence); needed by models trained with encoder.lm_dim > 0")


def _lm_features(args: argparse.Namespace) -> int:
    from vabsnet.data.lm_attach import attach, attach_computed, from_directory, pending_sequences

    if args.fasta:
        from vabsnet.data.store import Store
        from vabsnet.features.lm import write_fasta

        n = write_fasta(Store(args.store).sequences(), args.fasta)
        print(f"{args.fasta}: {n} chains, labelled for `vabsnet lm-features --from` (esm-extract ... "
              "--include per_tok bos)")
        return 0
    if args.source:
        todo = pending_sequences(args.store, args.overwrite)
        summary = attach(args.store, from_directory(args.source, todo, args.layer), len(todo),
                         progress=not args.quiet)
    else:
        from vabsnet.features.esm import esm_features, load_esm
        from vabsnet.runtime import resolve_device

        net, alphabet, name = load_esm(args.model)
        device = resolve_device(args.device)
        summary = attach_computed(args.store, lambda seqs: esm_features(
            seqs, net, alphabet, name, layer=args.layer, device=device, max_tokens=args.max_tokens),
            overwrite=args.overwrite, progress=not args.quiet)
    print(f"{args.store}: {summary.chains} chains with {summary.dim}-d features ({summary.source}); "
          f"{summary.attached} written now, {summary.failures} failures (see {args.store}/lm_failures.jsonl)")
    return 0


def _go_benchmark(args: argparse.Namespace) -> int:
    from vabsnet.bench.go_labels import build_go_benchmark

    info = build_go_benchmark(args.store, args.out, source=args.source, min_train=args.min_train, seed=args.seed)
    print(f"{args.out}: {info['chains']} chains, mapped per ontology {info['mapped']}; terms {info['terms']}; "
          f"splits {info['splits']}; test chains below each identity cutoff {info['test_below']}")
    return 0


def _add_max_chain_residues(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-chain-residues", type=int, default=MAX_CHAIN_RESIDUES,
                   help="a file with a longer chain is skipped with that reason")
    p.add_argument("--shard", metavar="K/N", help="only inputs K, K+N, K+2N, ... of the sorted input list "
                   "(K = 0..N-1, e.g. a SLURM array index): N jobs cover every input once")


def _shard(args: argparse.Namespace) -> tuple[int, int] | None:
    from vabsnet.data.prepare import parse_shard

    return parse_shard(args.shard) if args.shard else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vabsnet", description="Bi-level protein representation learning.")
    parser.add_argument("--version", action="version", version=f"vabsnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="the main job: prepare the bundled corpus, pre-train span/single/residue/"
                       "residue-only encoders (and span with the vector edge encoder), fine-tune binding "
                       "sites from each and from scratch, report")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--budget", choices=["small", "full"], default="small",
                   help="small: about 10 minutes on 2 CPU cores; full: longer runs, 5 seeds")
    p.add_argument("--workers", type=int, default=2, help="processes for preparing the corpus")
    p.add_argument("--jobs", type=int, help="training runs at once, each in its own process with cores/jobs "
                   "threads (default: 2 on a machine with 2 or more cores; 1 shows step bars)")
    p.add_argument("--ablations", action="store_true",
                   help="also span with the reference code's dense distance loss and with raw-SASA L1 (longer)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_demo)

    p = sub.add_parser("prepare", help="read structure files into a dataset store (resumable)")
    p.add_argument("inputs", nargs="+", help="files, directories, list files (.txt), or 'bundled'")
    p.add_argument("--out", required=True, help="store directory")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--chains-per-entry", choices=["all", "first"], default="all")
    p.add_argument("--min-residues", type=int, default=1)
    _add_max_chain_residues(p)
    p.add_argument("--lm-features", metavar="DIR", help="attach language-model features from esm-extract output "
                   "(labels <entry>_<chain>, or the same sequence); chains without matching ones are removed")
    p.add_argument("--lm-layer", type=int, help="layer to read from the esm-extract files (default: the last)")
    p.add_argument("--modelled-sidechains", action="store_true", help="flag every record's side chains as "
                   "modelled, not experimental (scripts/structuredb_fullatom.py output)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("lm-features", help="attach ESM-2 language-model features to a store (fair-esm, local "
                       "weights), or import esm-extract output; resumable")
    p.add_argument("store")
    p.add_argument("--model", default="esm2_t33_650M_UR50D",
                   help="fair-esm model name (read from its local cache, never downloaded) or a .pt path")
    p.add_argument("--from", dest="source", metavar="DIR", help="import esm-extract output instead of computing")
    p.add_argument("--fasta", metavar="FILE", help="only write the store's sequences as FASTA for esm-extract")
    p.add_argument("--layer", type=int, help="representation layer (default: the last; the paper uses 33 of 33)")
    p.add_argument("--device", default="auto", help="auto (CUDA when available) | cpu | cuda[:N]")
    p.add_argument("--max-tokens", type=int, default=4096, help="tokens per ESM batch")
    p.add_argument("--overwrite", action="store_true", help="recompute chains that already have features")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_lm_features)

    p = sub.add_parser("go-benchmark", help="GO labels for a store's chains from Debian's metastudent-data "
                       "(MMseqs2 mapping to Swiss-Prot, propagation, identity splits), DeepFRI layout")
    p.add_argument("store")
    p.add_argument("--out", required=True, help="folder for nrPDB-GO_annot.tsv, split lists, test CSV")
    p.add_argument("--source", default="/usr/share/metastudent-data/dataset_201401")
    p.add_argument("--min-train", type=int, default=10, help="keep terms on at least this many train chains")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_go_benchmark)

    p = sub.add_parser("split", help="sequence-identity train/valid/test split of a store (MMseqs2)")
    p.add_argument("store")
    p.add_argument("--identity", type=float, default=0.3)
    p.add_argument("--fractions", default="0.8,0.1,0.1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hold-out", metavar="DIR",
                   help="a DeepFRI-layout benchmark (e.g. from go-benchmark): clusters holding any of its valid "
                   "or test chains go to test whole, so pre-training on train never sees them")
    p.set_defaults(func=_split)

    p = sub.add_parser("pretrain", help="pre-train an encoder (SMPC span masking or an ablation); resumable")
    p.add_argument("--store", required=True)
    p.add_argument("--mask", choices=MASKS,
                   help="span (SMPC, default); single: scattered residues reduced to a noised CA, as span; "
                   "residue: type only, atoms kept (leaks); residue-only: CA atoms only")
    p.add_argument("--out", required=True, help="run directory")
    _add_training(p)
    p.set_defaults(func=_pretrain)

    p = sub.add_parser("finetune", help="train a task head (binding-site, ec, go-*) on a store's splits")
    p.add_argument("--task", default="binding-site", choices=sorted(TASKS))
    p.add_argument("--labels", help="DeepFRI/TorchDrug folder (nrPDB-EC_annot.tsv / nrPDB-GO_annot.tsv, split "
                   "lists, test CSV); without it, ec uses the EC numbers in the structure headers")
    p.add_argument("--test-cutoff", type=float, choices=CUTOFFS,
                   help="DeepFRI test chains kept below this identity to train")
    p.add_argument("--store", required=True)
    p.add_argument("--encoder", "--init", dest="encoder",
                   help="a pre-trained RUN/encoder.safetensors or RUN directory (random initialisation when absent)")
    p.add_argument("--freeze-encoder", action="store_true")
    p.add_argument("--out", required=True)
    _add_training(p)
    p.set_defaults(func=_finetune)

    p = sub.add_parser("evaluate", help="metrics of a fine-tuned run on a split")
    p.add_argument("--run", required=True)
    p.add_argument("--store", required=True)
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    _add_inference(p)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("predict", help="predictions of a fine-tuned model")
    p.add_argument("task", choices=sorted(TASKS))
    p.add_argument("--run", "--checkpoint", dest="run", required=True, help="the fine-tuned run directory")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--out", required=True)
    _add_max_chain_residues(p)
    _add_inference(p)
    p.add_argument("--quiet", action="store_true")
    _add_lm_input(p)
    p.set_defaults(func=_predict)

    p = sub.add_parser("pockets", help="ranked binding pockets (CSV + PDB with pocket pseudo-atoms) from a "
                       "fine-tuned binding-site model")
    p.add_argument("--run", "--checkpoint", dest="run", required=True, help="the fine-tuned binding-site run directory")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--out", required=True)
    cut = p.add_mutually_exclusive_group()
    cut.add_argument("--min-probability", type=float,
                     help="atoms at or above it form pockets (default: the run's calibrated threshold)")
    cut.add_argument("--top-fraction", type=float,
                     help="instead: each chain's top fraction of atoms by probability (e.g. 0.05)")
    p.add_argument("--link", type=float, default=3.0, help="single-linkage distance between pocket atoms (A)")
    p.add_argument("--min-atoms", type=int, default=5, help="smallest pocket, in atoms")
    _add_max_chain_residues(p)
    _add_inference(p)
    p.add_argument("--quiet", action="store_true")
    _add_lm_input(p)
    p.set_defaults(func=_pockets)

    p = sub.add_parser("dock", help="AutoDock Vina in the boxes of the top predicted pockets (needs the dock extra)")
    p.add_argument("receptor", help="a structure file (its protein chains are the receptor)")
    ligand = p.add_mutually_exclusive_group(required=True)
    ligand.add_argument("--ligand", help="an SDF file (first molecule)")
    ligand.add_argument("--smiles", help="a SMILES string (one conformer generated with RDKit, seeded)")
    p.add_argument("--out", required=True)
    p.add_argument("--run", "--checkpoint", dest="run", help="a fine-tuned binding-site run: dock in its top-k pockets")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--min-probability", type=float, help="pocket atoms threshold (default: the run's calibrated one)")
    p.add_argument("--box", help="also dock in this box: centre x,y,z then size x,y,z (A)")
    p.add_argument("--blind", action="store_true", help="also dock in a box around the whole protein")
    p.add_argument("--exhaustiveness", type=int, default=8)
    p.add_argument("--poses", type=int, default=9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", type=int, default=0, help="Vina threads (0: all)")
    p.add_argument("--device", default="auto", help="for the pocket model")
    p.set_defaults(func=_dock)

    p = sub.add_parser("embed", help="per-residue, per-atom and per-protein embeddings of structure files")
    p.add_argument("--encoder", "--checkpoint", dest="encoder", required=True,
                   help="a pre-trained RUN/encoder.safetensors, or the RUN directory (config.json beside it)")
    p.add_argument("inputs", nargs="+", help="files, directories, list files (.txt), or 'bundled'")
    p.add_argument("--out", required=True)
    p.add_argument("--format", choices=["pt", "h5"], default="pt")
    _add_max_chain_residues(p)
    _add_inference(p)
    p.add_argument("--quiet", action="store_true")
    _add_lm_input(p)
    p.set_defaults(func=_embed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except VabsnetError as exc:
        print(f"vabsnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vabsnet {args.command}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
