"""A resumable, shardable sampler: deterministic order from (seed, epoch), startable mid-epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Index order for one process of a data-parallel run.

    Epoch ``e`` permutes ``range(n)`` with a generator seeded by ``seed + e`` (or keeps the order
    when ``shuffle=False``). The global batch of step ``k`` is ``perm[k*B:(k+1)*B]`` with
    ``B = W * batch_size``, and rank ``r`` of ``W`` takes its ``r``-th contiguous slice of
    ``batch_size`` indices, so one process with batch ``B`` and ``W`` processes with batch
    ``B/W`` see the same samples per step, and the ranks' batches gathered in rank order are the
    single process's batch in its order (what batch statistics and per-position random views
    need to match). A last, partial global batch is dealt out every ``W``-th index. ``start``
    skips samples already consumed in the current epoch (per process) when resuming.
    """

    def __init__(self, n: int, *, shuffle: bool = True, seed: int = 0, rank: int = 0,
                 world_size: int = 1, drop_last: bool = True, batch_size: int = 1):
        self.n, self.shuffle, self.seed = n, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.batch_size = batch_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def _indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            perm = torch.randperm(self.n, generator=g).tolist()
        else:
            perm = list(range(self.n))
        w, b = self.world_size, self.batch_size
        full = self.n // (w * b) * (w * b)  # whole global batches: contiguous slices per rank
        out = [i for k in range(0, full, w * b) for i in perm[k + self.rank * b:k + (self.rank + 1) * b]]
        usable = (self.n // w) * w if self.drop_last else self.n
        return out + perm[full:max(full, usable)][self.rank::w]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.start:])

    def __len__(self) -> int:
        return max(0, len(self._indices()) - self.start)
