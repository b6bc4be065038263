"""Compiled (numba) inner loops for the embedding estimators; private.

Only loops that a profile showed to dominate live here, each a plain function over arrays:

- :func:`perplexity_search` — per-row bisection for the Gaussian precision (SNE's calibration).
- :func:`attractive_forces` — the sparse ``sum_j p_ij w_ij^{1/a} (y_i - y_j)`` term of the t-SNE gradient.
- :func:`build_tree` / :func:`bh_repulsive_forces` — the Barnes-Hut space-partitioning tree (quadtree
  in 2-D, octree in 3-D, binary in 1-D) and its traversal (van der Maaten 2014).
- :func:`interpolation_weights`, :func:`spread_charges`, :func:`gather_potentials` — the point-to-grid
  and grid-to-point steps of FFT interpolation (:mod:`reprlab.embed._fft`).
- :func:`gains_momentum_step` — the optimiser's update, one pass instead of a dozen numpy temporaries.
- :func:`kernel_threads` — how many threads they (and scipy.fft and torch) run on, sklearn's ``n_jobs``.

Loops over points run on numba's threads (``prange``) where points are independent; each point's
sum is taken in a fixed order, so results do not depend on the thread count. Every function is
compiled with ``cache=True`` so the JIT cost (tens of seconds) is paid once per installation,
not per process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np

from reprlab.errors import ConfigError
from reprlab.train import torch_threads

_JIT: dict[str, Any] = dict(nogil=True, cache=True, error_model="numpy")  # no ZeroDivisionError checks


@contextmanager
def kernel_threads(n_jobs: int | None) -> Iterator[None]:
    """Threads for the numba kernels, scipy.fft and torch inside the block (sklearn's ``n_jobs``:
    None keeps the current setting, -1 uses every core, k > 0 uses k)."""
    if n_jobs is None:
        yield
        return
    if n_jobs == 0:
        raise ConfigError("n_jobs=0 is not allowed; use a positive count, -1 for all cores, or None")
    cores = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set at import; not in numba's stubs
    n = cores if n_jobs < 0 else min(int(n_jobs), cores)
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        with torch_threads(n):
            yield
    finally:
        numba.set_num_threads(old)


@numba.njit(parallel=True, **_JIT)
def perplexity_search(sq_dist: np.ndarray, log_perplexity: float, tol: float = 1e-5,
                      max_iter: int = 200) -> np.ndarray:
    """Row-wise conditional probabilities p_{j|i} with entropy ``log_perplexity`` (nats).

    ``sq_dist`` is (N, K) squared distances to the candidate neighbours (``inf`` excludes an entry).
    Returns (N, K) rows summing to one. Bisection on the precision beta_i = 1/(2 sigma_i^2).
    """
    n, k = sq_dist.shape
    out = np.zeros((n, k))
    for i in numba.prange(n):
        row = sq_dist[i]
        # shift by the smallest finite distance: exp(-beta (d - d_min)) cannot underflow to all zeros
        d_min = np.inf
        for j in range(k):
            if row[j] < d_min:
                d_min = row[j]
        beta, lo, hi = 1.0, 0.0, np.inf
        p = np.zeros(k)
        for _ in range(max_iter):
            total = 0.0
            weighted = 0.0
            for j in range(k):
                if np.isfinite(row[j]):
                    dj = row[j] - d_min
                    p[j] = np.exp(-beta * dj)
                    total += p[j]
                    weighted += p[j] * dj
                else:
                    p[j] = 0.0
            # H = log(sum) + beta * <d>  (entropy of the normalised row, shifted distances)
            entropy = np.log(total) + beta * weighted / total
            diff = entropy - log_perplexity
            if abs(diff) < tol:
                break
            if diff > 0:  # too flat: sharpen
                lo = beta
                beta = beta * 2.0 if hi == np.inf else (beta + hi) / 2.0
            else:
                hi = beta
                beta = (beta + lo) / 2.0
        s = 0.0
        for j in range(k):
            s += p[j]
        for j in range(k):
            out[i, j] = p[j] / s
    return out


@numba.njit(parallel=True, **_JIT)
def attractive_forces(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, y: np.ndarray,
                      y_ref: np.ndarray, dof: float, with_kl: bool) -> tuple:
    """``F_i = sum_j p_ij w_ij^{1/dof} (y_i - y_ref_j)`` over the sparse rows of P (CSR).

    Returns (forces (N, d), sum_p, sum_j p_ij log(p_ij / w_ij)); the KL terms only when ``with_kl``.
    The Student-t weight is ``w = (1 + |y_i - y_j|^2 / dof)^(-dof)`` (Kobak et al. 2019). Rows are
    split over threads; each row is summed in order, so the result does not depend on the thread count.
    """
    n, d = y.shape
    inv_dof = 1.0 / dof  # multiply instead of dividing: one division per edge is left
    forces = np.zeros((n, d))
    kl_parts = np.zeros(n)
    p_parts = np.zeros(n)
    for i in numba.prange(n):
        kl, ps = 0.0, 0.0
        f0, f1 = 0.0, 0.0  # d == 2 (the common case) accumulates in registers
        for idx in range(indptr[i], indptr[i + 1]):
            j = indices[idx]
            pij = data[idx]
            if d == 2:
                d0, d1 = y[i, 0] - y_ref[j, 0], y[i, 1] - y_ref[j, 1]
                base = 1.0 + (d0 * d0 + d1 * d1) * inv_dof
                c = pij / base  # p_ij w^{1/dof}
                f0 += c * d0
                f1 += c * d1
            else:
                dist = 0.0
                for a in range(d):
                    diff = y[i, a] - y_ref[j, a]
                    dist += diff * diff
                base = 1.0 + dist * inv_dof
                c = pij / base
                for a in range(d):
                    forces[i, a] += c * (y[i, a] - y_ref[j, a])
            if with_kl and pij > 0:
                ps += pij
                kl += pij * (np.log(pij) + dof * np.log(base))  # log w = -dof * log(base)
        if d == 2:
            forces[i, 0] = f0
            forces[i, 1] = f1
        kl_parts[i] = kl
        p_parts[i] = ps
    sum_p, sum_kl = 0.0, 0.0
    for i in range(n):  # a plain loop: an array .sum() would become a thread-order-dependent parfor
        sum_p += p_parts[i]
        sum_kl += kl_parts[i]
    return forces, sum_p, sum_kl


# ------------------------------------------------------------------------------------------------
# Barnes-Hut tree: nodes stored in flat arrays; node 0 is the root. A node is a leaf when it has
# no children; a leaf may hold several coincident points (duplicates) as one mass.
# ------------------------------------------------------------------------------------------------

@numba.njit(**_JIT)
def _fill_tree(y: np.ndarray, cap: int) -> tuple:
    """Insert all points into a tree with room for ``cap`` nodes; ``n_nodes = -1`` if it overflows."""
    n, d = y.shape
    n_child = 1 << d
    centre = np.zeros((cap, d))
    half = np.zeros(cap)
    children = -np.ones((cap, n_child), dtype=np.int64)
    mass = np.zeros(cap)
    com = np.zeros((cap, d))
    point_of = -np.ones(cap, dtype=np.int64)  # a leaf's resident point (or -1 when empty)
    width = 0.0
    for a in range(d):
        lo, hi = y[:, a].min(), y[:, a].max()
        centre[0, a] = (lo + hi) / 2.0
        width = max(width, (hi - lo) / 2.0)
    half[0] = width * (1.0 + 1e-5) + 1e-12
    n_nodes = 1
    for i in range(n):
        node = 0
        depth = 0
        while True:
            m = mass[node]
            for a in range(d):  # running centre of mass on the way down
                com[node, a] = (com[node, a] * m + y[i, a]) / (m + 1.0)
            mass[node] = m + 1.0
            if children[node, 0] == -1:  # a leaf
                if m == 0.0:
                    point_of[node] = i
                    break
                j = point_of[node]
                same = True
                for a in range(d):
                    if y[j, a] != y[i, a]:
                        same = False
                if same or depth > 50:
                    break  # duplicates (or a depth guard) stay together as one mass
                if n_nodes + n_child > cap:
                    return centre, half, children, mass, com, -1
                h = half[node] / 2.0
                for c in range(n_child):
                    children[node, c] = n_nodes + c
                    half[n_nodes + c] = h
                    for a in range(d):
                        centre[n_nodes + c, a] = centre[node, a] + (h if (c >> a) & 1 else -h)
                n_nodes += n_child
                c = 0  # push the resident mass one level down
                for a in range(d):
                    if y[j, a] > centre[node, a]:
                        c |= 1 << a
                k = children[node, c]
                point_of[k] = j
                mass[k] = m
                for a in range(d):
                    com[k, a] = y[j, a]
                point_of[node] = -1
            c = 0
            for a in range(d):
                if y[i, a] > centre[node, a]:
                    c |= 1 << a
            node = children[node, c]
            depth += 1
    return centre, half, children, mass, com, n_nodes


def build_tree(y: np.ndarray) -> tuple:
    """Build a 2^d-ary space-partitioning tree over ``y`` (N, d), d <= 3.

    Returns (centre (M, d), half_width (M,), children (M, 2^d), mass (M,), com (M, d), M).
    """
    cap = 4 * len(y) * (1 << y.shape[1]) + 16
    while True:
        centre, half, children, mass, com, m = _fill_tree(np.ascontiguousarray(y), cap)
        if m > 0:
            return centre[:m], half[:m], children[:m], mass[:m], com[:m], m
        cap *= 2


@numba.njit(parallel=True, **_JIT)
def bh_repulsive_forces(y: np.ndarray, half: np.ndarray, children: np.ndarray, mass: np.ndarray,
                        com: np.ndarray, theta: float, dof: float, exclude_self: bool) -> tuple:
    """Barnes-Hut estimate of ``R_i = sum_j w_ij^{1+1/dof} (y_i - y_j)`` and ``Z_i = sum_j w_ij``.

    A cell of side ``2 h`` at distance ``r`` from the point is summarised by its centre of mass
    when ``2 h / r < theta``. With ``exclude_self`` the point's own contribution (w = 1) is removed.
    Returns (R (N, d), Z (N,)).
    """
    n, d = y.shape
    n_child = children.shape[1]
    rep = np.zeros((n, d))
    z = np.zeros(n)
    theta2 = theta * theta
    for i in numba.prange(n):  # points are independent; each keeps its own stack
        stack = np.empty(64 * n_child + 64, dtype=np.int64)
        top = 0
        stack[top] = 0
        top += 1
        zi = 0.0
        while top > 0:
            top -= 1
            node = stack[top]
            m = mass[node]
            if m == 0.0:
                continue
            dist = 0.0
            for a in range(d):
                diff = y[i, a] - com[node, a]
                dist += diff * diff
            is_leaf = children[node, 0] == -1
            size = 2.0 * half[node]
            if is_leaf or size * size < theta2 * dist:
                base = 1.0 + dist / dof
                w = 1.0 / base if dof == 1.0 else base ** (-dof)  # pow is the costly op here
                wq = w / base  # w^{1 + 1/dof}
                zi += m * w
                for a in range(d):
                    rep[i, a] += m * wq * (y[i, a] - com[node, a])
            else:
                for c in range(n_child):
                    k = children[node, c]
                    if mass[k] > 0.0:
                        if top >= stack.shape[0]:
                            bigger = np.empty(stack.shape[0] * 2, dtype=np.int64)
                            bigger[:top] = stack[:top]
                            stack = bigger
                        stack[top] = k
                        top += 1
        if exclude_self:
            zi -= 1.0
        z[i] = zi
    return rep, z


# ------------------------------------------------------------------------------------------------
# FFT interpolation (FIt-SNE): Lagrange weights of points in a grid, charge spreading and gathering.
# ------------------------------------------------------------------------------------------------

@numba.njit(**_JIT)
def bounding_box(y: np.ndarray) -> tuple:
    """(lower (d,), upper (d,)) corners of the points ``y`` (N, d), in one pass (numpy's axis-0
    min and max of a tall (N, 2) array are each ~10x slower)."""
    n, d = y.shape
    lo = y[0].copy()
    hi = y[0].copy()
    for i in range(1, n):
        for a in range(d):
            v = y[i, a]
            if v < lo[a]:
                lo[a] = v
            elif v > hi[a]:
                hi[a] = v
    return lo, hi


@numba.njit(parallel=True, **_JIT)
def interpolation_weights(y: np.ndarray, lower: np.ndarray, box: float, n_boxes: int, p: int,
                          row_stride: int) -> tuple:
    """Flat node indices (N, p^d) and Lagrange weights (N, p^d) of points ``y`` (N, d), d in {1, 2}.

    The grid has ``n_boxes`` boxes of side ``box`` per axis from ``lower``, each with ``p`` nodes at
    relative positions (k + 1/2)/p; node (a, b) of a 2-D grid has flat index ``a * row_stride + b``.
    """
    n, d = y.shape
    q = p ** d
    flat = np.empty((n, q), dtype=np.int64)
    weights = np.empty((n, q))
    for i in numba.prange(n):
        lw = np.empty((d, p))
        first = np.empty(d, dtype=np.int64)
        for a in range(d):
            rel = (y[i, a] - lower[a]) / box
            b = min(max(int(np.floor(rel)), 0), n_boxes - 1)
            u = rel - b
            first[a] = b * p
            for k in range(p):
                w = 1.0
                tk = (k + 0.5) / p
                for j in range(p):
                    if j != k:
                        tj = (j + 0.5) / p
                        w *= (u - tj) / (tk - tj)
                lw[a, k] = w
        if d == 1:
            for k in range(p):
                flat[i, k] = first[0] + k
                weights[i, k] = lw[0, k]
        else:
            for k in range(p):
                for j in range(p):
                    flat[i, k * p + j] = (first[0] + k) * row_stride + first[1] + j
                    weights[i, k * p + j] = lw[0, k] * lw[1, j]
    return flat, weights


@numba.njit(**_JIT)
def spread_charges(flat: np.ndarray, weights: np.ndarray, charges: np.ndarray, grid: np.ndarray) -> None:
    """Add each point's charges (N, C) to its nodes by its weights: ``grid`` is (C, size), in place."""
    n, q = flat.shape
    c_count = charges.shape[1]
    for i in range(n):  # serial: concurrent points would race on shared nodes
        for k in range(q):
            node = flat[i, k]
            w = weights[i, k]
            for c in range(c_count):
                grid[c, node] += w * charges[i, c]


@numba.njit(parallel=True, **_JIT)
def gather_potentials(flat: np.ndarray, weights: np.ndarray, potentials: np.ndarray) -> np.ndarray:
    """Point potentials (N, C) interpolated from node potentials (C, size)."""
    n, q = flat.shape
    c_count = potentials.shape[0]
    out = np.zeros((n, c_count))
    for i in numba.prange(n):
        for k in range(q):
            node = flat[i, k]
            w = weights[i, k]
            for c in range(c_count):
                out[i, c] += w * potentials[c, node]
    return out


@numba.njit(**_JIT)
def _sign(v: float) -> float:
    return 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)


@numba.njit(**_JIT)
def gains_momentum_step(y: np.ndarray, grad: np.ndarray, update: np.ndarray, gains: np.ndarray,
                        learning_rate: float, momentum: float, min_gain: float, max_step_norm: float,
                        center: bool) -> None:
    """One in-place step of :class:`reprlab.embed.optimizer.GradientDescent` (see its docstring)."""
    n, d = y.shape
    mean = np.zeros(d)
    for i in range(n):
        norm2 = 0.0
        for a in range(d):
            g = grad[i, a]
            if _sign(g) != _sign(update[i, a]):
                gains[i, a] += 0.2
            else:
                gains[i, a] = max(gains[i, a] * 0.8, min_gain)
            u = momentum * update[i, a] - learning_rate * gains[i, a] * g
            update[i, a] = u
            norm2 += u * u
        scale = 1.0
        if norm2 > max_step_norm * max_step_norm:
            scale = max_step_norm / np.sqrt(norm2)
        for a in range(d):
            update[i, a] *= scale
            y[i, a] += update[i, a]
            mean[a] += y[i, a]
    if center:
        for a in range(d):
            mean[a] /= n
        for i in range(n):
            for a in range(d):
                y[i, a] -= mean[a]
