"""Slow NumPy/loop transcriptions of the coherence losses, written straight from the papers."""

from __future__ import annotations

import math

import numpy as np


def info_nce_reference(scores: np.ndarray) -> float:
    """van den Oord et al. (2018) eq. 4, row by row: -mean_i log(exp s_ii / sum_j exp s_ij)."""
    n = scores.shape[0]
    total = 0.0
    for i in range(n):
        row = scores[i].astype(np.float64)
        m = row.max()
        log_den = m + math.log(sum(math.exp(v - m) for v in row))
        total += -(row[i] - log_den)
    return total / n


def cpc_loss_reference(z: np.ndarray, c: np.ndarray, weights: list[np.ndarray]) -> float:
    """CPC: for each k, every (b, t) predicts z[b, t+k] from W_k c[b, t] among all (b', t') targets."""
    b, t, _ = z.shape
    losses = []
    for k, w in enumerate(weights, start=1):
        preds = [w @ c[i, s] for i in range(b) for s in range(t - k)]
        targets = [z[i, s + k] for i in range(b) for s in range(t - k)]
        scores = np.array([[float(p @ q) for q in targets] for p in preds])
        losses.append(info_nce_reference(scores))
    return float(np.mean(losses))


def imax_scalar_reference(a: np.ndarray, b: np.ndarray) -> float:
    """Becker & Hinton (1992): 1/2 log V(a+b)/V(a-b), unbiased variances."""
    return 0.5 * math.log(np.var(a + b, ddof=1) / np.var(a - b, ddof=1))


def patches_reference(x: np.ndarray, grid: int) -> np.ndarray:
    """Cut (B, C, H, W) into grid x grid patches in row-major order, each flattened (C, h, w)."""
    b, c, h, w = x.shape
    ph, pw = h // grid, w // grid
    out = []
    for i in range(grid):
        for j in range(grid):
            out.append(x[:, :, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw].reshape(b, -1))
    return np.stack(out, axis=1)


def exact_covariance_samples(cov: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n samples whose unbiased sample covariance equals ``cov`` exactly (whiten, then colour)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, cov.shape[0]))
    z -= z.mean(0)
    s = z.T @ z / (n - 1)
    white = z @ np.linalg.inv(np.linalg.cholesky(s)).T
    return white @ np.linalg.cholesky(cov).T
