"""``reprlab`` command line: one sub-command group per domain, registered by the domain itself.

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)`` and keeps heavy imports
inside its handlers so ``reprlab --help`` stays fast. A handler returns an exit code (or None).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from reprlab import __version__
from reprlab.errors import ReprlabError

COMMAND_MODULES = (
    "reprlab.cli.info",
    "reprlab.cli.demo",
    "reprlab.report.cli",
    "reprlab.cli.config_cmd",
    "reprlab.tokenizers.cli",
    "reprlab.text.cli",
    "reprlab.pretrain.cli",
    "reprlab.transfer.cli",
    "reprlab.vision.cli",
    "reprlab.coherence.cli",
    "reprlab.embed.cli",
    "reprlab.mixture.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reprlab",
        description="Self-supervised representation learning and transfer (BERT family, SimCLR, "
                    "autoencoders/RBMs/VAE, IMAX/CPC, t-SNE/LLE).")
    parser.add_argument("--version", action="version", version=f"reprlab {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _format_help(parser)
    return parser


def _format_help(parser: argparse.ArgumentParser) -> None:
    """Every command's ``--help`` shows its options' defaults and keeps its examples' line breaks."""
    from reprlab.cli.common import HelpFormatter

    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if action.help is None and action.option_strings and action.default not in (None, False, []):
            action.help = "default: %(default)s"
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                _format_help(child)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    # under torchrun every rank runs the command; rank 0 alone prints its results
    quiet = os.environ.get("RANK", "0") != "0"
    try:
        with open(os.devnull, "w") if quiet else contextlib.nullcontext(sys.stdout) as out, \
                contextlib.redirect_stdout(out):
            code = args.handler(args)
        if not code and args.command not in ("demo", "report"):
            from reprlab.report import refresh_report

            refresh_report(getattr(args, "output", None))  # a training verb's -o: results written after training too
    except ReprlabError as e:
        print(f"reprlab: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a full, read-only or forbidden disk is the user's to fix, not a traceback
        from reprlab.io import disk_error

        err = disk_error(e)
        if err is None:
            raise
        print(f"reprlab: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("reprlab: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
