"""t-SNE: t-distributed Stochastic Neighbor Embedding, as a scikit-learn estimator.

van der Maaten & Hinton (2008), "Visualizing Data using t-SNE", JMLR 9:2579-2605,
https://jmlr.org/papers/v9/vandermaaten08a.html. Input affinities P are perplexity-calibrated
Gaussians (:mod:`reprlab.embed.affinity`); map affinities are Student-t,

    q_ij = (1 + |y_i - y_j|^2 / a)^(-a) / sum_{k != l} (1 + |y_k - y_l|^2 / a)^(-a),

and the map minimises C = KL(P || Q). As Hinton's talk puts it, C is a contrastive loss: the
gradient ``4 sum_j (p_ij - q_ij) w_ij^{1/a} (y_i - y_j)`` pulls i towards its neighbours j
and pushes it from *every* point k through the normaliser. Optimisation follows the paper
(momentum, gains, early exaggeration of P for the first iterations), with the learning rate
``N / exaggeration`` of Belkina et al. (2019), Nature Communications 10:5415, and the scaled PCA
start of Kobak & Linderman (2021). Gradient engines: :mod:`reprlab.embed.gradients`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from reprlab.embed import initialization
from reprlab.embed._kernels import kernel_threads
from reprlab.embed.affinity import (
    Affinities,
    NeighborSearch,
    check_data,
    check_neighbors,
    conditional_probabilities,
    joint_probabilities,
    nearest_neighbors,
)
from reprlab.embed.gradients import (
    EngineParams,
    kl_and_half_gradient,
    make_repulsion,
    resolve_method,
    transform_half_gradient,
)
from reprlab.embed.optimizer import Callback, GradientDescent
from reprlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SERIAL_BELOW = 5000  # n_jobs=None runs the FFT engine on one thread below this many points


class TSNE(TransformerMixin, BaseEstimator):
    """t-SNE embedding with exact, Barnes-Hut or FFT-interpolation gradients.

    Parameters
    ----------
    n_components : int, default 2
        Map dimension (FFT: 1 or 2; Barnes-Hut: up to 3; exact: any).
    perplexity : float, default 30
        Effective number of neighbours of the input Gaussians; must be < N - 1.
    early_exaggeration : float, default 12
        Factor on P during the first ``early_exaggeration_iter`` iterations.
    early_exaggeration_iter : int, default 250
    n_iter : int, default 500
        Iterations after the exaggeration phase (openTSNE's ``n_iter``).
    max_iter : int or None, default None
        scikit-learn's name (since 1.5): *all* iterations, the exaggeration phase included; when
        set, the phase after exaggeration runs ``max_iter - early_exaggeration_iter`` iterations
        and ``n_iter`` is ignored. ``max_iter=750`` is the default ``n_iter=500``.
    learning_rate : float or "auto", default "auto"
        Step size in the no-factor-4 gradient convention of bhtsne/FIt-SNE/openTSNE; ``auto`` is
        ``max(N / exaggeration, 50)`` in each phase (Belkina et al. 2019). sklearn's learning
        rates are 4 times larger for the same step.
    initial_momentum, final_momentum : float, default 0.5, 0.8
        Momentum in the exaggeration phase and after (van der Maaten & Hinton 2008).
    dof : float, default 1
        Degrees of freedom of the Student-t map kernel; < 1 gives heavier tails (Kobak et al. 2019).
    method : {"auto", "exact", "barnes_hut", "fft"}, default "auto"
        ``auto``: Barnes-Hut below 10,000 points, FFT from there on (2-D), exact above 3-D.
    affinity : {"auto", "exact", "knn"}, default "auto"
        Exact all-pairs P with the exact engine, else sparse kNN P (3 * perplexity neighbours).
    neighbors : {"exact", "approx"}, default "exact"
        kNN search of the sparse P: exact (chunked brute force), or approximate nearest-neighbour
        descent through pynndescent (as openTSNE; ``pip install 'reprlab[ann]'``). Exact is the
        default from the measurements in docs/benchmarks.md ("Approximate neighbours").
    metric : str, default "euclidean"
        Any of :data:`reprlab.embed.affinity.METRICS`; ``precomputed`` takes an (N, N) distance matrix.
    init : {"pca", "random"} or ndarray (N, n_components), default "pca"
        PCA (classical MDS for precomputed distances) scaled to std 1e-4.
    theta, n_interpolation_points, min_num_intervals, ints_in_interval :
        Barnes-Hut angle and FFT grid settings (see :class:`EngineParams`).
    max_step_norm : float or None, default 5
        Longest allowed step of one point per iteration.
    callbacks : list of callables ``(iteration, kl, embedding) -> bool``, optional
        Called every ``callbacks_every_iters`` iterations; returning True stops the run.
    verbose : bool, default False
        Print openTSNE-style progress to stderr: the affinity step's time, then the KL divergence
        every ``callbacks_every_iters`` iterations with their wall time.
    n_jobs : int or None, default None
        Threads for the compiled kernels, the FFTs and the neighbour search; -1 is every core.
        None: numba's setting (every core), except the FFT engine below 5,000 points, which runs
        on one thread (its many short parallel steps cost more in thread wake-ups than they save;
        docs/benchmarks.md, "Threads").
    random_state : int, RandomState or None

    Attributes
    ----------
    embedding_ : ndarray (N, n_components)
    kl_divergence_ : float
        KL(P || Q) of the final map.
    affinities_ : Affinities
    n_iter_ : int
    method_ : str
        The gradient engine used.
    learning_rate_ : float
        The (final-phase) learning rate used.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> y = TSNE(random_state=0).fit_transform(load_digits().data)   # doctest: +SKIP
    """

    def __init__(self, n_components: int = 2, *, perplexity: float = 30.0, early_exaggeration: float = 12.0,
                 early_exaggeration_iter: int = 250, n_iter: int = 500, max_iter: int | None = None,
                 learning_rate="auto",
                 initial_momentum: float = 0.5, final_momentum: float = 0.8, dof: float = 1.0,
                 method: str = "auto", affinity: str = "auto", neighbors: str = "exact", metric: str = "euclidean",
                 init="pca",
                 theta: float = 0.5, n_interpolation_points: int = 3, min_num_intervals: int = 50,
                 ints_in_interval: float = 1.0, max_step_norm: float | None = 5.0,
                 callbacks: Sequence[Callback] | None = None, callbacks_every_iters: int = 50,
                 verbose: bool = False, n_jobs: int | None = None, random_state=None):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.early_exaggeration_iter = early_exaggeration_iter
        self.n_iter = n_iter
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.initial_momentum = initial_momentum
        self.final_momentum = final_momentum
        self.dof = dof
        self.method = method
        self.affinity = affinity
        self.neighbors = neighbors
        self.metric = metric
        self.init = init
        self.theta = theta
        self.n_interpolation_points = n_interpolation_points
        self.min_num_intervals = min_num_intervals
        self.ints_in_interval = ints_in_interval
        self.max_step_norm = max_step_norm
        self.callbacks = callbacks
        self.callbacks_every_iters = callbacks_every_iters
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- validation ------------------------------------------------------------------------------
    def _check_params(self, n_samples: int) -> str:
        if not (isinstance(self.n_components, (int, np.integer)) and self.n_components >= 1):
            raise ConfigError(f"n_components={self.n_components!r} must be a positive integer")
        if not self.dof > 0:
            raise ConfigError(f"dof={self.dof} must be > 0 (1 is the Cauchy kernel of t-SNE)")
        if self.early_exaggeration <= 0 or self.early_exaggeration_iter < 0 or self.n_iter < 0:
            raise ConfigError("early_exaggeration must be > 0 and the iteration counts >= 0")
        if self.max_iter is not None and not (isinstance(self.max_iter, (int, np.integer))
                                              and self.max_iter >= self.early_exaggeration_iter):
            raise ConfigError(f"max_iter={self.max_iter!r} counts every iteration, the {self.early_exaggeration_iter} "
                              "of early exaggeration included: use max_iter >= early_exaggeration_iter, or n_iter "
                              "for the iterations after exaggeration")
        lr = self.learning_rate
        if not (lr == "auto" or (isinstance(lr, (int, float, np.integer, np.floating)) and not isinstance(lr, bool)
                                 and lr > 0)):
            raise ConfigError(f"learning_rate={self.learning_rate!r} must be 'auto' or a positive number")
        return resolve_method(self.method, n_samples, self.n_components)

    def _n_iter(self) -> int:
        """Iterations after the exaggeration phase (from ``max_iter`` when that is set)."""
        return self.n_iter if self.max_iter is None else int(self.max_iter) - self.early_exaggeration_iter

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        return tags

    def _learning_rate(self, n: int, exaggeration: float) -> float:
        return max(n / exaggeration, 50.0) if self.learning_rate == "auto" else float(self.learning_rate)

    def _n_jobs(self, n_samples: int, method: str) -> int | None:
        if self.n_jobs is None and method == "fft" and n_samples < SERIAL_BELOW:
            return 1
        return self.n_jobs

    def _params(self) -> EngineParams:
        return EngineParams(self.theta, self.n_interpolation_points, self.min_num_intervals,
                            self.ints_in_interval)

    # -- fitting ---------------------------------------------------------------------------------
    def fit(self, X, y=None, *, affinities: Affinities | None = None) -> TSNE:
        """Embed ``X`` (N, D) — or an (N, N) distance matrix when ``metric="precomputed"``.

        ``affinities`` may be a prebuilt :class:`Affinities` (then ``X`` only feeds ``init``).
        """
        x = check_data(X, self.metric, estimator=self, reset=True, min_samples=3)
        method = self._check_params(len(x))
        with kernel_threads(self._n_jobs(len(x), method)):
            return self._fit(x, method, affinities)

    def _fit(self, x: np.ndarray, method: str, affinities: Affinities | None) -> TSNE:
        n = len(x)
        rng = check_random_state(self.random_state)
        if affinities is None:
            kind = self.affinity if self.affinity != "auto" else ("exact" if method == "exact" else "knn")
            check_neighbors(self.neighbors, self.metric)
            search: NeighborSearch = "approx" if kind == "knn" and self.neighbors == "approx" else "exact"
            seed = int(rng.randint(2**31 - 1)) if search == "approx" else None  # exact runs draw nothing
            t0 = time.perf_counter()
            affinities = joint_probabilities(x, self.perplexity, method=kind, metric=self.metric,
                                             neighbors=search, random_state=seed)
            if self.verbose:
                print(f"t-SNE: {kind} affinities of {n} points (perplexity {self.perplexity:g}"
                      f"{', ' + search + ' neighbours' if kind == 'knn' else ''}) in {time.perf_counter() - t0:.2f} s",
                      file=sys.stderr, flush=True)
        P = affinities.P
        y0 = initialization.initial_layout(self.init, x, self.n_components, self.metric, rng)
        self.affinities_, self.method_ = affinities, method
        self.embedding_, self.kl_divergence_, self.n_iter_ = self._optimize(y0, P, method)
        self.learning_rate_ = self._learning_rate(n, 1.0)
        self._x_fit = x
        return self

    def fit_transform(self, X, y=None, **kwargs) -> np.ndarray:
        return self.fit(X, y, **kwargs).embedding_

    def _optimize(self, y: np.ndarray, P: sp.csr_matrix, method: str) -> tuple[np.ndarray, float, int]:
        n = len(y)
        order = _locality_order(P)  # work in an order where neighbours sit close in memory
        inverse = np.argsort(order)
        P = P[order][:, order].tocsr()
        P.sort_indices()
        repulsion = make_repulsion(method, self.dof, self._params())
        y = np.ascontiguousarray(y[order], dtype=np.float64)
        opt = GradientDescent(max_step_norm=self.max_step_norm)
        callbacks = [_in_input_order(cb, inverse) for cb in (self.callbacks or [])]
        if self.verbose:
            callbacks.append(_IterationLog(self.callbacks_every_iters, self.early_exaggeration_iter).log)
        for exaggeration, n_iter, momentum in ((self.early_exaggeration, self.early_exaggeration_iter,
                                                self.initial_momentum),
                                               (1.0, self._n_iter(), self.final_momentum)):
            if n_iter == 0:
                continue
            Pe = P * exaggeration if exaggeration != 1 else P

            def grad(yy: np.ndarray, with_kl: bool, Pe=Pe):
                return kl_and_half_gradient(yy, Pe, repulsion, self.dof, with_kl)

            correct = (lambda kl, e=exaggeration: kl / e - np.log(e))
            y, stopped = opt.run(y, grad, n_iter, self._learning_rate(n, exaggeration), momentum,
                                 callbacks=callbacks, callbacks_every_iters=self.callbacks_every_iters,
                                 kl_correction=correct)
            if stopped:
                break
        kl, _ = kl_and_half_gradient(y, P, repulsion, self.dof, True)
        assert kl is not None  # with_kl=True
        return y[inverse], float(kl), opt.steps

    # -- new points ------------------------------------------------------------------------------
    def transform(self, X, *, perplexity: float = 5.0, n_iter: int = 250, learning_rate: float = 0.1,
                  momentum: float = 0.8, max_grad_norm: float = 0.25, k_init: int = 25) -> np.ndarray:
        """Place new points into the fitted map, keeping the map fixed (Policar et al., openTSNE).

        Each new point gets a point-wise normalised P over its ``3 * perplexity`` nearest training
        points, starts at the median map position of its ``k_init`` nearest training points, and
        is optimised against the fixed reference map by the same gradient (its own normaliser).
        With ``metric="precomputed"``, ``X`` is a (Q, N_train) block of distances.

        Returns
        -------
        ndarray (Q, n_components)
        """
        if not hasattr(self, "embedding_"):
            raise DataError("this TSNE is not fitted yet; call fit(X) before transform(X_new)")
        with kernel_threads(self._n_jobs(len(self.embedding_), self.method_)):
            return self._transform(X, perplexity, n_iter, learning_rate, momentum, max_grad_norm, k_init)

    def _transform(self, X, perplexity: float, n_iter: int, learning_rate: float, momentum: float,
                   max_grad_norm: float, k_init: int) -> np.ndarray:
        if self.metric == "precomputed" and np.shape(X)[1:] != (len(self._x_fit),):
            raise DataError(f"metric='precomputed' transform needs distances to the {len(self._x_fit)} "
                            f"training points, shape (Q, {len(self._x_fit)}); got {np.shape(X)}")
        # features of new points (distances to the training points when precomputed): not a square matrix
        xq = check_data(X, "euclidean" if self.metric == "precomputed" else self.metric, estimator=self,
                        reset=False)
        ref = self.embedding_
        n_ref = len(ref)
        k = min(n_ref, max(int(3 * perplexity), k_init))
        idx, d = nearest_neighbors(self._x_fit, k, self.metric, query=xq)
        cond = conditional_probabilities(d[:, :min(k, int(3 * perplexity))], perplexity)
        kp = cond.shape[1]
        P = sp.csr_matrix((cond.ravel(), (np.repeat(np.arange(len(xq)), kp), idx[:, :kp].ravel())),
                          shape=(len(xq), n_ref))
        y = np.ascontiguousarray(np.median(ref[idx[:, :k_init]], axis=1))
        repulsion = make_repulsion(self.method_, self.dof, self._params(), reference=ref)
        opt = GradientDescent(max_step_norm=None, max_grad_norm=max_grad_norm)

        def grad(yy: np.ndarray, with_kl: bool):
            return None, transform_half_gradient(yy, ref, P, self.dof, repulsion)

        radius = float(np.linalg.norm(ref, axis=1).max()) * 1.05
        y, _ = opt.run(y, grad, n_iter, learning_rate, momentum, center=False, clip_radius=radius)
        return y


def _in_input_order(cb: Callback, inverse: np.ndarray) -> Callback:
    """``cb`` seeing the embedding in the caller's point order (the optimiser works in locality order)."""
    return lambda it, kl, e: cb(it, kl, e[inverse])


class _IterationLog:
    """openTSNE's verbose lines: ``Iteration   50, KL divergence 4.1234, 50 iterations in 0.81 sec``."""

    def __init__(self, every: int, exaggeration_iter: int):
        self.every, self.exaggeration_iter, self.t0 = every, exaggeration_iter, time.perf_counter()

    def log(self, iteration: int, kl: float, embedding: np.ndarray) -> bool:
        now = time.perf_counter()
        phase = " (early exaggeration)" if iteration <= self.exaggeration_iter else ""
        print(f"Iteration {iteration:4d}, KL divergence {kl:.4f}{phase}, {self.every} iterations in "
              f"{now - self.t0:.2f} sec", file=sys.stderr, flush=True)
        self.t0 = now
        return False


def _locality_order(P: sp.csr_matrix) -> np.ndarray:
    """A point order in which neighbours in P get nearby indices (reverse Cuthill-McKee).

    The sparse attractive sum and the FFT grid loops then hit memory that is already in cache:
    at 70,000 points the attractive sum runs ~1.8x faster. Dense (exact) P keeps its order.
    """
    if P.nnz > 0.25 * P.shape[0] ** 2:
        return np.arange(P.shape[0])
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    return np.asarray(reverse_cuthill_mckee(P, symmetric_mode=True), dtype=np.int64)
