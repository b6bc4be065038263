"""Perplexity-calibrated input affinities P for SNE and t-SNE.

Hinton & Roweis (2002), "Stochastic Neighbor Embedding", NIPS 15; van der Maaten & Hinton (2008),
"Visualizing Data using t-SNE", JMLR 9:2579-2605.

Each point i gets a Gaussian over the others with a precision beta_i found by bisection so that
the entropy of the row equals log(perplexity):

    p_{j|i} = exp(-beta_i d_ij^2) / sum_{k != i} exp(-beta_i d_ik^2),   H(P_i) = log(perplexity)

and t-SNE symmetrises, ``p_ij = (p_{j|i} + p_{i|j}) / (2 N)``. Only dissimilarities are needed:
``metric="precomputed"`` takes an (N, N) distance matrix (squared inside, exactly as Euclidean
distances are). The sparse variant keeps the ``3 * perplexity`` nearest neighbours of each point
(van der Maaten 2014), found by an exact chunked torch search.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch

from reprlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)

METRICS = ("euclidean", "sqeuclidean", "cosine", "manhattan", "precomputed")


def check_data(x, metric: str = "euclidean", *, estimator: Any = None, reset: bool = True,
               min_samples: int = 1) -> np.ndarray:
    """Validate an input matrix: 2-D, real, finite, float64; square and symmetric if precomputed.

    Errors are :class:`DataError` (a ``ValueError``) with scikit-learn's wording where its estimator
    checks look for it. With ``estimator``, goes through sklearn's ``validate_data``: ``reset=True``
    (``fit``) records ``n_features_in_`` (and ``feature_names_in_`` of a DataFrame), ``reset=False``
    (``transform``) refuses a different feature count. Sparse input is refused with the fix.
    """
    from sklearn.utils.validation import check_array, validate_data

    if metric not in METRICS:
        raise ConfigError(f"metric={metric!r} is not supported; choose one of {', '.join(METRICS)}")
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    name = type(estimator).__name__ if estimator is not None else "this function"
    if sp.issparse(x):
        raise DataError(f"sparse input is not supported by {name}: pass a dense array (X.toarray()), or reduce "
                        "sparse features first, e.g. TruncatedSVD(n_components=50) for TF-IDF")
    arr = x if isinstance(x, np.ndarray) else np.asarray(x)
    if np.iscomplexobj(arr):
        raise DataError("Complex data not supported: pass the real part, absolute values or a real feature map")
    if arr.ndim != 2:
        raise DataError(f"expected a 2-D array (n_samples, n_features), got shape {arr.shape}; Reshape your "
                        "data, e.g. x.reshape(-1, 1) for one feature or x.reshape(1, -1) for one sample")
    kw: dict[str, Any] = dict(dtype=np.float64, ensure_all_finite=False, ensure_min_samples=min_samples)
    try:
        arr = validate_data(estimator, x, reset=reset, **kw) if estimator is not None else check_array(x, **kw)
    except ValueError as e:
        raise DataError(str(e).splitlines()[0]) from None
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(1).sum())
        raise DataError(f"input has NaN or inf in {bad} row(s); drop or impute them first")
    if metric == "precomputed":
        if arr.shape[0] != arr.shape[1]:
            raise DataError(f"metric='precomputed' needs a square (N, N) distance matrix, got shape "
                            f"{arr.shape}; pass distances, not features, or use metric='euclidean'")
        if not np.allclose(arr, arr.T, rtol=1e-6, atol=1e-8):
            raise DataError("metric='precomputed' needs a symmetric distance matrix; symmetrise it, "
                            "e.g. (D + D.T) / 2")
        if (arr < 0).any():
            raise DataError("metric='precomputed' distances must be >= 0")
    return arr


def check_perplexity(perplexity: float, n_samples: int) -> None:
    if not perplexity > 0:
        raise ConfigError(f"perplexity={perplexity} must be > 0")
    if perplexity >= n_samples - 1:
        raise ConfigError(f"perplexity={perplexity} must be smaller than n_samples - 1 = {n_samples - 1}; "
                          f"use a perplexity below {max(1, (n_samples - 1) // 3)}")


def _features(x: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cosine":
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norm > 0, norm, 1.0)
    return x


def _chunk_sq_dist(q: torch.Tensor, r: torch.Tensor, r_sq: torch.Tensor, metric: str) -> torch.Tensor:
    if metric == "manhattan":
        return torch.cdist(q, r, p=1) ** 2
    d = (q * q).sum(1, keepdim=True) - 2 * q @ r.T + r_sq  # (b, M)
    return d.clamp_min_(0)


def pairwise_sq_distances(x: np.ndarray, metric: str = "euclidean", y: np.ndarray | None = None) -> np.ndarray:
    """Dense (N, M) squared dissimilarities; for ``precomputed`` the given distances squared.

    ``sqeuclidean`` returns |x_i - x_j|^2 squared again, i.e. it treats squared distances as the
    dissimilarity (as sklearn does for that metric name).
    """
    if metric == "precomputed":
        return x ** 2
    xf = _features(x, metric)
    yf = xf if y is None else _features(y, metric)
    q, r = torch.from_numpy(xf), torch.from_numpy(yf)
    d = _chunk_sq_dist(q, r, (r * r).sum(1)[None], metric).numpy()
    if y is None:
        np.fill_diagonal(d, 0.0)
    return d ** 2 if metric == "sqeuclidean" else d


def nearest_neighbors(x: np.ndarray, k: int, metric: str = "euclidean", query: np.ndarray | None = None,
                      chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours by chunked brute force in torch (float32 search, float64 distances).

    Returns (indices (Q, k), squared dissimilarities (Q, k)) sorted by distance. Without ``query``
    each point's own index is excluded. With ``metric="precomputed"``, ``x`` is the (N, N) matrix
    (or ``query`` a (Q, N) block of distances to the N reference points).
    """
    self_query = query is None
    if metric == "precomputed":
        block = x if query is None else query
        d = block.astype(np.float64, copy=True)
        if self_query:
            np.fill_diagonal(d, np.inf)
        if k < d.shape[1]:
            idx = np.argpartition(d, k - 1, axis=1)[:, :k]
        else:
            idx = np.tile(np.arange(d.shape[1]), (len(d), 1))
        dist = np.take_along_axis(d, idx, 1)
        order = np.argsort(dist, axis=1)
        return np.take_along_axis(idx, order, 1), np.take_along_axis(dist, order, 1) ** 2
    xf = _features(x, metric)
    qf = xf if query is None else _features(query, metric)
    ref = torch.from_numpy(xf.astype(np.float32))
    qry = ref if self_query else torch.from_numpy(qf.astype(np.float32))
    ref_sq = (ref * ref).sum(1)[None]  # (1, N)
    n_q = len(qry)
    chunk = chunk or max(64, int(16e6 // max(len(ref), 1)))  # ~64 MB of float32 distances per block
    out_idx = np.empty((n_q, k), dtype=np.int64)
    out_d = np.empty((n_q, k))
    for start in range(0, n_q, chunk):
        q = qry[start:start + chunk]
        if metric == "manhattan":
            dq = torch.cdist(q, ref, p=1)
        else:  # |r|^2 - 2 q.r ranks like |q - r|^2 (the row constant |q|^2 is left out): one pass
            dq = torch.addmm(ref_sq, q, ref.T, alpha=-2.0)  # (b, N)
        if self_query:
            rows = torch.arange(len(q))
            dq[rows, rows + start] = float("inf")
        idx = torch.topk(dq, k, dim=1, largest=False).indices.numpy()  # (b, k)
        out_idx[start:start + chunk], out_d[start:start + chunk] = _sorted_sq(qf[start:start + chunk], xf, idx,
                                                                              metric)
    return out_idx, out_d


def _sorted_sq(qf: np.ndarray, xf: np.ndarray, idx: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Neighbours ``idx`` (Q, k) of rows ``qf`` sorted by their squared dissimilarity, computed in float64

    (so calibration does not inherit a float32 search's error), and those dissimilarities.
    """
    diff = qf[:, None, :] - xf[idx]  # (Q, k, D)
    dist = np.abs(diff).sum(-1) ** 2 if metric == "manhattan" else (diff ** 2).sum(-1)
    if metric == "sqeuclidean":
        dist = dist ** 2
    order = np.argsort(dist, axis=1, kind="stable")
    return np.take_along_axis(idx, order, 1), np.take_along_axis(dist, order, 1)


def approximate_available() -> bool:
    """Whether pynndescent (the approximate search openTSNE uses) is installed."""
    import importlib.util

    return importlib.util.find_spec("pynndescent") is not None


def approximate_neighbors(x: np.ndarray, k: int, metric: str = "euclidean",
                          random_state: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k nearest neighbours of every point by nearest-neighbour descent (pynndescent).

    Dong, Moses & Li (2011), "Efficient k-nearest neighbor graph construction for generic
    similarity measures", WWW; the library openTSNE uses for its ``neighbors="pynndescent"``.
    Same return as :func:`nearest_neighbors` without ``query``: (indices (N, k), squared
    dissimilarities (N, k)), own index excluded, distances recomputed in float64. Measured
    speed and recall against the exact search: docs/benchmarks.md, "Approximate neighbours".
    """
    check_neighbors("approx", metric)
    if not approximate_available():
        raise ConfigError("neighbors='approx' needs pynndescent: pip install 'reprlab[ann]' (or use "
                          "neighbors='exact')")
    import numba
    from pynndescent import NNDescent

    xf = _features(x, metric).astype(np.float32)
    index = NNDescent(xf, metric="manhattan" if metric == "manhattan" else "euclidean", n_neighbors=k + 1,
                      random_state=random_state, n_jobs=numba.get_num_threads(), low_memory=True,
                      compressed=True)
    found, _ = index.neighbor_graph
    found = found.astype(np.int64)
    own = found == np.arange(len(x))[:, None]
    # drop each row's own index; a row where the search missed it (duplicates) drops its farthest
    keep = ~own
    keep[~own.any(1), -1] = False
    idx = found[keep].reshape(len(x), k)
    return _sorted_sq(_features(x, metric), _features(x, metric), idx, metric)


def conditional_probabilities(sq_dist: np.ndarray, perplexity: float) -> np.ndarray:
    """p_{j|i} rows (N, K) calibrated to ``perplexity`` from squared dissimilarities (N, K).

    Entries equal to ``inf`` get probability 0 (use it to exclude i itself in a dense matrix).
    """
    from reprlab.embed._kernels import perplexity_search

    return perplexity_search(np.ascontiguousarray(sq_dist, dtype=np.float64), float(np.log(perplexity)))


@dataclass
class Affinities:
    """Symmetric joint probabilities P (sum 1) plus the neighbour graph they came from.

    Attributes
    ----------
    P : scipy.sparse.csr_matrix (N, N)
        ``p_ij = (p_{j|i} + p_{i|j}) / 2N``; dense inputs are stored as a full CSR matrix.
    x : ndarray or None
        The (features, metric) the affinities were computed from, kept for ``transform``.
    """

    P: sp.csr_matrix
    perplexity: float
    metric: str
    method: str
    x: np.ndarray | None = None

    def dense(self) -> np.ndarray:
        return self.P.toarray()


NeighborSearch = Literal["exact", "approx"]


def check_neighbors(neighbors: str, metric: str) -> None:
    """Raise :class:`ConfigError` for an unknown kNN search or ``approx`` with precomputed distances.

    Exact is the default everywhere, chosen from the numbers (docs/benchmarks.md, "Approximate
    neighbours"): at 10,000 points our exact search is ~4x faster than pynndescent, which also
    pays a ~40 s JIT compilation in every new process.
    """
    if neighbors not in ("exact", "approx"):
        raise ConfigError(f"neighbors={neighbors!r} is not known; use 'exact' or 'approx'")
    if neighbors == "approx" and metric == "precomputed":
        raise ConfigError("neighbors='approx' needs features, not metric='precomputed' (use neighbors='exact')")


def joint_probabilities(x, perplexity: float = 30.0, *, method: str = "knn", metric: str = "euclidean",
                        n_neighbors: int | None = None, neighbors: NeighborSearch = "exact",
                        random_state: int | None = 0) -> Affinities:
    """Perplexity-calibrated symmetric affinities.

    Parameters
    ----------
    x : array (N, D), or (N, N) distances when ``metric="precomputed"``
    perplexity : float
        Effective number of neighbours; must be < N - 1.
    method : {"knn", "exact"}
        ``exact`` calibrates over all N - 1 other points; ``knn`` over the ``3 * perplexity``
        nearest neighbours (sparse P, O(N k) memory).
    metric : {"euclidean", "sqeuclidean", "cosine", "manhattan", "precomputed"}
    n_neighbors : int, optional
        Override the ``knn`` neighbour count (default ``min(N - 1, floor(3 * perplexity))``).
    neighbors : {"exact", "approx"}, default "exact"
        ``knn``: the exact search (:func:`nearest_neighbors`) or nearest-neighbour descent
        (:func:`approximate_neighbors`, needs pynndescent).
    random_state : int or None
        Seed of the approximate search.

    Returns
    -------
    Affinities
    """
    arr = check_data(x, metric)
    n = len(arr)
    check_perplexity(perplexity, n)
    if method == "exact":
        d = pairwise_sq_distances(arr, metric)
        np.fill_diagonal(d, np.inf)
        cond = conditional_probabilities(d, perplexity)
        np.fill_diagonal(cond, 0.0)
        p = cond + cond.T
        P = sp.csr_matrix(p / p.sum())
    elif method == "knn":
        k = n_neighbors or min(n - 1, int(3 * perplexity))
        check_neighbors(neighbors, metric)
        if neighbors == "approx":
            idx, d = approximate_neighbors(arr, k, metric, random_state)
        else:
            idx, d = nearest_neighbors(arr, k, metric)
        cond = conditional_probabilities(d, perplexity)
        rows = np.repeat(np.arange(n), k)
        c = sp.csr_matrix((cond.ravel(), (rows, idx.ravel())), shape=(n, n))
        P = (c + c.T).tocsr()
        P.data /= P.data.sum()
    else:
        raise ConfigError(f"affinity method={method!r} is not known; use 'knn' or 'exact'")
    P.sum_duplicates()
    P.sort_indices()
    return Affinities(P=P, perplexity=perplexity, metric=metric, method=method, x=arr)
