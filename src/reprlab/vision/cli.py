"""``reprlab`` sub-commands of the vision domain (registered by reprlab.cli.main).

Each family registers its own verbs: ``autoencoder``, ``rbm`` and ``vae``
(:mod:`reprlab.vision.generative.cli`) and ``simclr`` (:mod:`reprlab.vision.contrastive.cli`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reprlab.vision.contrastive import cli as contrastive_cli
from reprlab.vision.generative import cli as generative_cli

_FAMILIES = (generative_cli, contrastive_cli)


def register(sub: argparse._SubParsersAction) -> None:
    for module in _FAMILIES:
        module.register(sub)


def demo(out_dir: Path) -> str:
    return "\n".join(m.demo(out_dir) for m in _FAMILIES)
