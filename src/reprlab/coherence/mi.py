"""Mutual-information references: Gaussian closed forms and the KSG nearest-neighbour estimator.

The closed forms check IMAX and InfoNCE; the nonparametric KSG estimate is what exposes IMAX's
failure mode (a Gaussian "I" that is high while the real dependence is small).

Kraskov, A., Stögbauer, H. & Grassberger, P. (2004). *Estimating mutual information.*
Phys. Rev. E 69, 066138. https://arxiv.org/abs/cond-mat/0305641 — estimator 1:

    I(X; Y) ≈ ψ(k) + ψ(N) - < ψ(n_x + 1) + ψ(n_y + 1) >

where ε_i is the max-norm distance from point i to its k-th neighbour in the joint space and
n_x(i), n_y(i) count the points strictly closer than ε_i in each marginal space.
"""

from __future__ import annotations

import math

import numpy as np

from reprlab.errors import DataError


def gaussian_mi(rho: float | np.ndarray) -> float | np.ndarray:
    """Mutual information (nats) of two jointly Gaussian scalars with correlation ``rho``.

    ``I = -1/2 log(1 - rho^2)``.
    """
    rho = np.asarray(rho, dtype=np.float64)
    if np.any(np.abs(rho) >= 1):
        raise DataError(f"rho={rho}: |rho| must be < 1 (MI is infinite at |rho| = 1)")
    out = -0.5 * np.log1p(-rho ** 2)
    return float(out) if out.ndim == 0 else out


def gaussian_mi_from_covariance(cov: np.ndarray, dim_x: int) -> float:
    """Mutual information (nats) between the first ``dim_x`` and the remaining coordinates.

    ``I = 1/2 log |Σ_xx| |Σ_yy| / |Σ|`` for a jointly Gaussian vector with covariance ``Σ``.
    """
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or not 0 < dim_x < cov.shape[0]:
        raise DataError(f"covariance of shape {cov.shape} with dim_x={dim_x}: need a square matrix "
                        "and 0 < dim_x < its size")
    logdet = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    return 0.5 * float(logdet(cov[:dim_x, :dim_x]) + logdet(cov[dim_x:, dim_x:]) - logdet(cov))


def gaussian_mi_for_snr(signal_var: float, noise_var: float) -> float:
    """I(s; (a+b)/2) for ``a = s + n_a``, ``b = s + n_b`` (independent noises of equal variance).

    ``1/2 log(1 + 2 V(s)/V(n))`` — the quantity Becker & Hinton's ``1/2 log V(a+b)/V(a-b)`` measures.
    """
    return 0.5 * math.log1p(2.0 * signal_var / noise_var)


def _as_2d(v: np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2:
        raise DataError(f"{name} has shape {v.shape}: expected (N,) or (N, D)")
    if not np.all(np.isfinite(v)):
        raise DataError(f"{name} contains NaN or inf; drop or clip those samples first")
    return v


def _count_closer(v: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """For each row i, how many other rows lie strictly within max-norm distance ``eps[i]``.

    One-dimensional marginals (the common case) use two binary searches in the sorted values,
    O(N log N) with no tree; higher dimensions use a KD-tree ball query.
    """
    from scipy.spatial import cKDTree

    if v.shape[1] == 1:
        s = np.sort(v[:, 0])
        hi = np.searchsorted(s, v[:, 0] + eps, side="left")  # x_j < x_i + eps
        lo = np.searchsorted(s, v[:, 0] - eps, side="right")  # x_j > x_i - eps
        return hi - lo - 1
    radius = np.nextafter(eps, 0)  # strictly closer than eps
    return cKDTree(v).query_ball_point(v, radius, p=np.inf, return_length=True) - 1


def ksg_mutual_information(x: np.ndarray, y: np.ndarray, k: int = 3, *, standardize: bool = True,
                           jitter: float = 1e-10, random_state: int | None = 0) -> float:
    """Kraskov–Stögbauer–Grassberger estimate (algorithm 1) of I(X; Y) in nats, clipped at 0.

    Parameters
    ----------
    x, y:
        Samples, shape ``(N,)`` or ``(N, D)``; rows are paired.
    k:
        Neighbours in the joint space (3 is the usual choice; larger = less variance, more bias).
    standardize:
        Scale every coordinate to unit variance first (the estimate is invariant to it in theory,
        not in finite samples).
    jitter:
        Std of noise (relative to unit scale) added to break ties between repeated values, as
        scikit-learn does; 0 disables.
    random_state:
        Seed for the jitter.

    Returns
    -------
    float
    """
    from scipy.spatial import cKDTree
    from scipy.special import digamma

    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    n = len(x)
    if len(y) != n:
        raise DataError(f"x has {n} samples but y has {len(y)}: pass paired samples")
    if not 1 <= k < n:
        raise DataError(f"k={k} with {n} samples: need 1 <= k < N")
    if standardize:
        sx, sy = x.std(0), y.std(0)
        x = (x - x.mean(0)) / np.where(sx > 0, sx, 1.0)
        y = (y - y.mean(0)) / np.where(sy > 0, sy, 1.0)
    if jitter > 0:
        rng = np.random.default_rng(random_state)
        x = x + jitter * rng.standard_normal(x.shape)
        y = y + jitter * rng.standard_normal(y.shape)
    joint = np.hstack([x, y])
    dist, _ = cKDTree(joint).query(joint, k=k + 1, p=np.inf)  # (N, k+1), column 0 is the point
    eps = dist[:, -1]  # (N,) max-norm distance to the k-th neighbour
    nx, ny = _count_closer(x, eps), _count_closer(y, eps)
    mi = digamma(k) + digamma(n) - np.mean(digamma(nx + 1) + digamma(ny + 1))
    return max(float(mi), 0.0)
