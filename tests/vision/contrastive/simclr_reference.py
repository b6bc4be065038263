"""Slow reference implementations for the SimCLR tests, written from the paper, loop by loop.

``nt_xent_loop`` transcribes Algorithm 1 of Chen et al. (2020), https://arxiv.org/abs/2002.05709:
for k in 1..N the views 2k-1 and 2k of image k; s_ij = z_i.z_j / (|z_i| |z_j|);
l(i, j) = -log exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau); L = 1/(2N) sum_k [l(2k-1, 2k) + l(2k, 2k-1)].
It works on torch tensors element by element so autograd gives the reference gradient too.
"""

from __future__ import annotations

import math

import torch


def nt_xent_loop(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    n = z1.shape[0]
    views = []
    for k in range(n):  # interleave as in Algorithm 1: 2k-1 -> z1[k], 2k -> z2[k]
        views += [z1[k], z2[k]]

    def sim(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u * v).sum() / (u.norm() * v.norm())

    def pair_loss(i: int, j: int) -> torch.Tensor:
        num = torch.exp(sim(views[i], views[j]) / temperature)
        den = sum(torch.exp(sim(views[i], views[k]) / temperature) for k in range(2 * n) if k != i)
        return -torch.log(num / den)

    total = sum(pair_loss(2 * k, 2 * k + 1) + pair_loss(2 * k + 1, 2 * k) for k in range(n))
    return total / (2 * n)


def knn_loop(train_x, train_y, test_x, k: int, temperature: float, num_classes: int) -> list[int]:
    """Weighted cosine kNN (Wu et al. 2018), one test point at a time with plain Python sorting."""
    preds = []
    norms = [math.sqrt(sum(v * v for v in row)) for row in train_x]
    for q in test_x:
        qn = math.sqrt(sum(v * v for v in q))
        sims = [(sum(a * b for a, b in zip(q, row)) / (qn * nrm), i) for i, (row, nrm) in enumerate(zip(train_x, norms))]
        sims.sort(key=lambda t: -t[0])
        votes = [0.0] * num_classes
        for s, i in sims[:k]:
            votes[int(train_y[i])] += math.exp(s / temperature)
        preds.append(max(range(num_classes), key=lambda c: votes[c]))
    return preds
