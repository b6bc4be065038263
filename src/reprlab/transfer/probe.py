"""Evaluating frozen features: a linear probe (logistic regression) and weighted kNN.

* Linear evaluation (SimCLR, Chen et al. 2020, https://arxiv.org/abs/2002.05709, section B.6;
  Kolesnikov et al. 2019): a multinomial logistic regression on frozen, standardised features,
  fitted to convergence with L-BFGS and an L2 penalty ``1 / (2 C) |W|^2``.
* Weighted kNN (Wu et al. 2018, "Unsupervised Feature Learning via Non-Parametric Instance
  Discrimination", https://arxiv.org/abs/1805.01978, eq. 8): for a test feature ``f`` take its k
  nearest training features by cosine similarity ``s_i`` and vote for class c with
  ``sum_{i in top k, y_i = c} exp(s_i / tau)``; k = 200, tau = 0.07 is the standard protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from reprlab.errors import ConfigError, DataError


@dataclass
class ProbeResult:
    """Accuracy of a classifier on frozen features; ``model`` is the fitted estimator (if any)."""

    accuracy: float
    n_train: int
    n_test: int
    model: Any = None


def _check_pair(x: torch.Tensor, y: torch.Tensor, name: str) -> None:
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise DataError(f"{name}: features must be (N, D) and labels (N,); got {tuple(x.shape)} and "
                        f"{tuple(y.shape)}")
    if len(x) == 0:
        raise DataError(f"{name}: no examples")


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, *, C: float = 1.0, max_iter: int = 1000) -> ProbeResult:
    """Fit logistic regression (L-BFGS) on standardised ``train_x``; report test accuracy.

    Parameters
    ----------
    train_x, test_x: Tensor ``(N, D)`` of frozen features.
    train_y, test_y: LongTensor ``(N,)``.
    C: inverse L2 strength (scikit-learn's convention).
    max_iter: L-BFGS iterations.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _check_pair(train_x, train_y, "linear_probe train")
    _check_pair(test_x, test_y, "linear_probe test")
    if len(torch.unique(train_y)) < 2:
        raise DataError("linear_probe: the training labels hold a single class; use more labels")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    model.fit(train_x.double().numpy(), train_y.numpy())
    acc = float(np.mean(model.predict(test_x.double().numpy()) == test_y.numpy()))
    return ProbeResult(acc, len(train_x), len(test_x), model)


def ridge_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                *, alpha: float = 1e-2) -> list[float]:
    """Test R^2 per target of ridge regression on standardised frozen features (a regression probe).

    Parameters
    ----------
    train_x, test_x: Tensor ``(N, D)`` of frozen features.
    train_y, test_y: Tensor ``(N, F)`` of real-valued targets (e.g. latent factors).
    alpha: L2 strength (scikit-learn's ``Ridge``).

    Returns
    -------
    ``1 - SS_res / SS_tot`` on the test set, one value per target column.
    """
    from sklearn.linear_model import Ridge

    if train_x.ndim != 2 or train_y.ndim != 2 or len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise DataError(f"ridge_probe: features must be (N, D) and targets (N, F); got {tuple(train_x.shape)}, "
                        f"{tuple(train_y.shape)} (train) and {tuple(test_x.shape)}, {tuple(test_y.shape)} (test)")
    xtr, ytr = train_x.double().numpy(), train_y.double().numpy()
    xte, yte = test_x.double().numpy(), test_y.double().numpy()
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-8
    pred = Ridge(alpha=alpha).fit((xtr - mu) / sd, ytr).predict((xte - mu) / sd)
    ss_res = ((pred - yte) ** 2).sum(0)
    ss_tot = ((yte - yte.mean(0)) ** 2).sum(0)
    return [float(v) for v in 1 - ss_res / ss_tot]


def knn_predict(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, *, k: int = 200,
                temperature: float = 0.07, num_classes: int | None = None,
                chunk_size: int = 1024) -> torch.Tensor:
    """Temperature-weighted cosine kNN class predictions ``(M,)`` for ``test_x`` (Wu et al. 2018).

    Votes ``score_c = sum_{i in kNN(f)} [y_i = c] exp(cos(f, x_i) / tau)``; ``k`` is capped at the
    training-set size. Test features are processed ``chunk_size`` at a time.
    """
    if k < 1:
        raise ConfigError(f"k={k}: must be >= 1")
    if temperature <= 0:
        raise ConfigError(f"temperature={temperature}: must be > 0 (standard: 0.07)")
    num_classes = num_classes or int(train_y.max()) + 1
    k = min(k, len(train_x))
    bank = F.normalize(train_x.float(), dim=1)  # (N, D)
    preds = []
    for start in range(0, len(test_x), chunk_size):
        q = F.normalize(test_x[start:start + chunk_size].float(), dim=1)  # (m, D)
        sim, idx = (q @ bank.T).topk(k, dim=1)  # (m, k)
        weights = (sim / temperature).exp()  # (m, k)
        votes = torch.zeros(len(q), num_classes, dtype=weights.dtype)
        votes.scatter_add_(1, train_y[idx].long(), weights)  # (m, C)
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def knn_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                 test_y: torch.Tensor, *, k: int = 200, temperature: float = 0.07) -> ProbeResult:
    """Accuracy of :func:`knn_predict` on ``(test_x, test_y)``."""
    _check_pair(train_x, train_y, "knn train")
    _check_pair(test_x, test_y, "knn test")
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    pred = knn_predict(train_x, train_y, test_x, k=k, temperature=temperature, num_classes=num_classes)
    return ProbeResult(float((pred == test_y).float().mean()), len(train_x), len(test_x))


__all__ = ["ProbeResult", "linear_probe", "ridge_probe", "knn_predict", "knn_accuracy"]
