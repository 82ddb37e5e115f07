"""Command-line interface: each sub-command parses its flags and calls one library function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vabsnet import __version__
from vabsnet.errors import VabsnetError


def _prepare(args: argparse.Namespace) -> int:
    from vabsnet.data.prepare import PrepareOptions, prepare

    options = PrepareOptions(chains_per_entry=args.chains_per_entry, min_residues=args.min_residues,
                             max_chain_residues=args.max_chain_residues)
    summary = prepare(args.inputs, args.out, workers=args.workers, options=options,
                      progress=not args.quiet)
    print(f"{args.out}: {summary.entries} entries, {summary.chains} chains, {summary.residues} residues, "
          f"{summary.atoms} atoms; {summary.failures} failures (see {args.out}/failures.jsonl); "
          f"{summary.skipped_done} inputs already done; {summary.seconds:.1f} s")
    return 0


def _split(args: argparse.Namespace) -> int:
    from vabsnet.data.splits import split_store

    fractions = tuple(float(x) for x in args.fractions.split(","))
    result = split_store(args.store, identity=args.identity, fractions=fractions, seed=args.seed)  # type: ignore[arg-type]
    print(f"{args.store}/splits.json: {result['num_clusters']} clusters at {args.identity:.0%} identity; "
          + ", ".join(f"{k} {v}" for k, v in result["counts"].items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vabsnet", description="Bi-level protein representation learning.")
    parser.add_argument("--version", action="version", version=f"vabsnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="read structure files into a dataset store (resumable)")
    p.add_argument("inputs", nargs="+", help="files, directories, list files (.txt), or 'bundled'")
    p.add_argument("--out", required=True, help="store directory")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--chains-per-entry", choices=["all", "first"], default="all")
    p.add_argument("--min-residues", type=int, default=1)
    p.add_argument("--max-chain-residues", type=int, default=10_000)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("split", help="sequence-identity train/valid/test split of a store (MMseqs2)")
    p.add_argument("store")
    p.add_argument("--identity", type=float, default=0.3)
    p.add_argument("--fractions", default="0.8,0.1,0.1")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_split)
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
