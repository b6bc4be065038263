"""FFT-accelerated interpolation of the t-SNE repulsive forces (FIt-SNE); private.

Linderman, Rachh, Hoskins, Steinerberger & Kluger (2019), "Fast interpolation-based t-SNE for
improved visualization of single-cell RNA-seq data", Nature Methods 16, 243-245,
https://arxiv.org/abs/1712.09005.

The repulsive term needs, for every point i, sums of a smooth kernel over all points j,

    phi_i = sum_j K(y_i, y_j) c_j,

for a few "charges" c_j (1, y_j). The embedding's bounding box is cut into ``B`` boxes per axis
with ``p`` equispaced Lagrange nodes in each; charges are spread to the nodes with the
Lagrange weights of each point (scatter), the node-to-node sums are a Toeplitz product done by
zero-padded FFT convolution, and the node potentials are interpolated back (gather). Everything
is vectorised numpy: the cost is O(N p^d + (B p)^d log(B p)) per evaluation.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

# FFT sizes that are products of small primes are fast; round the grid up to one of them.
_FAST_SIZES = np.array(sorted({2 ** a * 3 ** b * 5 ** c for a in range(12) for b in range(7)
                               for c in range(5) if 2 ** a * 3 ** b * 5 ** c <= 4096}))


def _n_boxes(extent: float, min_intervals: int, ints_in_interval: float, n_interp: int) -> int:
    want = max(min_intervals, int(np.ceil(extent / ints_in_interval)))
    # the padded FFT length is 2 * B * p; pick B so that it is a fast size
    good = _FAST_SIZES[_FAST_SIZES >= 2 * want * n_interp]
    for size in good:
        if size % (2 * n_interp) == 0:
            return int(size // (2 * n_interp))
    return want


def _lagrange_weights(u: np.ndarray, n_interp: int) -> np.ndarray:
    """Weights of the ``p`` nodes t_k = (k + 1/2)/p for relative positions ``u`` in [0, 1]: (N, p)."""
    nodes = (np.arange(n_interp) + 0.5) / n_interp
    w = np.ones(u.shape + (n_interp,))
    for k in range(n_interp):
        for m in range(n_interp):
            if m != k:
                w[..., k] *= (u - nodes[m]) / (nodes[k] - nodes[m])
    return w


class InterpolationGrid:
    """Grid, interpolation weights and kernel spectra for one set of source points.

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
    """

    def __init__(self, y: np.ndarray, dof: float = 1.0, n_interp: int = 3, min_intervals: int = 50,
                 ints_in_interval: float = 1.0, pad: float = 0.0):
        n, d = y.shape
        if d not in (1, 2):
            raise ValueError(f"FFT interpolation supports 1 or 2 output dimensions, got {d}; "
                             "use method='barnes_hut' or 'exact' for n_components=3")
        self.d, self.p, self.dof = d, n_interp, dof
        lo, hi = y.min(0), y.max(0)
        centre = (lo + hi) / 2
        extent = float((hi - lo).max()) * (1 + 2 * pad) + 1e-8
        self.lower = centre - extent / 2  # (d,)
        self.n_boxes = _n_boxes(extent, min_intervals, ints_in_interval, n_interp)
        self.box = extent / self.n_boxes
        self.m = self.n_boxes * n_interp  # nodes per axis
        spacing = self.box / n_interp
        # kernel on node offsets 0..m-1 arranged for circular convolution of length 2m
        off = np.arange(2 * self.m, dtype=float)
        off[self.m:] = off[self.m:] - 2 * self.m
        off *= spacing
        if d == 1:
            r2 = off ** 2
        else:
            r2 = off[:, None] ** 2 + off[None, :] ** 2
        base = 1.0 + r2 / dof
        w = base ** (-dof)
        # spectra of the kernels w (for the normaliser Z) and w^{1+1/a} (for the forces)
        # in float32: pocketfft is ~3x faster, and its 1e-7 rounding is far below the 1e-3
        # interpolation error even after the y * sum(w) - sum(w y) cancellation in evaluate()
        self._spectra = scipy.fft.rfftn(np.stack([w, w / base]).astype(np.float32), axes=self._axes())
        self.potentials = None

    def _locate(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat node indices (N, p^d) and weights (N, p^d) of points ``y``."""
        rel = (y - self.lower) / self.box  # (N, d)
        box = np.clip(np.floor(rel), 0, self.n_boxes - 1).astype(np.int64)
        lw = _lagrange_weights(rel - box, self.p)  # (N, d, p)
        first = box * self.p  # (N, d) first node index of the box
        ks = np.arange(self.p)
        if self.d == 1:
            return first[:, 0, None] + ks, lw[:, 0, :]
        ix = first[:, 0, None, None] + ks[:, None]  # (N, p, 1)
        iy = first[:, 1, None, None] + ks[None, :]  # (N, 1, p)
        flat = (ix * self.m + iy).reshape(len(y), -1)
        weights = (lw[:, 0, :, None] * lw[:, 1, None, :]).reshape(len(y), -1)
        return flat, weights

    def _axes(self) -> tuple[int, ...]:
        return tuple(range(-self.d, 0))

    def _convolve(self, node_charges: np.ndarray, which: np.ndarray) -> np.ndarray:
        """(C, m^d) charges on nodes -> (C, m^d) potentials; charge c uses kernel ``which[c]``."""
        c = len(node_charges)
        grid = node_charges.reshape((c,) + (self.m,) * self.d).astype(np.float32)
        padded = (2 * self.m,) * self.d
        spec = scipy.fft.rfftn(grid, s=padded, axes=self._axes()) * self._spectra[which]
        out = scipy.fft.irfftn(spec, s=padded, axes=self._axes())
        out = out[(slice(None),) + tuple(slice(0, self.m) for _ in range(self.d))]
        return out.reshape(c, -1).astype(np.float64)

    def fit_sources(self, y: np.ndarray) -> None:
        """Spread the charges (1, y) of the source points and precompute node potentials."""
        idx, wts = self._locate(y)
        self._source, self._source_loc = y, (idx, wts)  # evaluate(y) at the sources reuses these
        size = self.m ** self.d
        flat_idx = idx.ravel()
        charges = [np.ones(len(y))] + [y[:, a] for a in range(self.d)]
        spread = np.stack([np.bincount(flat_idx, weights=(wts * c[:, None]).ravel(), minlength=size)
                           for c in charges])  # (1 + d, m^d)
        # charge 1 under both kernels (Z and the force scale), charges y under w^{1+1/a}
        which = np.array([0] + [1] * (1 + self.d))
        self.potentials = np.ascontiguousarray(
            self._convolve(np.concatenate([spread[:1], spread]), which).T)  # (m^d, 2 + d)

    def evaluate(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interpolated (R (N, d), Z (N,)) at query points against the fitted sources.

        ``R_i = sum_j w_ij^{1+1/a} (y_i - y_j)`` and ``Z_i = sum_j w_ij`` (self term included).
        """
        idx, wts = self._source_loc if y is getattr(self, "_source", None) else self._locate(y)
        pot = np.einsum("nk,nkc->nc", wts, self.potentials[idx])  # (N, 2 + d)
        z = pot[:, 0]
        rep = y * pot[:, 1, None] - pot[:, 2:]
        return rep, z


def fft_repulsive_forces(y: np.ndarray, dof: float = 1.0, n_interp: int = 3, min_intervals: int = 50,
                         ints_in_interval: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(R (N, d), Z (N,)) for all points against each other, self term removed from Z."""
    grid = InterpolationGrid(y, dof, n_interp, min_intervals, ints_in_interval)
    grid.fit_sources(y)
    rep, z = grid.evaluate(y)
    return rep, z - 1.0
