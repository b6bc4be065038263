"""``reprlab`` sub-commands of the vision domain (registered by reprlab.cli.main).

Two families live here, each in its own module: reconstruction/generative models
(``autoencoder``, ``rbm``, ``vae``: :mod:`reprlab.vision.cli_generative`) and contrastive
learning (``simclr``: :mod:`reprlab.vision.cli_simclr`).
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

_FAMILIES = ("reprlab.vision.cli_generative", "reprlab.vision.cli_simclr")


def _modules():
    for name in _FAMILIES:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise


def register(sub: argparse._SubParsersAction) -> None:
    for module in _modules():
        module.register(sub)


def demo(out_dir: Path) -> str:
    return "\n".join(m.demo(out_dir) for m in _modules() if hasattr(m, "demo"))
