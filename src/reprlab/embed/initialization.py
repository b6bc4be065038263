"""Initial layouts for t-SNE and SNE: scaled PCA, small random, or a given array.

Kobak & Linderman (2021), "Initialization is critical for preserving global data structure in
both t-SNE and UMAP", Nature Biotechnology 39, 156-157: start from the leading principal
components rescaled so the first has standard deviation 1e-4 (the scale of the random start of
van der Maaten & Hinton 2008), which keeps global structure and makes runs reproducible.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from reprlab.errors import ConfigError

TARGET_STD = 1e-4  # std of the first coordinate of every initial layout


def rescale(y: np.ndarray, target_std: float = TARGET_STD) -> np.ndarray:
    """Scale ``y`` (N, d) so that its first column has standard deviation ``target_std``."""
    std = float(np.std(y[:, 0]))
    return y * (target_std / std) if std > 0 else y


def random(n_samples: int, n_components: int, random_state=None) -> np.ndarray:
    """Isotropic Gaussian start N(0, 1e-4^2): (n_samples, n_components)."""
    return check_random_state(random_state).normal(0.0, TARGET_STD, (n_samples, n_components))


def pca(x: np.ndarray, n_components: int, random_state=None) -> np.ndarray:
    """Leading principal components of ``x`` (N, D), signs fixed, first std scaled to 1e-4."""
    xc = x - x.mean(0)
    if xc.shape[1] <= 1000:  # eigenvectors of the D x D scatter matrix: exact, O(N D^2)
        _, vecs = np.linalg.eigh(xc.T @ xc)
        y = xc @ vecs[:, ::-1][:, :n_components]
    else:
        from sklearn.decomposition import PCA

        y = PCA(n_components, svd_solver="randomized", random_state=check_random_state(random_state)
                ).fit_transform(xc)
    # deterministic sign: the largest-magnitude entry of each column is positive
    signs = np.sign(y[np.abs(y).argmax(0), np.arange(y.shape[1])])
    return rescale(y * np.where(signs == 0, 1, signs))


def mds(distances: np.ndarray, n_components: int) -> np.ndarray:
    """Classical MDS of an (N, N) distance matrix (PCA's analogue for ``metric="precomputed"``)."""
    n = len(distances)
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ (distances ** 2) @ j
    vals, vecs = np.linalg.eigh(b)
    top = np.argsort(vals)[::-1][:n_components]
    y = vecs[:, top] * np.sqrt(np.clip(vals[top], 0, None))
    signs = np.sign(y[np.abs(y).argmax(0), np.arange(y.shape[1])])
    return rescale(y * np.where(signs == 0, 1, signs))


def initial_layout(init, x: np.ndarray, n_components: int, metric: str, random_state=None) -> np.ndarray:
    """Resolve ``init`` ("pca", "random" or an (N, d) array) into a float64 (N, d) layout."""
    n = len(x)
    if isinstance(init, str):
        if init == "pca":
            return mds(x, n_components) if metric == "precomputed" else pca(x, n_components, random_state)
        if init == "random":
            return random(n, n_components, random_state)
        raise ConfigError(f"init={init!r} is not known; use 'pca', 'random' or an (N, n_components) array")
    y = np.array(init, dtype=np.float64)
    if y.shape != (n, n_components):
        raise ConfigError(f"init array has shape {y.shape}, expected ({n}, {n_components})")
    return y
