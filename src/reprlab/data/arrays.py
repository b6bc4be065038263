"""Numeric matrices from files: ``.npy`` (never pickled objects) or delimited text."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reprlab.errors import DataError, MissingDataError


def read_matrix(path: str | Path) -> np.ndarray:
    """A ``.npy`` array (``allow_pickle=False``) or a numeric ``.csv``/``.tsv``/``.txt`` table, at least 2-D.

    Raises
    ------
    MissingDataError
        When the file does not exist.
    DataError
        For another suffix, text that is not numeric (header rows, text columns), or an object array.
    """
    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"{path}: no such file; give a .npy or .csv matrix")
    if path.suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as e:
            raise DataError(f"{path}: not a plain numeric .npy array ({e}); save it with numpy.save") from None
    if path.suffix in (".csv", ".txt", ".tsv"):
        try:
            return np.loadtxt(path, delimiter="\t" if path.suffix == ".tsv" else ",", ndmin=2)
        except ValueError as e:
            raise DataError(f"{path}: not a numeric matrix ({e}); remove header rows/text columns") from None
    raise DataError(f"{path}: unknown format {path.suffix!r}; use .npy or .csv")


def save_npy(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as ``.npy`` atomically (a reader never sees half a file)."""
    from reprlab.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(array), allow_pickle=False)
    return path


__all__ = ["read_matrix", "save_npy"]
