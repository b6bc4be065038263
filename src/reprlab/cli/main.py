"""``reprlab`` command line: one sub-command group per domain, registered by the domain itself.

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)`` and keeps heavy imports
inside its handlers so ``reprlab --help`` stays fast. A handler returns an exit code (or None).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from reprlab import __version__
from reprlab.errors import ReprlabError

COMMAND_MODULES = (
    "reprlab.cli.info",
    "reprlab.cli.demo",
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        code = args.handler(args)
    except ReprlabError as e:
        print(f"reprlab: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("reprlab: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
