"""Locally Linear Embedding (standard, Hessian, modified), as a function and a scikit-learn estimator.

Roweis & Saul (2000), "Nonlinear Dimensionality Reduction by Locally Linear Embedding",
Science 290:2323-2326, https://doi.org/10.1126/science.290.5500.2323. Modified LLE: Zhang & Wang
(2006), "MLLE: Modified Locally Linear Embedding Using Multiple Weights", NIPS 19, which replaces
the one weight vector per point with s_i vectors spanning the local Gram matrix's almost-null space.

1. Reconstruct every point from its k nearest neighbours with weights summing to one,
   ``min_W sum_i |x_i - sum_j W_ij x_j|^2``; per point, solve ``(C + r I) w = 1`` with the local
   Gram matrix ``C_jk = (x_j - x_i).(x_k - x_i)`` and ``r = reg * trace(C)``, then normalise.
2. Find the map with the same weights, ``min_Y |Y - W Y|_F^2`` subject to ``Y^T Y = I``: the
   eigenvectors of ``M = (I - W)^T (I - W)`` with the smallest non-zero eigenvalues (the constant
   vector, eigenvalue 0, is dropped). M is sparse; ARPACK in shift-invert mode finds them.

The covariance constraint is what lets LLE collapse MNIST-like data into nearly one-dimensional,
mutually orthogonal strands (Hinton's talk; van der Maaten & Hinton 2008, fig. 2); see
:func:`reprlab.embed.metrics.strand_ratio`. New points are placed with their barycentric weights.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from reprlab.embed.affinity import check_data, nearest_neighbors
from reprlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def barycenter_weights(x: np.ndarray, neighbors: np.ndarray, reg: float = 1e-3,
                       query: np.ndarray | None = None) -> np.ndarray:
    """Reconstruction weights (Q, k) of each query point from its neighbours' rows of ``x``.

    Parameters
    ----------
    x : ndarray (N, D)
    neighbors : ndarray (Q, k) of indices into ``x``
    query : ndarray (Q, D), default ``x`` itself
    """
    q = x if query is None else query
    z = x[neighbors] - q[:, None, :]  # (Q, k, D)
    c = np.einsum("qkd,qld->qkl", z, z)  # (Q, k, k)
    trace = np.trace(c, axis1=1, axis2=2)
    r = np.where(trace > 0, reg * trace, reg)
    k = neighbors.shape[1]
    c += r[:, None, None] * np.eye(k)
    w = np.linalg.solve(c, np.ones((len(q), k, 1)))[..., 0]  # (Q, k)
    return w / w.sum(1, keepdims=True)


def hessian_matrix(x: np.ndarray, nbrs: np.ndarray, n_components: int, tol: float = 1e-4) -> sp.csr_matrix:
    """Hessian eigenmaps' quadratic form (Donoho & Grimes 2003, PNAS 100:5591), batched over points.

    Per point: local PCA coordinates U (k, d) of its centred neighbours, the design matrix
    [1, U, U_a U_b (a <= b)], and its orthonormalised last d(d+1)/2 columns w estimate the Hessian;
    ``M = sum_i S_i^T w_i w_i^T S_i`` with S_i selecting the neighbours.
    """
    n, k = nbrs.shape
    d = n_components
    g = x[nbrs] - x[nbrs].mean(1, keepdims=True)  # (N, k, D)
    u = np.linalg.svd(g, full_matrices=False)[0][:, :, :d]  # (N, k, d)
    quad = [u[:, :, a] * u[:, :, b] for a in range(d) for b in range(a, d)]
    design = np.concatenate([np.ones((n, k, 1)), u, np.stack(quad, -1)], axis=2)  # (N, k, 1+d+dp)
    q = np.linalg.qr(design)[0]  # (N, k, 1+d+dp)
    w = q[:, :, d + 1:]  # (N, k, dp)
    col = w.sum(1, keepdims=True)
    w = w / np.where(np.abs(col) < tol, 1.0, col)
    block = w @ w.transpose(0, 2, 1)  # (N, k, k)
    rows = np.broadcast_to(nbrs[:, :, None], block.shape).ravel()
    cols = np.broadcast_to(nbrs[:, None, :], block.shape).ravel()
    return sp.csr_matrix((block.ravel(), (rows, cols)), shape=(n, n))


def modified_matrix(x: np.ndarray, nbrs: np.ndarray, n_components: int, reg: float = 1e-3,
                    tol: float = 1e-12) -> sp.csr_matrix:
    """Modified LLE's quadratic form (Zhang & Wang 2006, NIPS 19), batched over points.

    Per point i, the local Gram matrix ``C_i = Z_i Z_i^T`` (``Z_i`` the neighbours minus x_i, k rows)
    has eigenvalues ``l_1 >= ... >= l_k``. With ``rho_i = sum_{j>d} l_j / sum_{j<=d} l_j`` and
    ``eta = median_i rho_i``, the "almost null" space is spanned by the last ``s_i`` eigenvectors
    ``V_i`` (k, s_i), ``s_i`` the largest s whose tail/head eigenvalue ratio stays below eta. The
    Householder reflection ``H_i`` with ``H_i V_i^T 1 = alpha_i 1``, ``alpha_i = |V_i^T 1| / sqrt(s_i)``,
    gives s_i weight vectors ``W_i = V_i H_i + (1 - alpha_i) w_i 1^T``, each summing to one, from the
    regularised barycentric weights w_i; ``M = sum_i S_i^T [-1; W_i] [-1; W_i]^T S_i`` with S_i
    selecting (i, neighbours of i). Points are stacked as (N, k, k) arrays; a point's s_i columns
    are kept by a mask, so every step is one batched LAPACK call or einsum.
    """
    n, k = nbrs.shape
    dim = x.shape[1]
    nev = min(dim, k)  # non-structural eigenvalues; the other k - nev are exactly zero
    z = x[nbrs] - x[:, None, :]  # (N, k, D)
    if k > dim:  # rank-deficient Gram matrix: the SVD of Z gives its eigenvalues more accurately
        v, sv, _ = np.linalg.svd(z, full_matrices=True)  # v (N, k, k), sv (N, nev), descending
        evals = sv ** 2
    else:
        lam, vecs = np.linalg.eigh(np.einsum("nkd,nld->nkl", z, z))  # ascending
        evals, v = lam[:, ::-1], vecs[:, :, ::-1]  # (N, k), (N, k, k), descending
    # regularised barycentric weights (C + r I)^-1 1 from the same eigen-decomposition
    trace = evals.sum(1)
    r = np.where(trace > 0, reg * trace, reg)  # (N,)
    lam_all = np.zeros((n, k))
    lam_all[:, :nev] = evals
    proj = v.sum(1)  # (N, k) = V^T 1
    w_reg = np.einsum("nkj,nj->nk", v, proj / (lam_all + r[:, None]))  # (N, k)
    w_reg /= w_reg.sum(1, keepdims=True)
    # size s_i of the almost-null space: eta is the median tail/head ratio at d
    rho = evals[:, n_components:].sum(1) / evals[:, :n_components].sum(1)
    eta = np.median(rho)
    cum = np.cumsum(evals, 1)  # (N, nev)
    tail_over_head = cum[:, -1:] / cum[:, :-1] - 1  # (N, nev-1): [j] = sum(l_{>j}) / sum(l_{<=j})
    s = (tail_over_head < eta).sum(1) + (k - nev)  # (N,)
    keep = (np.arange(k)[None, :] >= k - s[:, None]).astype(float)  # (N, k): the last s_i columns
    vs = v * keep[:, None, :]  # (N, k, k), V_i padded with zero columns
    vsum = vs.sum(1)  # (N, k) = V_i^T 1
    alpha = np.linalg.norm(vsum, axis=1) / np.sqrt(np.maximum(s, 1))  # (N,); s_i = 0 adds nothing
    h = alpha[:, None] * keep - vsum  # (N, k)
    h_norm = np.linalg.norm(h, axis=1, keepdims=True)
    h = np.where(h_norm < tol, 0.0, h / np.where(h_norm < tol, 1.0, h_norm))
    w = (vs - 2 * np.einsum("nkj,nj->nk", vs, h)[:, :, None] * h[:, None, :]
         + (1 - alpha)[:, None, None] * w_reg[:, :, None] * keep[:, None, :])  # (N, k, k)
    w_hat = np.concatenate([-keep[:, None, :], w], axis=1)  # (N, k+1, k): row 0 is point i itself
    block = w_hat @ w_hat.transpose(0, 2, 1)  # (N, k+1, k+1)
    idx = np.concatenate([np.arange(n)[:, None], nbrs], axis=1)  # (N, k+1)
    rows = np.broadcast_to(idx[:, :, None], block.shape).ravel()
    cols = np.broadcast_to(idx[:, None, :], block.shape).ravel()
    return sp.csr_matrix((block.ravel(), (rows, cols)), shape=(n, n))


def locally_linear_embedding(x: np.ndarray, *, n_neighbors: int = 12, n_components: int = 2, reg: float = 1e-3,
                             method: str = "standard", eigen_solver: str = "auto", modified_tol: float = 1e-12,
                             random_state=None) -> tuple[np.ndarray, float]:
    """LLE of ``x`` (N, D); returns (embedding (N, n_components), reconstruction error).

    ``method="standard"`` is Roweis & Saul's; ``"hessian"`` is Hessian eigenmaps (Donoho & Grimes
    2003), which needs ``n_neighbors > d (d + 3) / 2``; ``"modified"`` is Zhang & Wang's (2006)
    multiple-weight LLE (:func:`modified_matrix`; ``modified_tol`` is the norm below which its
    Householder vector counts as zero). The error is the sum of the eigenvalues
    kept, ``trace(Y^T M Y)`` for unit-norm eigenvector columns (sklearn's ``reconstruction_error_``).
    """
    n = len(x)
    if not 1 <= n_components < n:
        raise ConfigError(f"n_components={n_components} must be in [1, n_samples)")
    if method == "modified" and n_neighbors <= n_components:
        raise ConfigError(f"method='modified' needs n_neighbors > n_components, got n_neighbors={n_neighbors} "
                          f"and n_components={n_components}: with no more neighbours than dimensions the "
                          f"almost-null space is empty; raise n_neighbors to at least "
                          f"{min(max(n_components + 1, 12), n - 1)} or lower n_components")
    if not n_components < n_neighbors < n:
        raise ConfigError(f"n_neighbors={n_neighbors} must satisfy n_components < n_neighbors < n_samples "
                          f"= {n}; try n_neighbors={min(max(n_components + 1, 12), n - 1)}")
    nbrs, _ = nearest_neighbors(x, n_neighbors)  # (N, k)
    if method == "standard":
        w = barycenter_weights(x, nbrs, reg)
        rows = np.repeat(np.arange(n), n_neighbors)
        W = sp.csr_matrix((w.ravel(), (rows, nbrs.ravel())), shape=(n, n))
        I_W = sp.identity(n, format="csr") - W
        M = (I_W.T @ I_W).tocsr()  # (N, N), sparse, symmetric PSD
    elif method == "hessian":
        need = n_components * (n_components + 3) // 2
        if n_neighbors <= need:
            raise ConfigError(f"method='hessian' needs n_neighbors > {need} for n_components={n_components}, "
                              f"got {n_neighbors}")
        M = hessian_matrix(x, nbrs, n_components)
    elif method == "modified":
        M = modified_matrix(x, nbrs, n_components, reg, modified_tol)
    else:
        raise ConfigError(f"method={method!r} is not known; use 'standard', 'hessian' or 'modified'")
    solver = eigen_solver if eigen_solver != "auto" else ("dense" if n <= 200 else "arpack")
    k = n_components + 1
    if solver == "dense":
        vals, vecs = np.linalg.eigh(M.toarray())
        vals, vecs = vals[:k], vecs[:, :k]
    elif solver == "arpack":
        v0 = check_random_state(random_state).uniform(-1, 1, n)
        try:
            vals, vecs = eigsh(M, k, sigma=0.0, tol=1e-6, maxiter=200, v0=v0)
        except RuntimeError as e:
            raise DataError("ARPACK failed on the LLE matrix (often duplicate points or too few "
                            "neighbours); use eigen_solver='dense' or raise reg") from e
        order = np.argsort(vals)
        vals, vecs = vals[order], vecs[:, order]
    else:
        raise ConfigError(f"eigen_solver={eigen_solver!r} is not known; use 'auto', 'arpack' or 'dense'")
    return vecs[:, 1:], float(vals[1:].sum())


class LLE(TransformerMixin, BaseEstimator):
    """Locally Linear Embedding (Roweis & Saul 2000): standard, Hessian or modified variant.

    Parameters
    ----------
    n_components : int, default 2
    n_neighbors : int, default 12
    reg : float, default 1e-3
        Tikhonov regulariser of the local Gram matrices, relative to their trace. Modified LLE
        uses it for its barycentric weights too (scikit-learn fixes that one at 1e-3 and
        ignores ``reg``; the two agree at the default).
    method : {"standard", "hessian", "modified"}, default "standard"
        Roweis & Saul's LLE, Hessian eigenmaps (Donoho & Grimes 2003), or modified LLE (Zhang &
        Wang 2006: several weight vectors per point, from the local Gram matrix's almost-null
        eigenvectors; needs ``n_neighbors > n_components``). ``transform`` always uses
        barycentric weights.
    eigen_solver : {"auto", "arpack", "dense"}, default "auto"
    modified_tol : float, default 1e-12
        Modified LLE only: a Householder vector shorter than this is treated as zero (the
        reflection becomes the identity), as in scikit-learn.
    random_state : int, RandomState or None (ARPACK's start vector)

    Attributes
    ----------
    embedding_ : ndarray (N, n_components), unit-norm columns (Y^T Y = I)
    reconstruction_error_ : float
    """

    def __init__(self, n_components: int = 2, *, n_neighbors: int = 12, reg: float = 1e-3,
                 method: str = "standard", eigen_solver: str = "auto", modified_tol: float = 1e-12,
                 random_state=None):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.reg = reg
        self.method = method
        self.eigen_solver = eigen_solver
        self.modified_tol = modified_tol
        self.random_state = random_state

    def fit(self, X, y=None) -> LLE:
        x = check_data(X, estimator=self, reset=True, min_samples=2)
        self.embedding_, self.reconstruction_error_ = locally_linear_embedding(
            x, n_neighbors=self.n_neighbors, n_components=self.n_components, reg=self.reg, method=self.method,
            eigen_solver=self.eigen_solver, modified_tol=self.modified_tol, random_state=self.random_state)
        self._x_fit = x
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X, y).embedding_

    def transform(self, X) -> np.ndarray:
        """Map new points as the barycentric combination of their neighbours' map positions."""
        if not hasattr(self, "embedding_"):
            raise DataError("this LLE is not fitted yet; call fit(X) before transform(X_new)")
        xq = check_data(X, estimator=self, reset=False)
        nbrs, _ = nearest_neighbors(self._x_fit, self.n_neighbors, query=xq)
        w = barycenter_weights(self._x_fit, nbrs, self.reg, query=xq)  # (Q, k)
        return np.einsum("qk,qkd->qd", w, self.embedding_[nbrs])
