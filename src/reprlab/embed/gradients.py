"""The t-SNE cost KL(P || Q) and its gradient by three engines: exact, Barnes-Hut and FFT.

van der Maaten & Hinton (2008), JMLR 9:2579; heavy tails: Kobak, Linderman, Steinerberger,
Kluger & Berens (2019), https://arxiv.org/abs/1902.05804. With the Student-t weight of ``a``
degrees of freedom,

    w_ij = (1 + |y_i - y_j|^2 / a)^(-a),   q_ij = w_ij / Z,   Z = sum_{k != l} w_kl,

    C = KL(P || Q) = sum_ij p_ij log(p_ij / q_ij),
    dC/dy_i = 4 sum_j (p_ij - q_ij) w_ij^{1/a} (y_i - y_j)          (a = 1: van der Maaten's eq. 5)
            = 4 [ sum_j p_ij w_ij^{1/a} (y_i - y_j)  -  (1/Z) sum_j w_ij^{1+1/a} (y_i - y_j) ].

The attractive half is a sparse sum over P's non-zeros (numba); the repulsive half is all-pairs:
exact (torch, O(N^2)), Barnes-Hut (van der Maaten 2014, "Accelerating t-SNE using tree-based
algorithms", JMLR 15:3221, O(N log N)) or FFT interpolation (Linderman et al. 2019, O(N)).

Engines return the gradient *without* the constant factor 4 (the convention of bhtsne, FIt-SNE
and openTSNE, in which ``learning_rate = N / exaggeration`` of Belkina et al. 2019 is stated);
:func:`kl_gradient` returns the true dC/dy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp
import torch

from reprlab.errors import ConfigError

METHODS = ("exact", "barnes_hut", "fft")
_ALIASES = {"bh": "barnes_hut", "barnes-hut": "barnes_hut", "interpolation": "fft"}


def resolve_method(method: str, n_samples: int, n_components: int) -> str:
    """Map ``auto``/aliases to an engine and check it supports ``n_components``."""
    method = _ALIASES.get(method, method)
    if method == "auto":  # openTSNE's rule: trees below 10k points, interpolation above
        if n_components > 3:
            return "exact"
        return "fft" if n_samples >= 10_000 and n_components <= 2 else "barnes_hut"
    if method not in METHODS:
        raise ConfigError(f"method={method!r} is not known; use 'exact', 'barnes_hut', 'fft' or 'auto'")
    if method == "barnes_hut" and n_components > 3:
        raise ConfigError(f"method='barnes_hut' supports n_components <= 3, got {n_components}; "
                          "use method='exact'")
    if method == "fft" and n_components > 2:
        raise ConfigError(f"method='fft' supports n_components <= 2, got {n_components}; "
                          "use method='barnes_hut' (3-D) or 'exact'")
    return method


@dataclass
class EngineParams:
    """Accuracy knobs of the approximate engines (defaults as in openTSNE/FIt-SNE)."""

    theta: float = 0.5               # Barnes-Hut opening angle; 0 is exact
    n_interpolation_points: int = 3  # Lagrange nodes per box and axis (FFT)
    min_num_intervals: int = 50      # at least this many boxes per axis (FFT)
    ints_in_interval: float = 1.0    # boxes no wider than this in map units (FFT)


def exact_kl_and_gradient(y: torch.Tensor, p: torch.Tensor, dof: float = 1.0
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """KL(P || Q) and dC/dy (with the factor 4) for a dense symmetric P (N, N) summing to one.

    Parameters
    ----------
    y : Tensor (N, d)
    p : Tensor (N, N), zero diagonal
    """
    sq = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)  # (N, N)
    base = 1.0 + sq / dof
    w = base.pow(-dof)
    w.fill_diagonal_(0.0)
    z = w.sum()
    q = w / z
    mask = p > 0
    kl = (p[mask] * (torch.log(p[mask]) - torch.log(q[mask].clamp_min(1e-300)))).sum()
    coef = (p - q) / base  # (p - q) w^{1/a}, (N, N)
    coef.fill_diagonal_(0.0)
    grad = 4.0 * (coef.sum(1, keepdim=True) * y - coef @ y)  # (N, d)
    return kl, grad


def kl_divergence_autograd(y: torch.Tensor, p: torch.Tensor, dof: float = 1.0) -> torch.Tensor:
    """KL(P || Q) written plainly, for checking gradients with autograd."""
    n = y.shape[0]
    diff = y[:, None, :] - y[None, :, :]
    w = (1.0 + (diff ** 2).sum(-1) / dof).pow(-dof)
    off = ~torch.eye(n, dtype=torch.bool)
    q = w[off] / w[off].sum()
    pv = p[off]
    keep = pv > 0
    return (pv[keep] * torch.log(pv[keep] / q[keep])).sum()


def _attractive(y: np.ndarray, P: sp.csr_matrix, dof: float, y_ref: np.ndarray | None, with_kl: bool):
    from reprlab.embed._kernels import attractive_forces

    ref = y if y_ref is None else y_ref
    return attractive_forces(P.indptr, P.indices, P.data, y, ref, float(dof), with_kl)


Repulsion = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def make_repulsion(method: str, dof: float = 1.0, params: EngineParams | None = None,
                   reference: np.ndarray | None = None) -> Repulsion:
    """``y -> (R (N, d), Z_i (N,))`` by the chosen engine, with ``R_i = sum_j w_ij^{1+1/a} (y_i - y_j)``
    and ``Z_i = sum_j w_ij``: over all points of ``y`` (self excluded; Z = sum_i Z_i), or with
    ``reference`` over those fixed points (new points placed into a map, each normalised alone).
    The FFT engine uses numba's current thread count for its transforms."""
    params = params or EngineParams()
    dof = float(dof)
    fixed = reference is not None
    if method == "barnes_hut":
        from reprlab.embed._kernels import bh_repulsive_forces, build_tree

        tree = build_tree(reference) if reference is not None else None

        def barnes_hut(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            _, half, children, mass, com, _ = tree if tree is not None else build_tree(y)
            return bh_repulsive_forces(y, half, children, mass, com, params.theta, dof, not fixed)

        return barnes_hut
    if method == "fft":
        from reprlab.embed._fft import InterpolationGrid

        grid_args = (dof, params.n_interpolation_points, params.min_num_intervals, params.ints_in_interval)
        workers = numba.get_num_threads()
        if reference is not None:  # room around the map for new points
            grid = InterpolationGrid(reference, *grid_args, pad=0.05, workers=workers)
            grid.fit_sources(reference)
            return grid.evaluate

        def fft(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            grid = InterpolationGrid(y, *grid_args, workers=workers)
            grid.fit_sources(y)
            rep, z = grid.evaluate(y)
            return rep, z - 1.0  # without the self term w_ii = 1

        return fft

    def exact(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ref = reference if reference is not None else y
        base = 1.0 + squared_distances(y, ref) / dof  # (N, M); numpy: no thread start-up cost on small maps
        w = base ** (-dof) if dof != 1.0 else 1.0 / base
        if not fixed:
            np.fill_diagonal(w, 0.0)
        wq = w / base
        return wq.sum(1, keepdims=True) * y - wq @ ref, w.sum(1)

    return exact


def squared_distances(y: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
    """Exact (N, M) squared Euclidean distances of low-dimensional maps (no cancellation)."""
    ref = y if ref is None else ref
    sq = np.zeros((len(y), len(ref)))
    for a in range(y.shape[1]):
        diff = y[:, a, None] - ref[None, :, a]
        sq += diff * diff
    return sq


def kl_and_half_gradient(y: np.ndarray, P: sp.csr_matrix, repulsion: Repulsion, dof: float = 1.0,
                         with_kl: bool = False) -> tuple[float | None, np.ndarray]:
    """(KL or None, dC/dy / 4) for the embedding ``y`` (N, d) and sparse P (CSR, sums to s).

    ``repulsion`` comes from :func:`make_repulsion`. With exaggerated P (sum s != 1) the value
    returned is the KL of the exaggerated cost, ``sum p log(p / w) + s log Z``; callers correct it.
    """
    attr, sum_p, kl_part = _attractive(y, P, dof, None, with_kl)
    rep, z_i = repulsion(y)
    z = float(z_i.sum())
    grad = attr - rep / z
    kl = float(kl_part + sum_p * np.log(z)) if with_kl else None
    return kl, grad


def kl_gradient(y: np.ndarray, P, method: str = "exact", dof: float = 1.0,
                params: EngineParams | None = None) -> tuple[float, np.ndarray]:
    """KL(P || Q) and the true gradient dC/dy (N, d) of the t-SNE cost by any engine."""
    P = sp.csr_matrix(P)
    kl, half = kl_and_half_gradient(np.ascontiguousarray(y, dtype=np.float64), P,
                                    make_repulsion(method, dof, params), dof, with_kl=True)
    assert kl is not None  # with_kl=True
    return kl, 4.0 * half


def transform_half_gradient(y_new: np.ndarray, y_ref: np.ndarray, P: sp.csr_matrix, dof: float,
                            repulsion) -> np.ndarray:
    """dC/dy / 4 for new points against a fixed reference map; each new point is normalised alone.

    ``P`` is (N_new, N_ref) with rows summing to one; ``repulsion`` is :func:`make_repulsion` with
    ``reference=y_ref``, summing over the reference points only (openTSNE's point-wise normalisation).
    """
    attr, _, _ = _attractive(y_new, P, dof, y_ref, False)
    rep, z = repulsion(y_new)
    return attr - rep / z[:, None]
