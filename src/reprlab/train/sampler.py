"""A resumable, shardable sampler: deterministic order from (seed, epoch), startable mid-epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Index order for one process of a data-parallel run.

    Epoch ``e`` permutes ``range(n)`` with a generator seeded by ``seed + e`` (or keeps the order
    when ``shuffle=False``). The global batch of step ``k`` is ``perm[k*B:(k+1)*B]`` and rank ``r``
    of ``W`` takes every ``W``-th index of it, so one process with batch ``B`` and ``W`` processes
    with batch ``B/W`` see the same samples per step. ``start`` skips samples already consumed in
    the current epoch (per process) when resuming.
    """

    def __init__(self, n: int, *, shuffle: bool = True, seed: int = 0, rank: int = 0,
                 world_size: int = 1, drop_last: bool = True):
        self.n, self.shuffle, self.seed = n, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
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
        usable = (self.n // self.world_size) * self.world_size if self.drop_last else self.n
        return perm[:usable][self.rank::self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.start:])

    def __len__(self) -> int:
        return max(0, len(self._indices()) - self.start)
