"""The ``snngen`` command line (``python -m snngen``).

One module per command family registers its subcommands; :mod:`.common` holds what they share.
Every user error ends the same way: one line on stderr, ``snngen <command>: error: <what>``, naming
the flag or field, the value and what is allowed; exit status 2; no traceback; no output file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import InputError
from . import board, explore, hardware, network, quant
from .common import EXIT_USAGE, Parser, as_flag

__all__ = ["build_parser", "main"]

# In the order `snngen --help` lists them: the pipeline from a network to a board.
FAMILIES = (network, hardware, explore, quant, board)


def build_parser() -> argparse.ArgumentParser:
    """The ``snngen`` parser with every command family's subcommands."""
    parser = Parser(
        prog="snngen",
        description="Hardware generator for quantized, integer-state spiking neural networks. "
                    "The integer semantics are in docs/semantics.md.",
    )
    parser.add_argument("--version", action="version", version=f"snngen {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for family in FAMILIES:
        family.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``snngen`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # --help, --version and usage errors: argparse already printed; report its status.
        return exit_.code if isinstance(exit_.code, int) else 0
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    # A subcommand's errors name it in full (`snngen board build: error: …`), as its tool
    # errors do.
    command = " ".join(filter(None, (args.command, getattr(args, "board_command", None))))
    try:
        return handler(args)
    except InputError as error:
        print(f"snngen {command}: error: {as_flag(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as interrupt:
        detail = f": {interrupt}" if str(interrupt) else ""
        print(f"snngen {command}: interrupted{detail}", file=sys.stderr)
        return 130
