"""SNE: the original, asymmetric Stochastic Neighbor Embedding, as a scikit-learn estimator.

Hinton & Roweis (2002), "Stochastic Neighbor Embedding", NIPS 15,
https://papers.nips.cc/paper/2276-stochastic-neighbor-embedding. Each point i defines Gaussian
neighbour probabilities in the input (perplexity-calibrated, :mod:`reprlab.embed.affinity`) and
in the map (fixed precision 1),

    p_{j|i} = exp(-beta_i d_ij^2) / sum_{k != i} exp(-beta_i d_ik^2),
    q_{j|i} = exp(-|y_i - y_j|^2) / sum_{k != i} exp(-|y_i - y_k|^2),

    C = sum_i KL(P_i || Q_i),   dC/dy_i = 2 sum_j (p_{j|i} - q_{j|i} + p_{i|j} - q_{i|j}) (y_i - y_j).

Only the dissimilarities d_ij enter, so ``metric="precomputed"`` embeds any distance matrix. The
gradient is exact and O(N^2) (torch); SNE's Gaussian map kernel has no heavy tail, which is the
crowding problem t-SNE was introduced to fix.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from reprlab.embed import initialization
from reprlab.embed.affinity import check_data, check_perplexity, conditional_probabilities, pairwise_sq_distances
from reprlab.embed.optimizer import Callback, GradientDescent
from reprlab.errors import ConfigError

log = logging.getLogger(__name__)


def sne_conditional_p(x: np.ndarray, perplexity: float, metric: str = "euclidean") -> np.ndarray:
    """Dense (N, N) p_{j|i} (rows sum to one, zero diagonal)."""
    d = pairwise_sq_distances(x, metric)
    np.fill_diagonal(d, np.inf)
    p = conditional_probabilities(d, perplexity)
    np.fill_diagonal(p, 0.0)
    return p


def sne_kl_and_gradient(y: torch.Tensor, p: torch.Tensor, p_log_p: float | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Cost sum_i KL(P_i || Q_i) and its exact gradient for conditional P (N, N) and map y (N, d).

    ``p_log_p`` (the constant sum p log p) may be passed to skip recomputing it every iteration.
    """
    sq = ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1)  # (N, N)
    sq.fill_diagonal_(1e300)  # excludes j = i from the softmax without inf * 0 = nan below
    log_q = torch.log_softmax(sq.neg_(), dim=1)  # log q_{j|i}
    if p_log_p is None:
        p_log_p = torch.special.xlogy(p, p).sum()
    kl = p_log_p - (p * log_q).sum()
    d = p - log_q.exp_()  # p_{j|i} - q_{j|i}, (N, N)
    m = d + d.T
    grad = 2.0 * (m.sum(1, keepdim=True) * y - m @ y)  # (N, d)
    return kl, grad


def sne_kl_and_gradient_numpy(y: np.ndarray, p: np.ndarray, p_log_p: float) -> tuple[float, np.ndarray]:
    """:func:`sne_kl_and_gradient` in numpy (no thread start-up cost per call on small maps)."""
    from reprlab.embed.gradients import squared_distances

    logits = -squared_distances(y)  # (N, N)
    np.fill_diagonal(logits, -np.inf)
    top = logits.max(1, keepdims=True)
    log_q = logits - (top + np.log(np.exp(logits - top).sum(1, keepdims=True)))
    q = np.exp(log_q)
    np.fill_diagonal(log_q, 0.0)
    kl = p_log_p - float((p * log_q).sum())
    d = p - q
    m = d + d.T
    return kl, 2.0 * (m.sum(1, keepdims=True) * y - m @ y)


def sne_kl_autograd(y: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """The same cost written plainly, for checking the gradient with autograd."""
    n = y.shape[0]
    diff = y[:, None, :] - y[None, :, :]
    logits = -(diff ** 2).sum(-1) - torch.diag(torch.full((n,), float("inf"), dtype=y.dtype))
    q = torch.softmax(logits, dim=1)
    keep = p > 0
    return (p[keep] * torch.log(p[keep] / q[keep])).sum()


class SNE(TransformerMixin, BaseEstimator):
    """Stochastic Neighbor Embedding (Hinton & Roweis 2002) with an exact gradient.

    Parameters
    ----------
    n_components : int, default 2
    perplexity : float, default 30
    n_iter : int, default 1000
    learning_rate : float, default 0.3
        Step size for the exact gradient above (rows of P each sum to one, so it does not scale with N).
    early_exaggeration, early_exaggeration_iter : float, int, default 4, 100
        Multiply P by this factor for the first iterations (helps clusters form, as in t-SNE).
    initial_momentum, final_momentum : float, default 0.5, 0.8
    metric : str, default "euclidean" (or "precomputed" for an (N, N) distance matrix)
    init : {"pca", "random"} or ndarray, default "pca"
    callbacks : list of callables ``(iteration, kl, embedding) -> bool``, optional
        Called every ``callbacks_every_iters`` iterations with sum_i KL(P_i || Q_i) (without the
        exaggeration); returning True stops the run (as :class:`reprlab.embed.TSNE`'s).
    random_state : int, RandomState or None

    Attributes
    ----------
    embedding_ : ndarray (N, n_components)
    kl_divergence_ : float
        sum_i KL(P_i || Q_i) of the final map.
    n_iter_ : int
    """

    def __init__(self, n_components: int = 2, *, perplexity: float = 30.0, n_iter: int = 1000,
                 learning_rate: float = 0.3, early_exaggeration: float = 4.0, early_exaggeration_iter: int = 100,
                 initial_momentum: float = 0.5, final_momentum: float = 0.8, metric: str = "euclidean",
                 init="pca", callbacks: Sequence[Callback] | None = None, callbacks_every_iters: int = 50,
                 random_state=None):
        self.n_components = n_components
        self.perplexity = perplexity
        self.n_iter = n_iter
        self.learning_rate = learning_rate
        self.early_exaggeration = early_exaggeration
        self.early_exaggeration_iter = early_exaggeration_iter
        self.initial_momentum = initial_momentum
        self.final_momentum = final_momentum
        self.metric = metric
        self.init = init
        self.callbacks = callbacks
        self.callbacks_every_iters = callbacks_every_iters
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        return tags

    def fit(self, X, y=None) -> SNE:
        """Embed ``X`` (N, D), or an (N, N) distance matrix with ``metric="precomputed"``."""
        x = check_data(X, self.metric, estimator=self, reset=True, min_samples=2)
        n = len(x)
        check_perplexity(self.perplexity, n)
        if self.learning_rate <= 0 or self.n_iter < 0:
            raise ConfigError(f"learning_rate={self.learning_rate} must be > 0 and n_iter >= 0")
        p = sne_conditional_p(x, self.perplexity, self.metric)  # (N, N)
        rng = check_random_state(self.random_state)
        y0 = initialization.initial_layout(self.init, x, self.n_components, self.metric, rng)
        y0 = y0 * 1e2  # SNE's Gaussian map kernel has unit width: start at std 0.01, not 1e-4
        opt = GradientDescent(max_step_norm=5.0)
        phases = ((self.early_exaggeration, min(self.early_exaggeration_iter, self.n_iter), self.initial_momentum),
                  (1.0, max(self.n_iter - self.early_exaggeration_iter, 0), self.final_momentum))
        yk = np.ascontiguousarray(y0)
        p_total = float(p.sum())
        for factor, n_iter, momentum in phases:
            pe = p * factor
            plogp = float((pe[pe > 0] * np.log(pe[pe > 0])).sum())

            def grad(yy: np.ndarray, with_kl: bool, pe=pe, plogp=plogp):
                return sne_kl_and_gradient_numpy(yy, pe, plogp)

            # KL(eP || Q) = e KL(P || Q) + e log(e) sum(P): the callbacks see the unexaggerated cost
            correct = (lambda kl, e=factor: kl / e - np.log(e) * p_total)
            yk, stopped = opt.run(yk, grad, n_iter, self.learning_rate, momentum, callbacks=self.callbacks or (),
                                  callbacks_every_iters=self.callbacks_every_iters, kl_correction=correct)
            if stopped:
                break
        kl, _ = sne_kl_and_gradient_numpy(yk, p, float((p[p > 0] * np.log(p[p > 0])).sum()))
        self.embedding_, self.kl_divergence_, self.n_iter_ = yk, float(kl), self.n_iter
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X, y).embedding_
