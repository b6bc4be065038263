"""Named data sets behind one loader: ``load_dataset("digits")``, ``load_dataset("fashion-mnist")``.

Every loader returns an :class:`ArrayDataset` (float images in [0, 1] shaped ``(N, C, H, W)``,
integer labels) and reads only local files: bundled package data or files installed by a system
package. A missing optional data set raises :class:`MissingDataError` with the install command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import Dataset

from reprlab.errors import DataError, MissingDataError


@dataclass
class ArrayDataset(Dataset):
    """In-memory (x, y) pairs; indexing returns ``(x[i], y[i])``.

    Attributes
    ----------
    x: Tensor, shape ``(N, ...)`` — images are float32 ``(N, C, H, W)`` in [0, 1].
    y: Tensor, shape ``(N,)`` int64 labels (``-1`` when unlabelled).
    classes: label names, when known.
    name: where the data came from (shown in reports).
    """

    x: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise DataError(f"{self.name or 'dataset'}: {len(self.x)} inputs but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]

    def subset(self, indices: torch.Tensor | list[int]) -> "ArrayDataset":
        idx = torch.as_tensor(indices, dtype=torch.long)
        return ArrayDataset(self.x[idx], self.y[idx], self.classes, self.name)


Loader = Callable[..., ArrayDataset]
_REGISTRY: dict[str, Loader] = {}


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
    from reprlab.data import images  # noqa: F401  (registers the image sets)
    if split not in ("train", "test"):
        raise DataError(f"split={split!r}: choose 'train' or 'test'")
    if name in _REGISTRY:
        return _REGISTRY[name](split=split, path=path)
    if Path(name).is_dir():
        return images.load_idx_dir(Path(name), split=split)
    raise MissingDataError(f"unknown data set {name!r}: choose one of {', '.join(available_datasets())} "
                           "or give a directory of MNIST-format IDX files")
