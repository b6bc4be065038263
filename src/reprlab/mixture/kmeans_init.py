"""k-means++ seeding and Lloyd's k-means in torch: the starting point of EM.

Arthur & Vassilvitskii (2007), "k-means++: the advantages of careful seeding": the first centre is
a uniformly random point; each next one is drawn with probability proportional to its squared
distance ``D(x)^2`` to the nearest centre chosen so far. As in scikit-learn's ``kmeans_plusplus``
(the "greedy" variant), ``2 + floor(log K)`` candidates are drawn per step and the one that lowers
the potential ``sum_x D(x)^2`` most is kept. Lloyd (1982) iterations then alternate nearest-centre
assignment and centre means until the centres move less than ``tol`` times the mean feature
variance (scikit-learn's stopping rule); an emptied cluster is re-seeded at the point farthest
from its centre.
"""

from __future__ import annotations

import math

import torch

from reprlab.mixture.em import chunk_rows, row_slices


def squared_distances(x: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """``|x_n - c_k|^2`` for all pairs, (N, K), clamped at 0 (expanded form; callers centre the data)."""
    d = (x * x).sum(1)[:, None] - 2 * x @ centers.T + (centers * centers).sum(1)[None]
    return d.clamp_min_(0)


def _nearest(x: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance to the nearest centre (N,), its index (N,)), chunked over rows."""
    dist, label = x.new_empty(len(x)), torch.empty(len(x), dtype=torch.long, device=x.device)
    for s in row_slices(len(x), chunk_rows(len(centers), x.shape[1])):
        dist[s], label[s] = squared_distances(x[s], centers).min(1)
    return dist, label


def kmeans_plusplus(x: torch.Tensor, n_clusters: int, *, generator: torch.Generator,
                    n_local_trials: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy k-means++ seeds: ``(centers (K, D), indices (K,))`` of rows of ``x``.

    Random numbers come from ``generator`` (a CPU generator, so seeds agree across devices).
    """
    n = len(x)
    trials = n_local_trials or 2 + int(math.log(n_clusters))
    indices = torch.empty(n_clusters, dtype=torch.long)
    indices[0] = int(torch.randint(n, (1,), generator=generator))
    closest = squared_distances(x, x[indices[:1].to(x.device)])[:, 0]  # (N,)
    potential = closest.sum()
    for c in range(1, n_clusters):
        u = torch.rand(trials, generator=generator, dtype=torch.float64).to(x.device)
        cumulative = torch.cumsum(closest.double(), 0)
        cand = torch.searchsorted(cumulative, u * float(potential)).clamp_max_(n - 1)  # (t,)
        new = torch.minimum(closest[None], squared_distances(x, x[cand]).T)  # (t, N)
        pots = new.sum(1)
        best = int(pots.argmin())
        closest, potential = new[best], pots[best]
        indices[c] = int(cand[best])
    return x[indices.to(x.device)], indices


def kmeans(x: torch.Tensor, n_clusters: int, *, generator: torch.Generator, max_iter: int = 300,
           tol: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Lloyd's k-means from k-means++ seeds: ``(centers (K, D), labels (N,), inertia)``."""
    centers, _ = kmeans_plusplus(x, n_clusters, generator=generator)
    tol_abs = tol * float(x.var(0).mean())
    for _ in range(max_iter):
        dist, labels = _nearest(x, centers)
        counts = torch.bincount(labels, minlength=n_clusters)
        sums = x.new_zeros(n_clusters, x.shape[1]).index_add_(0, labels, x)
        new = sums / counts.clamp_min(1)[:, None].to(x.dtype)
        empty = (counts == 0).nonzero().flatten()
        if len(empty):  # re-seed emptied clusters at the farthest points
            far = dist.topk(len(empty)).indices
            new[empty] = x[far]
        shift = float(((new - centers) ** 2).sum())
        centers = new
        if shift <= tol_abs:
            break
    dist, labels = _nearest(x, centers)
    return centers, labels, float(dist.sum())


__all__ = ["kmeans_plusplus", "kmeans", "squared_distances"]
