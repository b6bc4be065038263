"""Quality measures of an embedding map.

- :func:`trustworthiness` and :func:`continuity` — Venna & Kaski (2001), "Neighborhood
  preservation in nonlinear projection methods: an experimental study", ICANN:

      T(k) = 1 - 2 / (N k (2N - 3k - 1)) sum_i sum_{j in U_k(i)} (r(i, j) - k),

  where U_k(i) are the map's k nearest neighbours of i that are not among its k input neighbours
  and r(i, j) is j's rank among i's input neighbours. Continuity swaps the roles of input and map.
- :func:`knn_preservation` — mean fraction of each point's k input neighbours kept in the map.
- :func:`map_knn_accuracy` — leave-one-out k-nearest-neighbour classification accuracy in the map.
- :func:`kl_divergence` — KL(P || Q) of a t-SNE map.
- :func:`strand_ratio` — how one-dimensional each class is: the ratio of the second to the first
  principal variance of its map points (0 is a line, 1 is round), the LLE "strands" measure.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from reprlab.embed.affinity import nearest_neighbors
from reprlab.errors import ConfigError, DataError


def _ranks(x: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """(N, N) rank of j among i's neighbours in ``x`` (1 = nearest; i itself gets 0)."""
    from reprlab.embed.affinity import pairwise_sq_distances

    d = x ** 2 if metric == "precomputed" else pairwise_sq_distances(x, metric)
    np.fill_diagonal(d, -np.inf)
    order = np.argsort(d, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(len(x))[:, None]
    ranks[rows, order] = np.arange(len(x))[None, :]
    return ranks


def _rank_error(ranks_a: np.ndarray, x_b: np.ndarray, k: int, metric_b: str) -> float:
    n = len(ranks_a)
    if not 1 <= k < n / 2:
        raise ConfigError(f"k={k} must satisfy 1 <= k < n_samples / 2 = {n / 2}")
    nn_b, _ = nearest_neighbors(x_b, k, metric_b)  # (N, k)
    r = np.take_along_axis(ranks_a, nn_b, axis=1)  # ranks in space a of space-b neighbours
    penalty = np.clip(r - k, 0, None).sum()
    return 1.0 - 2.0 / (n * k * (2 * n - 3 * k - 1)) * penalty


def trustworthiness(x: np.ndarray, y: np.ndarray, k: int = 5, metric: str = "euclidean") -> float:
    """Venna & Kaski trustworthiness in [0, 1]: are the map's neighbours true neighbours? O(N^2) memory."""
    return _rank_error(_ranks(np.asarray(x, float), metric), np.asarray(y, float), k, "euclidean")


def continuity(x: np.ndarray, y: np.ndarray, k: int = 5, metric: str = "euclidean") -> float:
    """Venna & Kaski continuity in [0, 1]: are the input's neighbours kept in the map?"""
    return _rank_error(_ranks(np.asarray(y, float)), np.asarray(x, float), k, metric)


def knn_preservation(x: np.ndarray, y: np.ndarray, k: int = 10, metric: str = "euclidean") -> float:
    """Mean fraction of each point's k nearest input neighbours that are among its k map neighbours."""
    a, _ = nearest_neighbors(np.asarray(x, float), k, metric)
    b, _ = nearest_neighbors(np.asarray(y, float), k)
    same = (a[:, :, None] == b[:, None, :]).any(-1)  # (N, k)
    return float(same.mean())


def map_knn_accuracy(y: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out accuracy of a majority vote among each point's k nearest map neighbours.

    ``k`` is capped at ``N - 1`` so small maps are scored over every other point.
    """
    labels = np.asarray(labels)
    if len(y) < 2:
        raise DataError(f"map_knn_accuracy needs at least 2 points, got {len(y)}")
    k = min(k, len(y) - 1)
    nn, _ = nearest_neighbors(np.asarray(y, float), k)
    classes, coded = np.unique(labels, return_inverse=True)
    votes = np.zeros((len(y), len(classes)))
    np.add.at(votes, (np.repeat(np.arange(len(y)), k), coded[nn].ravel()), 1.0)
    # ties go to the smallest class label, as in sklearn's KNeighborsClassifier
    pred = votes.argmax(1)
    return float((pred == coded).mean())


def kl_divergence(P, y: np.ndarray, dof: float = 1.0) -> float:
    """KL(P || Q) of a map ``y`` (N, d) under the Student-t kernel, exact O(N^2)."""
    from reprlab.embed.gradients import kl_gradient

    kl, _ = kl_gradient(y, sp.csr_matrix(P), "exact", dof)
    return kl


def strand_ratio(y: np.ndarray, labels: np.ndarray) -> dict:
    """Per-class ratio lambda_2 / lambda_1 of the map's principal variances, and their median."""
    labels = np.asarray(labels)
    ratios = {}
    for c in np.unique(labels):
        pts = y[labels == c]
        if len(pts) < 3:
            continue
        ev = np.sort(np.linalg.eigvalsh(np.cov(pts.T)))[::-1]
        ratios[c.item() if hasattr(c, "item") else c] = float(ev[1] / ev[0]) if ev[0] > 0 else 0.0
    return {"per_class": ratios, "median": float(np.median(list(ratios.values())))}
