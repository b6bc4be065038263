"""Compiled (numba) inner loops for the embedding estimators; private.

Only loops that a profile showed to dominate live here, each a plain function over arrays:

- :func:`perplexity_search` — per-row bisection for the Gaussian precision (SNE's calibration).
- :func:`attractive_forces` — the sparse ``sum_j p_ij w_ij^{1/a} (y_i - y_j)`` term of the t-SNE gradient.
- :func:`build_tree` / :func:`bh_repulsive_forces` — the Barnes-Hut space-partitioning tree (quadtree
  in 2-D, octree in 3-D, binary in 1-D) and its traversal (van der Maaten 2014).

Every function is compiled with ``cache=True`` so the JIT cost (a few seconds) is paid once per
installation, not per process.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = dict(nogil=True, cache=True, error_model="numpy")  # no ZeroDivisionError checks


@numba.njit(**_JIT)
def perplexity_search(sq_dist: np.ndarray, log_perplexity: float, tol: float = 1e-5,
                      max_iter: int = 200) -> np.ndarray:
    """Row-wise conditional probabilities p_{j|i} with entropy ``log_perplexity`` (nats).

    ``sq_dist`` is (N, K) squared distances to the candidate neighbours (``inf`` excludes an entry).
    Returns (N, K) rows summing to one. Bisection on the precision beta_i = 1/(2 sigma_i^2).
    """
    n, k = sq_dist.shape
    out = np.zeros((n, k))
    for i in range(n):
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


@numba.njit(**_JIT)
def attractive_forces(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, y: np.ndarray,
                      y_ref: np.ndarray, dof: float, with_kl: bool) -> tuple:
    """``F_i = sum_j p_ij w_ij^{1/dof} (y_i - y_ref_j)`` over the sparse rows of P (CSR).

    Returns (forces (N, d), sum_p, sum_j p_ij log(p_ij / w_ij)); the KL terms only when ``with_kl``.
    The Student-t weight is ``w = (1 + |y_i - y_j|^2 / dof)^(-dof)`` (Kobak et al. 2019).
    """
    n, d = y.shape
    forces = np.zeros((n, d))
    kl_parts = np.zeros(n)
    p_parts = np.zeros(n)
    for i in range(n):
        for idx in range(indptr[i], indptr[i + 1]):
            j = indices[idx]
            pij = data[idx]
            dist = 0.0
            for a in range(d):
                diff = y[i, a] - y_ref[j, a]
                dist += diff * diff
            base = 1.0 + dist / dof
            w_pow = 1.0 / base  # w^{1/dof}
            for a in range(d):
                forces[i, a] += pij * w_pow * (y[i, a] - y_ref[j, a])
            if with_kl and pij > 0:
                p_parts[i] += pij
                # log w = -dof * log(base)
                kl_parts[i] += pij * (np.log(pij) + dof * np.log(base))
    return forces, p_parts.sum(), kl_parts.sum()


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


@numba.njit(**_JIT)
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
    for i in range(n):
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
