"""Command-line interface: ``vabsnet COMMAND ...``; each command parses its flags
(:mod:`vabsnet.cli.parser`) and calls one library function (:mod:`vabsnet.cli.commands`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from vabsnet.cli.commands import HANDLERS, _config
from vabsnet.cli.parser import build_parser
from vabsnet.errors import VabsnetError


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(HANDLERS[args.command](args))
    except VabsnetError as exc:
        print(f"vabsnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vabsnet {args.command}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


__all__ = ["_config", "build_parser", "main"]
