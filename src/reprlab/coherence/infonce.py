"""InfoNCE: pick the positive partner among the negatives in the batch.

van den Oord, A., Li, Y. & Vinyals, O. (2018). *Representation Learning with Contrastive
Predictive Coding.* https://arxiv.org/abs/1807.03748 (eq. 4); the bound ``I >= log N - L`` is
their eq. 10 (Poole et al. 2019, https://arxiv.org/abs/1905.06922, give the tight form).

For a batch of N pairs ``(x_i, y_i)`` and a critic ``f``,

    L = -1/N sum_i log( exp f(x_i, y_i) / sum_j exp f(x_i, y_j) )

and ``log N - L`` is a lower bound on I(X; Y) that can never exceed ``log N`` (because L >= 0):
to certify N bits of dependence you need about 2^N negatives — the limitation the talk names.

This module is the general loss, the one reprlab has: paired rows with a critic (:func:`info_nce`,
:class:`InfoNCELoss`) and any score matrix with a positive per row (:func:`info_nce_from_scores`,
which SimCLR's NT-Xent and CPC build on). Other domains import it through ``reprlab.coherence``.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.errors import ConfigError, DataError

Critic = Literal["dot", "cosine", "neg_sq"]
CRITICS: tuple[str, ...] = get_args(Critic)


def check_temperature(temperature: float, where: str = "temperature") -> None:
    """Raise :class:`ConfigError` unless ``temperature > 0`` (scores are divided by it)."""
    if not temperature > 0:  # also catches nan
        raise ConfigError(f"{where}={temperature!r}: must be > 0 (try 0.1; SimCLR uses 0.1-0.5); "
                          "the scores are divided by it")


def critic_scores(x: torch.Tensor, y: torch.Tensor, critic: Critic = "cosine",
                  temperature: float = 0.1) -> torch.Tensor:
    """Score matrix ``f(x_i, y_j) / temperature``, shape ``(N, N)``.

    * ``dot``: ``x_i . y_j``; ``cosine``: dot of L2-normalised rows;
    * ``neg_sq``: ``-||x_i - y_j||^2`` (a Gaussian-kernel critic; suits scalar outputs).

    Parameters
    ----------
    x, y: Tensor, shape ``(N, D)`` (or ``(N,)`` for scalars).
    """
    check_temperature(temperature)
    x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)  # (N, D)
    if critic == "dot":
        s = x @ y.T
    elif critic == "cosine":
        s = F.normalize(x, dim=1) @ F.normalize(y, dim=1).T
    elif critic == "neg_sq":
        s = -torch.cdist(x, y).pow(2)
    else:
        raise ConfigError(f"critic={critic!r}: choose one of {', '.join(CRITICS)}")
    return s / temperature  # (N, N)


def info_nce_from_scores(scores: torch.Tensor, positive: torch.Tensor | None = None, *,
                         exclude: torch.Tensor | None = None, symmetric: bool = False) -> torch.Tensor:
    """Mean InfoNCE loss of each row of a score matrix against its positive column.

    ``L = mean_i -log softmax(scores_i)[positive_i]``: row i scores query i against every
    candidate key (its positive and its negatives).

    Parameters
    ----------
    scores: Tensor, shape ``(M, K)``; ``scores[i, j]`` is the critic of query i and key j.
    positive: LongTensor, shape ``(M,)`` — the column of each row's positive; None: the diagonal
        (``M == K``, query i pairs with key i).
    exclude: LongTensor, shape ``(M,)`` — one column to drop per row (e.g. the query itself among
        the keys, as NT-Xent does), or None.
    symmetric: (diagonal only) also pick query i for each key i (the columns) and average.

    Returns
    -------
    Tensor, shape ``()`` (nats, >= 0).
    """
    if scores.dim() != 2 or (positive is None and scores.shape[0] != scores.shape[1]):
        raise DataError(f"scores of shape {tuple(scores.shape)}: expected a square (N, N) matrix, or "
                        "(M, K) with the positive column of each row")
    m, k = scores.shape
    if k - (exclude is not None) < 2:
        raise DataError(f"InfoNCE needs negatives: got a batch of {k}; use batch_size >= 2")
    if positive is None:
        positive = torch.arange(m, device=scores.device)
    elif symmetric:
        raise ConfigError("symmetric InfoNCE pairs row i with column i: leave positive=None")
    if exclude is not None:
        rows = torch.arange(m, device=scores.device)
        scores = scores.index_put((rows, exclude), torch.tensor(float("-inf"), dtype=scores.dtype,
                                                                device=scores.device))
    loss = F.cross_entropy(scores, positive)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(scores.T, positive))
    return loss


def info_nce(x: torch.Tensor, y: torch.Tensor, temperature: float = 0.1, critic: Critic = "cosine",
             symmetric: bool = False) -> torch.Tensor:
    """InfoNCE loss for paired rows of ``x`` and ``y`` (shape ``(N, D)``), in-batch negatives."""
    if x.shape[0] != y.shape[0]:
        raise DataError(f"x has {x.shape[0]} rows but y has {y.shape[0]}: rows must be paired")
    return info_nce_from_scores(critic_scores(x, y, critic, temperature), symmetric=symmetric)


def info_nce_mi_bound(scores: torch.Tensor) -> torch.Tensor:
    """The InfoNCE mutual-information estimate ``log N - L`` (nats); always ``<= log N``."""
    return math.log(scores.shape[0]) - info_nce_from_scores(scores)


class InfoNCELoss(nn.Module):
    """Module form of :func:`info_nce`; ``forward(x (N, D), y (N, D)) -> loss ()``."""

    def __init__(self, temperature: float = 0.1, critic: Critic = "cosine", symmetric: bool = False):
        super().__init__()
        check_temperature(temperature)
        if critic not in CRITICS:
            raise ConfigError(f"critic={critic!r}: choose one of {', '.join(CRITICS)}")
        self.temperature, self.critic, self.symmetric = temperature, critic, symmetric

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return info_nce(x, y, self.temperature, self.critic, self.symmetric)


# ------------------------------------------------------------------ the log(N) bound, measured
def correlated_gaussians(n: int, dim: int, mi: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    """``n`` pairs of ``dim``-d Gaussians with total mutual information ``mi`` nats.

    Each coordinate pair has correlation ``rho`` with ``-dim/2 log(1 - rho^2) = mi``;
    returns ``(x (n, dim), y (n, dim), rho)``.
    """
    rho = math.sqrt(1.0 - math.exp(-2.0 * mi / dim))
    x = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    y = rho * x + math.sqrt(1 - rho ** 2) * torch.randn(n, dim, generator=generator, dtype=torch.float64)
    return x, y, rho


def optimal_gaussian_scores(x: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
    """The optimal critic ``log p(y_j | x_i) / p(y_j)`` (up to terms in i) for the pairs above.

    With this critic InfoNCE is as tight as it can be, so any gap to the true MI is the bound's.
    """
    v = 1.0 - rho ** 2
    d = torch.cdist(rho * x, y).pow(2)  # (N, N): ||y_j - rho x_i||^2
    return -d / (2 * v) + 0.5 * y.pow(2).sum(1)[None, :]  # (N, N)


def infonce_bound_curve(true_mis: list[float], batch_sizes: list[int], dim: int = 4,
                        n_batches: int = 20, seed: int = 0) -> dict[int, list[float]]:
    """InfoNCE estimate (optimal critic, mean over ``n_batches``) per batch size per true MI."""
    g = torch.Generator().manual_seed(seed)
    out: dict[int, list[float]] = {}
    for bsz in batch_sizes:
        row = []
        for mi in true_mis:
            ests = []
            for _ in range(n_batches):
                x, y, rho = correlated_gaussians(bsz, dim, mi, g)
                ests.append(float(info_nce_mi_bound(optimal_gaussian_scores(x, y, rho))))
            row.append(sum(ests) / len(ests))
        out[bsz] = row
    return out


def plot_infonce_bound(true_mis: list[float], curves: dict[int, list[float]], path) -> None:
    """Estimated vs true MI, one line per batch size, with each log(batch) ceiling dashed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reprlab.io import save_figure

    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(true_mis, true_mis, color="k", lw=1, label="true MI")
    for i, (bsz, est) in enumerate(sorted(curves.items())):
        color = f"C{i}"
        ax.plot(true_mis, est, marker="o", ms=3, color=color, label=f"InfoNCE, batch {bsz}")
        ax.axhline(math.log(bsz), color=color, ls="--", lw=0.8)
    ax.set_xlabel("true mutual information (nats)")
    ax.set_ylabel("InfoNCE estimate log N - L (nats)")
    ax.set_title("InfoNCE is capped at log(batch size)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
