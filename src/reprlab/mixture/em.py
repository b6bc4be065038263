"""The two steps of EM for a Gaussian mixture, as pure torch functions on (N, D) tensors.

Dempster, Laird & Rubin (1977), "Maximum likelihood from incomplete data via the EM algorithm";
Bishop (2006), *Pattern Recognition and Machine Learning*, section 9.2.2. For a mixture
``p(x) = sum_k pi_k N(x | mu_k, Sigma_k)``:

- E-step: responsibilities ``r_nk = pi_k N(x_n | mu_k, Sigma_k) / sum_j pi_j N(x_n | mu_j, Sigma_j)``
  (Bishop eq. 9.23), computed in log space with ``logsumexp``;
- M-step: ``N_k = sum_n r_nk``, ``mu_k = sum_n r_nk x_n / N_k``,
  ``Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k + reg_covar I``, ``pi_k = N_k / N``
  (eqs. 9.24-9.27).

Every E-step is a non-decreasing step of the log-likelihood ``sum_n log p(x_n)``; ``reg_covar``
(a ridge on every covariance's diagonal, as in scikit-learn) keeps a component that collapses
onto one point or a lower-dimensional subspace from a singular covariance, at the price of an
O(reg_covar) departure from the exact maximisation.

Covariance parameterisations (``covariance_type``), shapes with K components and D features:
``full`` (K, D, D), ``tied`` one shared (D, D), ``diag`` (K, D), ``spherical`` (K,). Components are
evaluated through the Cholesky factor ``U`` of each precision (``Sigma^{-1} = U U^T``), as in
scikit-learn: ``log N(x | mu, Sigma) = -1/2 (D log 2 pi + |(x - mu) U|^2) + log det U``.

Work that creates (K, rows, D) tensors runs over row chunks of ``chunk`` rows, so memory stays
bounded at any N; everything runs on the tensors' device and dtype.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import torch

from reprlab.errors import DataError

CovarianceType = Literal["full", "tied", "diag", "spherical"]
COVARIANCE_TYPES: tuple[str, ...] = ("full", "tied", "diag", "spherical")


def chunk_rows(n_components: int, n_features: int, budget: int = 1 << 22) -> int:
    """Rows per chunk so that a (K, rows, D) temporary holds about ``budget`` elements."""
    return max(1, budget // max(1, n_components * n_features))


def row_slices(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def n_parameters(n_components: int, n_features: int, covariance_type: CovarianceType) -> int:
    """Free parameters of the mixture: covariances + means + (K - 1) weights (for BIC/AIC)."""
    k, d = n_components, n_features
    cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d, "spherical": k}[covariance_type]
    return cov + k * d + k - 1


def estimate_gaussian_parameters(x: torch.Tensor, resp: torch.Tensor, reg_covar: float,
                                 covariance_type: CovarianceType, chunk: int | None = None
                                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """M-step: component sizes, means and covariances from responsibilities.

    Parameters
    ----------
    x : Tensor (N, D)
    resp : Tensor (N, K)
        Responsibilities (rows sum to 1), or one-hot initial assignments.
    reg_covar : float
        Added to every covariance's diagonal (variances for diag/spherical).
    covariance_type : {"full", "tied", "diag", "spherical"}
    chunk : int, optional
        Rows per (K, rows, D) temporary (default :func:`chunk_rows`).

    Returns
    -------
    nk : Tensor (K,)
        ``sum_n r_nk`` plus 10 machine epsilons (so an empty component divides safely).
    means : Tensor (K, D)
    covariances : Tensor
        (K, D, D), (D, D), (K, D) or (K,) for full, tied, diag, spherical.
    """
    n, d = x.shape
    k = resp.shape[1]
    chunk = chunk or chunk_rows(k, d)
    nk = resp.sum(0) + 10 * torch.finfo(resp.dtype).eps  # (K,)
    means = resp.T @ x / nk[:, None]  # (K, D)
    if covariance_type == "tied":
        cov = (x.T @ x - (nk[:, None] * means).T @ means) / nk.sum()  # (D, D), Bishop eq. 9.25 pooled
        return nk, means, cov + reg_covar * torch.eye(d, dtype=x.dtype, device=x.device)
    if covariance_type == "full":
        cov = x.new_zeros(k, d, d)
        for s in row_slices(n, chunk):
            a = (x[s][None] - means[:, None]) * resp[s].T.sqrt()[:, :, None]  # (K, c, D): sqrt(r) (x - mu)
            cov += a.mT @ a  # (K, D, D), one batched product of the centred rows
        cov /= nk[:, None, None]
        return nk, means, cov + reg_covar * torch.eye(d, dtype=x.dtype, device=x.device)
    var = x.new_zeros(k, d)
    for s in row_slices(n, chunk):
        diff = x[s][None] - means[:, None]  # (K, c, D)
        var += torch.einsum("ck,kcd->kd", resp[s], diff * diff)
    var = var / nk[:, None] + reg_covar  # (K, D)
    return nk, means, (var if covariance_type == "diag" else var.mean(1))


def precision_cholesky(covariances: torch.Tensor, covariance_type: CovarianceType) -> torch.Tensor:
    """Cholesky factors ``U`` of the precisions (``Sigma^{-1} = U U^T``), same shape as ``covariances``.

    Raises
    ------
    DataError
        When a covariance is not positive definite: the component collapsed onto too few
        distinct points for its dimension (the message names it and the remedies).
    """
    if covariance_type in ("full", "tied"):
        factor, info = torch.linalg.cholesky_ex(covariances)  # lower, Sigma = L L^T
        if bool((info != 0).any()):
            bad = int(info.nonzero()[0, 0]) if info.dim() else 0
            raise DataError(_singular(bad if covariance_type == "full" else None))
        eye = torch.eye(covariances.shape[-1], dtype=covariances.dtype, device=covariances.device)
        # a contiguous right-hand side: an expanded (stride-0) identity is ~500x slower (profiled)
        return torch.linalg.solve_triangular(factor, eye.expand_as(factor).contiguous(), upper=False).mT
    if bool((covariances <= 0).any()):
        bad = int((covariances <= 0).reshape(len(covariances), -1).any(1).nonzero()[0, 0])
        raise DataError(_singular(bad))
    return covariances.rsqrt()


def _singular(component: int | None) -> str:
    which = f"component {component} has" if component is not None else "the tied covariance has"
    return (f"{which} a singular covariance (it collapsed onto duplicate points or a "
            "lower-dimensional subspace); increase reg_covar (default 1e-6), use fewer components, "
            "scale the features, or use dtype='float64'")


def precision_cholesky_from_precisions(precisions: torch.Tensor, covariance_type: CovarianceType) -> torch.Tensor:
    """``U`` from given precision matrices (``cholesky``) or precisions (``sqrt``), for ``precisions_init``."""
    if covariance_type in ("full", "tied"):
        return torch.linalg.cholesky(precisions)
    return precisions.sqrt()


def covariances_from_cholesky(prec_chol: torch.Tensor, covariance_type: CovarianceType) -> torch.Tensor:
    """``Sigma = (U U^T)^{-1}`` (or ``1 / U^2``), the inverse of :func:`precision_cholesky` for any factor ``U``."""
    if covariance_type in ("full", "tied"):
        return torch.cholesky_inverse(torch.linalg.cholesky(prec_chol @ prec_chol.mT))
    return 1.0 / (prec_chol * prec_chol)


def precisions_from_cholesky(prec_chol: torch.Tensor, covariance_type: CovarianceType) -> torch.Tensor:
    """``Sigma^{-1} = U U^T`` (or ``U^2``)."""
    if covariance_type in ("full", "tied"):
        return prec_chol @ prec_chol.mT
    return prec_chol * prec_chol


def log_gaussian_prob(x: torch.Tensor, means: torch.Tensor, prec_chol: torch.Tensor,
                      covariance_type: CovarianceType, chunk: int | None = None) -> torch.Tensor:
    """``log N(x_n | mu_k, Sigma_k)`` for every row and component, shape (N, K).

    ``-1/2 (D log 2 pi + |(x - mu_k) U_k|^2) + log det U_k``; the squared distances are computed
    from the differences themselves (not expanded into ``x^2 - 2 x mu + mu^2``), so float32 does
    not lose them to cancellation far from the origin.
    """
    n, d = x.shape
    k = means.shape[0]
    chunk = chunk or chunk_rows(k, d)
    if covariance_type == "full":
        log_det = prec_chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (K,)
        mu_u = (means[:, None, :] @ prec_chol)  # (K, 1, D)
    elif covariance_type == "tied":
        log_det = prec_chol.diagonal().log().sum().expand(k)
        mu_u = means @ prec_chol  # (K, D)
    elif covariance_type == "diag":
        log_det = prec_chol.log().sum(1)
    else:
        log_det = d * prec_chol.log()
    out = x.new_empty(n, k)
    for s in row_slices(n, chunk):
        xs = x[s]  # (c, D)
        if covariance_type == "full":
            y = xs @ prec_chol  # (K, c, D)
            y -= mu_u
            out[s] = torch.linalg.vector_norm(y, dim=-1).square_().T
        elif covariance_type == "tied":
            y = (xs @ prec_chol)[:, None, :] - mu_u[None]  # (c, K, D)
            out[s] = (y * y).sum(-1)
        elif covariance_type == "diag":
            y = (xs[:, None, :] - means[None]) * prec_chol[None]  # (c, K, D)
            out[s] = (y * y).sum(-1)
        else:
            diff = xs[:, None, :] - means[None]  # (c, K, D)
            out[s] = (diff * diff).sum(-1) * (prec_chol * prec_chol)[None]
    return -0.5 * (d * math.log(2 * math.pi) + out) + log_det  # (N, K)


def e_step(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, prec_chol: torch.Tensor,
           covariance_type: CovarianceType, chunk: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """E-step: ``(log p(x_n) (N,), log r_nk (N, K))`` (Bishop eq. 9.23, in log space)."""
    weighted = log_gaussian_prob(x, means, prec_chol, covariance_type, chunk) + weights.log()  # (N, K)
    log_norm = torch.logsumexp(weighted, dim=1)  # (N,)
    return log_norm, weighted - log_norm[:, None]


__all__ = ["CovarianceType", "COVARIANCE_TYPES", "n_parameters", "estimate_gaussian_parameters",
           "precision_cholesky", "precision_cholesky_from_precisions", "covariances_from_cholesky",
           "precisions_from_cholesky", "log_gaussian_prob", "e_step", "chunk_rows", "row_slices"]
