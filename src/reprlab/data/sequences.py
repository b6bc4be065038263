"""Synthetic sequence tasks whose answer is one token at a chosen distance from where it is asked.

**Lookback recall** (a generalised first-token recall): ``T - 1`` random symbols, then a query
token ``q_d`` naming a distance d; the answer is the symbol d positions before the query,
``y = x[T - 1 - d]``. With ``d = T - 1`` it is first-token recall. A model reading its answer at
the query position must move one token's identity across exactly d positions, so accuracy
against d measures how far a layer type carries information:

- a causal 1-D CNN sees ``1 + L (k - 1)`` positions (L layers of kernel k) and is at chance beyond;
- an RNN must keep every symbol of the last d steps in its state until the query arrives;
- self-attention reaches any position in one layer (what it needs is a position signal).

Ids: 0 is padding (unused here), ``1..V`` the symbols, ``V + 1 + j`` the query for ``distances[j]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reprlab.errors import ConfigError


@dataclass
class LookbackRecall:
    """A drawn data set: ``ids`` (N, T), ``labels`` (N,) in ``0..V-1``, ``distance`` (N,)."""

    ids: torch.Tensor
    labels: torch.Tensor
    distance: torch.Tensor
    n_symbols: int
    distances: tuple[int, ...]

    @property
    def vocab_size(self) -> int:
        return 1 + self.n_symbols + len(self.distances)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ids[i], self.labels[i]


def lookback_recall(n: int, distances: tuple[int, ...] | list[int], *, n_symbols: int = 8, length: int | None = None,
                    seed: int = 0) -> LookbackRecall:
    """Draw ``n`` sequences; each asks for the symbol at one of ``distances`` (uniformly) before the query.

    Parameters
    ----------
    n : int
    distances : the distances d that may be asked (each >= 1).
    n_symbols : V, the alphabet of the recalled symbols (chance accuracy 1/V).
    length : T (default ``max(distances) + 1``: the longest distance is first-token recall).
    seed : seeds a private generator.
    """
    ds = tuple(int(d) for d in distances)
    t = length or max(ds, default=0) + 1
    if not ds or min(ds) < 1 or max(ds) > t - 1:
        raise ConfigError(f"distances={list(ds)}: need 1 <= d <= length - 1 = {t - 1}")
    if n_symbols < 2 or n < 1:
        raise ConfigError(f"n={n}, n_symbols={n_symbols}: need n >= 1 and n_symbols >= 2")
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, n_symbols + 1, (n, t), generator=g)  # (N, T)
    which = torch.randint(0, len(ds), (n,), generator=g)
    distance = torch.tensor(ds)[which]
    ids[:, -1] = n_symbols + 1 + which  # the query names the distance
    labels = ids[torch.arange(n), t - 1 - distance] - 1  # (N,) symbol index 0..V-1
    return LookbackRecall(ids, labels, distance, n_symbols, ds)


__all__ = ["LookbackRecall", "lookback_recall"]
