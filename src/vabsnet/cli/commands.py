"""The command line's handlers: each parses nothing itself and calls one library function (flags:
:mod:`vabsnet.cli.parser`)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from vabsnet.errors import VabsnetError

if TYPE_CHECKING:
    from vabsnet.inference import FilesSummary


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


def _sets(args: argparse.Namespace) -> dict[str, object]:
    from vabsnet.config import parse_overrides

    try:
        return parse_overrides(args.set or [])
    except ValueError as exc:
        raise VabsnetError(str(exc)) from None


def _config(args: argparse.Namespace, **flags: object) -> object:
    """The preset (or ``--config FILE``), then the flags that were given (None = not given), then ``--set``; a
    key given both by a flag and by ``--set`` is an error rather than a guess."""
    from vabsnet.config import Config, preset

    sets = _sets(args)
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
    given = {k for k, v in flags.items() if v is not None} | set(_sets(args))
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


def _files_options(args: argparse.Namespace) -> dict:
    """The options every command over structure files shares (see ``parser._add_inference`` and friends)."""
    return {"progress": not args.quiet, "max_chain_residues": args.max_chain_residues, "device": args.device,
            "precision": args.precision, "atom_budget": args.atom_budget, "lm_features": args.lm_features,
            "shard": _shard(args)}


def _files_done(args: argparse.Namespace, summary: FilesSummary) -> None:
    print(f"{args.out}: {summary.chains} chains from {summary.files} files; {summary.failures} failures "
          f"(see {args.out}/failures.jsonl)")


def _predict(args: argparse.Namespace) -> int:
    from vabsnet.predict import predict_files

    _files_done(args, predict_files(args.task, args.run, args.inputs, args.out, **_files_options(args)))
    return 0


def _pockets(args: argparse.Namespace) -> int:
    from vabsnet.pockets import pocket_files, pocket_method

    summary, threshold = pocket_files(args.run, args.inputs, args.out, min_probability=args.min_probability,
                                      link=args.link, min_atoms=args.min_atoms, top_fraction=args.top_fraction,
                                      method=args.method, **_files_options(args))
    atoms = pocket_method(args.method, args.min_probability, args.top_fraction) == "atoms"
    cut = ("cavities ranked by the pocket scorer" if not atoms
           else f"the top {args.top_fraction:g} of each chain's atoms" if args.top_fraction is not None
           else f"atoms with probability >= {threshold:.3f}")
    link = f", linked within {args.link:g} A" if atoms else ""
    print(f"{args.out}: pockets of {summary.chains} chains from {summary.files} files ({cut}{link}); "
          f"{summary.failures} failures "
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

    _files_done(args, embed_files(args.encoder, args.inputs, args.out, fmt=args.format, **_files_options(args)))
    return 0


def _models(args: argparse.Namespace) -> int:
    from vabsnet.runtime.shipped import shipped_models

    models = shipped_models()
    if args.json:
        print(json.dumps({name: card.card for name, card in models.items()}, indent=2))
        return 0
    if not models:
        print("no models ship with this installation")
        return 0
    for name, card in models.items():
        figures = ", ".join(f"{k} {v:.3f}" for k, v in card.headline.items())
        size = card.weights.stat().st_size / 1e6
        print(f"{name:<20} {card.kind:<13} {card.version:<8} {size:5.1f} MB  sha256 {card.sha256[:12]}  {figures}\n"
              f"{'':<20} {card.summary}\n{'':<20} card: {card.path / 'card.json'}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from vabsnet.demo import run_demo

    run_demo(args.out, args.budget, progress=not args.quiet, workers=args.workers, ablations=args.ablations,
             jobs=args.jobs)
    return 0


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


def _shard(args: argparse.Namespace) -> tuple[int, int] | None:
    from vabsnet.data.prepare import parse_shard

    return parse_shard(args.shard) if args.shard else None


HANDLERS = {
    "demo": _demo,
    "prepare": _prepare,
    "lm-features": _lm_features,
    "go-benchmark": _go_benchmark,
    "split": _split,
    "pretrain": _pretrain,
    "finetune": _finetune,
    "evaluate": _evaluate,
    "predict": _predict,
    "pockets": _pockets,
    "dock": _dock,
    "embed": _embed,
    "models": _models,
}
