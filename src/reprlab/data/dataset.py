"""In-memory data sets: :class:`ArrayDataset`, the ``(x, y)`` pairs every image loader returns.

``ArrayDataset`` fetches a whole batch with one indexing op per tensor (``__getitems__``, which
``torch.utils.data.DataLoader`` calls when it exists) instead of one per item plus collation; for
the small models of this package that halves the step time. The loader's ``collate_fn`` must then
be :func:`keep_batch` (the Trainer picks it for any dataset with ``__getitems__``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from reprlab.errors import DataError


def keep_batch(batch: object) -> object:
    """``collate_fn`` for datasets whose ``__getitems__`` already returns a stacked batch."""
    return batch


@dataclass
class ArrayDataset(Dataset):
    """In-memory (x, y) pairs; ``ds[i]`` is ``(x[i], y[i])`` and ``ds.__getitems__(idx)`` ``(x[idx], y[idx])``.

    Attributes
    ----------
    x: Tensor, shape ``(N, ...)`` — images are float32 ``(N, C, H, W)`` in [0, 1].
    y: Tensor, shape ``(N, ...)`` — int64 class labels ``(N,)`` (``-1`` when unlabelled), or any
        tensor paired with ``x`` row by row (a second view, latent factors).
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

    @classmethod
    def unlabelled(cls, x: torch.Tensor, name: str = "") -> ArrayDataset:
        """``x`` with every label ``-1``."""
        return cls(x, torch.full((len(x),), -1, dtype=torch.long), name=name)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """A whole batch, stacked, in one indexing op per tensor (pair with :func:`keep_batch`)."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.x[idx], self.y[idx]

    def subset(self, indices: torch.Tensor | list[int]) -> ArrayDataset:
        """The items at ``indices``, in that order."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return ArrayDataset(self.x[idx], self.y[idx], self.classes, self.name)

    def head(self, n: int | None) -> ArrayDataset:
        """The first ``n`` items (all of them when ``n`` is None or at least ``len(self)``)."""
        return self if n is None or n >= len(self) else self.subset(torch.arange(n))


__all__ = ["ArrayDataset", "keep_batch"]
