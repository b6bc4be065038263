"""Which images a run uses: :class:`DataSpec` (the ``[data]`` table of every image run) and
:func:`load_split`, the one loader behind it.

``name`` is a registered data set (``digits``, ``fashion-mnist``, ``mnist``), a directory of
MNIST-format IDX files, or an image folder ``DIR/<class>/<image>``. An image folder with ``train``
and ``test`` sub-folders uses them as the splits; otherwise a seeded, stratified split is
made (the same split every time), holding out ``data.test_fraction`` (default 0.2) and saying so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reprlab.data.dataset import ArrayDataset
from reprlab.data.folders import load_image_folder
from reprlab.data.registry import available_datasets, load_dataset
from reprlab.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class DataSpec:
    """The data of an image run (TOML table ``[data]``; ``--data X`` sets ``name``)."""

    name: str = "digits"  # digits | fashion-mnist | mnist | a directory of IDX files or of class folders
    path: str | None = None  # directory overriding a named data set's location (e.g. MNIST's IDX files)
    limit: int | None = None  # use only the first N training images (quick runs)
    image_size: int = 32  # image folders: images are resized to image_size x image_size
    strict: bool = False  # image folders: fail on an unreadable file instead of skipping it
    test_fraction: float = 0.2  # class folders without train/ and test/: seeded stratified hold-out share

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"data.limit={self.limit!r}: must be >= 1, or unset for every image")
        if self.image_size < 1:
            raise ConfigError(f"data.image_size={self.image_size!r}: must be >= 1")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"data.test_fraction={self.test_fraction!r}: must be in (0, 1), e.g. 0.2")


def _is_idx_dir(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*-images-idx3-ubyte*"))


def load_split(spec: DataSpec, split: str) -> ArrayDataset:
    """``split`` (``train`` or ``test``) of the data ``spec`` names; the train split cut to ``spec.limit``."""
    path = Path(spec.name)
    if spec.name in available_datasets() or _is_idx_dir(path) or not path.is_dir():
        data = load_dataset(spec.name, split, spec.path)
    elif (path / "train").is_dir() and (path / "test").is_dir():
        data = load_image_folder(path / split, spec.image_size, strict=spec.strict)
    else:
        from sklearn.model_selection import train_test_split

        full = load_image_folder(path, spec.image_size, strict=spec.strict)
        counts = np.bincount(full.y.numpy())
        stratify = full.y.numpy() if counts.min() >= 2 else None
        idx_train, idx_test = train_test_split(np.arange(len(full)), test_size=spec.test_fraction, random_state=0,
                                               stratify=stratify)
        if split == "train":
            log.warning("%s has no train/ and test/ folders: holding out a seeded stratified %d%% (%d of %d images) "
                        "as the test split (data.test_fraction)", path, round(100 * spec.test_fraction),
                        len(idx_test), len(full))
        data = full.subset(torch.from_numpy(idx_train if split == "train" else idx_test))
    return data.head(spec.limit) if split == "train" else data


__all__ = ["DataSpec", "load_split"]
