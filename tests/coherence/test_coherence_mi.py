"""KSG estimator and Gaussian closed forms; the IMAX failure mode measured against KSG."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reprlab.coherence.imax import imax_scalar
from reprlab.coherence.mi import gaussian_mi, gaussian_mi_for_snr, gaussian_mi_from_covariance, ksg_mutual_information
from reprlab.errors import DataError


def _pairs(rho: float, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, rho * x + math.sqrt(1 - rho ** 2) * rng.standard_normal(n)


def test_closed_forms_agree():
    for rho in (0.2, 0.7, 0.95):
        assert gaussian_mi(rho) == pytest.approx(gaussian_mi_from_covariance(np.array([[1, rho], [rho, 1]]), 1))
    assert gaussian_mi_for_snr(1.0, 2.0) == pytest.approx(0.5 * math.log(2.0))


@pytest.mark.parametrize("rho", [0.3, 0.8, 0.95])
def test_ksg_matches_scikit_learn_on_the_same_data(rho):
    from sklearn.feature_selection import mutual_info_regression

    x, y = _pairs(rho, 1500)
    ref = mutual_info_regression(x[:, None], y, n_neighbors=3, random_state=0)[0]
    assert ksg_mutual_information(x, y, k=3) == pytest.approx(ref, abs=1e-3)


@pytest.mark.parametrize("rho", [0.0, 0.6, 0.9])
def test_ksg_recovers_gaussian_mi(rho):
    x, y = _pairs(rho, 3000, seed=1)
    assert ksg_mutual_information(x, y, k=3) == pytest.approx(gaussian_mi(rho), abs=0.04)


def test_ksg_vector_gaussian():
    rng = np.random.default_rng(2)
    cov = np.array([[1, 0.5, 0.3, 0.0], [0.5, 1, 0.2, 0.4], [0.3, 0.2, 1, 0.1], [0.0, 0.4, 0.1, 1]])
    xy = rng.multivariate_normal(np.zeros(4), cov, size=4000)
    assert ksg_mutual_information(xy[:, :2], xy[:, 2:]) == pytest.approx(gaussian_mi_from_covariance(cov, 2), abs=0.05)


def test_failure_mode_heavy_tails_fool_the_gaussian_objective():
    """Two outputs that share one rare binary event, with large spikes: IMAX reads nats of
    information, the true MI is at most H(event) (~0.056 nats) and KSG sees about that."""
    rng = np.random.default_rng(0)
    n, p = 4000, 0.01
    event = (rng.random(n) < p).astype(np.float64)
    a = 100 * event + rng.standard_normal(n)
    b = 100 * event + rng.standard_normal(n)
    entropy = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    imax = float(imax_scalar(torch.tensor(a), torch.tensor(b)))
    gauss = float(imax_scalar(torch.tensor(a), torch.tensor(b), form="gaussian"))
    ksg = ksg_mutual_information(a, b)
    assert imax > 2.0 and gauss > 1.5  # vs at most 0.056 nats of real dependence
    assert ksg < 2 * entropy + 0.05
    assert imax > 20 * ksg


def test_bad_inputs():
    with pytest.raises(DataError, match="x has 5 samples but y has 4"):
        ksg_mutual_information(np.zeros(5), np.zeros(4))
    with pytest.raises(DataError, match="k=10 with 5 samples"):
        ksg_mutual_information(np.random.rand(5), np.random.rand(5), k=10)
    with pytest.raises(DataError, match="NaN"):
        ksg_mutual_information(np.array([0.0, np.nan, 1.0]), np.zeros(3), k=1)
    with pytest.raises(DataError, match=r"\|rho\| must be < 1"):
        gaussian_mi(1.0)
