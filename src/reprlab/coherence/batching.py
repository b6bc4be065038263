"""Whole-batch fetching for in-memory tensors (one indexing op per batch instead of B).

``torch.utils.data.DataLoader`` calls ``dataset.__getitems__(indices)`` when it exists; the tensors
returned are already stacked, so the loader's ``collate_fn`` must be :func:`keep_batch`. For the tiny
models of this package this halves the step time against per-item indexing plus collation.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from reprlab.errors import DataError


def keep_batch(batch: object) -> object:
    """``collate_fn`` for datasets whose ``__getitems__`` already returns a stacked batch."""
    return batch


class BatchedTensors(Dataset):
    """Paired tensors indexed along dim 0; ``__getitems__`` returns a tuple of stacked slices."""

    def __init__(self, *tensors: torch.Tensor):
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise DataError(f"BatchedTensors needs tensors of equal length, got "
                            f"{[len(t) for t in tensors]}")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        return tuple(t[i] for t in self.tensors)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return tuple(t[idx] for t in self.tensors)
