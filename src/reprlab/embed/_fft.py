"""FFT-accelerated interpolation of the t-SNE repulsive forces (FIt-SNE); private.

Linderman, Rachh, Hoskins, Steinerberger & Kluger (2019), "Fast interpolation-based t-SNE for
improved visualization of single-cell RNA-seq data", Nature Methods 16, 243-245,
https://arxiv.org/abs/1712.09005.

The repulsive term needs, for every point i, sums over all points j of the Student-t weight
``w_ij = (1 + |y_i - y_j|^2 / a)^{-a}`` (for the normaliser Z) and of ``K_ij = w_ij^{1+1/a}`` (for
the forces ``R_i = sum_j K_ij (y_i - y_j) = y_i sum_j K_ij - sum_j K_ij y_j``): potentials of the
charges 1 and y_j under two smooth kernels. The map's bounding square is cut into ``B`` boxes per
axis with ``p`` equispaced Lagrange nodes in each; charges are spread to the nodes with each
point's Lagrange weights, the node-to-node sums are a Toeplitz product done by zero-padded FFT
convolution, and the node potentials are interpolated back. The cost is
O(N p^d + (B p)^d log(B p)) per evaluation.

What keeps it fast: the point-to-grid steps are numba loops; the charges are transformed once and
multiplied by both kernels' spectra (3 forward and 4 inverse transforms in 2-D, each skipping the
rows known to be zero); and the kernels are even, so their spectra are real and come from a type-I
DCT of one quadrant of the lattice. (openTSNE derives Z from the K potentials through
``w = K (1 + r^2/a)``, saving one transform; measured here, that triples Z's interpolation error,
so the separate w kernel stays.)
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from reprlab.embed._kernels import bounding_box, gather_potentials, interpolation_weights, spread_charges
from reprlab.errors import ConfigError

# FFT sizes that are products of small primes are fast; round the grid up to one of them.
_FAST_SIZES = np.array(sorted({2 ** a * 3 ** b * 5 ** c for a in range(14) for b in range(9)
                               for c in range(6) if 2 ** a * 3 ** b * 5 ** c <= 16384}))


def _n_boxes(extent: float, min_intervals: int, ints_in_interval: float, n_interp: int) -> int:
    """FIt-SNE's box count ``max(min_intervals, extent / ints_in_interval)``, rounded up so that the
    padded transform length 2 B p is a fast size."""
    want = max(min_intervals, int(np.ceil(extent / ints_in_interval)))
    for size in _FAST_SIZES[_FAST_SIZES >= 2 * want * n_interp]:
        if size % (2 * n_interp) == 0:
            return int(size // (2 * n_interp))
    return want


def kernel_spectra(m: int, spacing: float, dof: float, d: int, workers: int = 1) -> np.ndarray:
    """Real spectra (2, 2m[, m + 1]) of w = (1 + r^2/a)^{-a} and K = w^{1+1/a} on node offsets.

    The kernels on the circular lattice of length 2m are even, so their DFT equals the type-I DCT
    of offsets 0..m (one quadrant in 2-D), laid out here as ``rfftn`` of length 2m would be.
    """
    off = np.arange(m + 1) * spacing
    r2 = off ** 2 if d == 1 else off[:, None] ** 2 + off[None, :] ** 2
    base = 1.0 + r2 / dof
    w = base ** (-dof)
    # float32: pocketfft is ~3x faster, and its 1e-7 rounding is far below the 1e-3 interpolation error
    quadrant = scipy.fft.dctn(np.stack([w, w / base]).astype(np.float32), type=1,
                              axes=tuple(range(1, d + 1)), workers=workers)
    if d == 1:
        return quadrant  # (2, m + 1): rfft frequencies 0..m
    return quadrant[:, np.r_[0:m + 1, m - 1:0:-1]]  # (2, 2m, m + 1): full rows, half columns


class InterpolationGrid:
    """Grid, interpolation weights and node potentials for one set of source points.

    Parameters
    ----------
    y : ndarray (N, d)
        Source (reference) points, d in {1, 2}.
    dof : float
        Degrees of freedom a of the Student-t weight ``w = (1 + r^2/a)^(-a)``.
    n_interp, min_intervals, ints_in_interval :
        ``p`` nodes per box, at least ``min_intervals`` boxes per axis, and boxes of side at most
        ``ints_in_interval`` (FIt-SNE's defaults: 3, 50, 1).
    pad : float
        Fraction of the extent added on every side (room for new points in ``transform``).
    workers : int
        Threads for the transforms.
    """

    def __init__(self, y: np.ndarray, dof: float = 1.0, n_interp: int = 3, min_intervals: int = 50,
                 ints_in_interval: float = 1.0, pad: float = 0.0, workers: int = 1):
        n, d = y.shape
        if d not in (1, 2):
            raise ConfigError(f"FFT interpolation supports 1 or 2 output dimensions, got {d}; "
                              "use method='barnes_hut' or 'exact' for n_components=3")
        self.d, self.p, self.dof, self.workers = d, n_interp, dof, workers
        lo, hi = bounding_box(np.ascontiguousarray(y))
        extent = float((hi - lo).max()) * (1 + 2 * pad) + 1e-8
        self.n_boxes = _n_boxes(extent, min_intervals, ints_in_interval, n_interp)
        self.box = extent / self.n_boxes
        self.m = self.n_boxes * n_interp  # nodes per axis
        self.lower = (lo + hi) / 2 - extent / 2  # (d,)
        self._spectra = kernel_spectra(self.m, self.box / n_interp, dof, d, workers)  # w, K
        self.potentials: np.ndarray | None = None  # (2 + d, nodes) after fit_sources

    def _locate(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # a 2-D grid is stored with rows of 2m (the zero padding of the first transform)
        return interpolation_weights(np.ascontiguousarray(y), np.ascontiguousarray(self.lower, dtype=np.float64),
                                     self.box, self.n_boxes, self.p, 2 * self.m)

    def _convolve(self, grid: np.ndarray) -> np.ndarray:
        """Node charges (1 + d, m[, 2m]) for (1, y), zero-padded along the last axis -> node
        potentials (2 + d, m[, 2m]) (valid in the first m columns): the charge 1 under w, then the
        charges (1, y) under K (linear convolutions)."""
        c, m, workers = len(grid), self.m, self.workers
        w_hat, k_hat = self._spectra
        if self.d == 1:
            spec = scipy.fft.rfft(grid, n=2 * m, axis=-1, workers=workers)
        else:  # the first transform only sees the m non-zero rows; the last only the m rows kept
            spec = scipy.fft.fft(scipy.fft.rfft(grid, axis=-1, workers=workers), n=2 * m, axis=-2,
                                 workers=workers)  # (C, 2m, m + 1)
        product = np.empty((c + 1,) + spec.shape[1:], dtype=spec.dtype)
        np.multiply(spec[0], w_hat, out=product[0])
        np.multiply(spec, k_hat, out=product[1:])
        if self.d == 1:
            return scipy.fft.irfft(product, n=2 * m, axis=-1, workers=workers)
        back = scipy.fft.ifft(product, axis=-2, workers=workers)[:, :m]
        return scipy.fft.irfft(back, n=2 * m, axis=-1, workers=workers)

    def fit_sources(self, y: np.ndarray) -> None:
        """Spread the charges (1, y) of the source points and compute the node potentials."""
        flat, weights = self._locate(y)
        self._source, self._source_loc = y, (flat, weights)  # evaluate(y) at the sources reuses these
        charges = np.ascontiguousarray(np.concatenate([np.ones((len(y), 1)), y], 1))
        shape = (1 + self.d, self.m) if self.d == 1 else (1 + self.d, self.m, 2 * self.m)
        grid = np.zeros(shape, dtype=np.float32)  # float32 sums: error ~1e-6, far below the interpolation's
        spread_charges(flat, weights, charges, grid.reshape(len(grid), -1))
        self.potentials = self._convolve(grid).reshape(2 + self.d, -1)  # (2 + d, nodes), float32

    def evaluate(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interpolated (R (N, d), Z_i (N,)) at query points against the fitted sources.

        ``R_i = sum_j w_ij^{1+1/a} (y_i - y_j)`` and ``Z_i = sum_j w_ij`` (self term included).
        """
        flat, weights = self._source_loc if y is getattr(self, "_source", None) else self._locate(y)
        if self.potentials is None:
            raise RuntimeError("InterpolationGrid.evaluate before fit_sources")
        phi = gather_potentials(flat, weights, self.potentials)  # (N, 2 + d)
        return y * phi[:, 1:2] - phi[:, 2:], phi[:, 0]
