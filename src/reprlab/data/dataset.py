"""In-memory data sets: :class:`ArrayDataset`, the ``(x, y)`` pairs every image loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from reprlab.errors import DataError


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

    def subset(self, indices: torch.Tensor | list[int]) -> ArrayDataset:
        """The items at ``indices``, in that order."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return ArrayDataset(self.x[idx], self.y[idx], self.classes, self.name)

    def head(self, n: int | None) -> ArrayDataset:
        """The first ``n`` items (all of them when ``n`` is None or at least ``len(self)``)."""
        return self if n is None or n >= len(self) else self.subset(torch.arange(n))


__all__ = ["ArrayDataset"]
