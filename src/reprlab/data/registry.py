"""Named data sets behind one loader: ``load_dataset("digits")``, ``load_dataset("fashion-mnist")``.

Every loader returns an :class:`~reprlab.data.dataset.ArrayDataset` (float images in [0, 1] shaped
``(N, C, H, W)``, integer labels) and reads only local files: bundled package data or files
installed by a system package. A missing optional data set raises :class:`MissingDataError` with
the install command. The built-in loaders live in :mod:`reprlab.data.images`; this module imports
them (never the other way round) and :func:`register_dataset` adds more.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reprlab.data import images
from reprlab.data.dataset import ArrayDataset
from reprlab.errors import DataError, MissingDataError

Loader = Callable[..., ArrayDataset]
_REGISTRY: dict[str, Loader] = {
    "digits": images.load_digits,
    "fashion-mnist": images.load_fashion_mnist,
    "mnist": images.load_mnist,
}


def register_dataset(name: str) -> Callable[[Loader], Loader]:
    """Decorator: make ``fn(split=..., path=...)`` available as ``load_dataset(name)``."""
    def wrap(fn: Loader) -> Loader:
        _REGISTRY[name] = fn
        return fn
    return wrap


def available_datasets() -> list[str]:
    return sorted(_REGISTRY)


def load_dataset(name: str, split: str = "train", path: str | Path | None = None) -> ArrayDataset:
    """Load a registered data set by name, or MNIST-format IDX files from a directory path.

    Parameters
    ----------
    name: a registered name (``digits``, ``fashion-mnist``, ``mnist``) or a directory holding
        ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``.
    split: ``train`` or ``test``.
    path: directory overriding the default location of a named data set.
    """
    if split not in ("train", "test"):
        raise DataError(f"split={split!r}: choose 'train' or 'test'")
    if name in _REGISTRY:
        return _REGISTRY[name](split=split, path=path)
    if Path(name).is_dir():
        return images.load_idx_dir(Path(name), split=split)
    raise MissingDataError(f"unknown data set {name!r}: choose one of {', '.join(available_datasets())} "
                           "or give a directory of MNIST-format IDX files")


__all__ = ["register_dataset", "available_datasets", "load_dataset"]
