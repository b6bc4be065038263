"""Clustering scores against known classes (labels used only to evaluate, never to fit)."""

from __future__ import annotations

import numpy as np

from reprlab.errors import DataError


def cluster_purity(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Purity: each cluster votes for its most frequent class; the fraction of points that agree.

    ``purity = (1/N) sum_clusters max_class |cluster ∩ class|`` (Manning, Raghavan & Schütze 2008,
    *Introduction to Information Retrieval*, eq. 16.1). 1 for a perfect clustering; at least the
    largest class's share; it grows with the number of clusters, so compare at equal K.

    Raises
    ------
    DataError
        When the two label arrays differ in length or are empty.
    """
    t, p = np.asarray(labels_true).ravel(), np.asarray(labels_pred).ravel()
    if len(t) != len(p) or len(t) == 0:
        raise DataError(f"cluster_purity: {len(t)} true labels and {len(p)} cluster labels; give one of each per point")
    _, ti = np.unique(t, return_inverse=True)
    _, pi = np.unique(p, return_inverse=True)
    table = np.zeros((pi.max() + 1, ti.max() + 1), dtype=np.int64)
    np.add.at(table, (pi, ti), 1)
    return float(table.max(1).sum() / len(t))


__all__ = ["cluster_purity"]
