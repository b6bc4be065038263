"""``reprlab`` sub-commands of the embed domain (registered by reprlab.cli.main)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this domain's sub-commands to the top-level parser (none yet)."""
