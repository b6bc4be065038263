"""GaussianMixture: parity with scikit-learn from the same start, EM monotonicity, reg_covar,
bad input, scikit-learn's estimator checks, BIC/AIC, sampling, save/load."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from reprlab.errors import CheckpointError, ConfigError, DataError
from reprlab.mixture import COVARIANCE_TYPES, GaussianMixture, kmeans

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def blobs(seed: int = 0, n: int = 150, offset: float = 100.0) -> np.ndarray:
    """Three anisotropic clusters in 4-D, far from the origin (float cancellation would show)."""
    rng = np.random.default_rng(seed)
    parts = [rng.normal(m, s, (n, 4)) * rng.uniform(0.5, 2, 4) for m, s in ((-3, 1), (0, 0.5), (4, 2))]
    return np.concatenate(parts) + offset


def same_start(x: np.ndarray, covariance_type: str) -> dict:
    """Initial weights, means and precisions both libraries are given (two sklearn EM steps in)."""
    start = SkGaussianMixture(3, covariance_type=covariance_type, max_iter=2, random_state=0).fit(x)
    return dict(weights_init=start.weights_, means_init=start.means_, precisions_init=start.precisions_)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_matches_sklearn_from_the_same_start(covariance_type, dtype):
    """Every iteration's log-likelihood and the final per-sample log-likelihoods and
    responsibilities agree within 1e-4 nats/sample (the bar); float64 agrees to ~1e-9."""
    x = blobs()
    init = same_start(x, covariance_type)
    ref = SkGaussianMixture(3, covariance_type=covariance_type, tol=0, max_iter=15, **init).fit(x)
    ours = GaussianMixture(3, covariance_type=covariance_type, tol=0, max_iter=15, dtype=dtype, **init).fit(x)
    bar = 1e-4 if dtype == "float32" else 1e-8
    assert ours.n_iter_ == ref.n_iter_ == 15
    assert np.abs(np.array(ours.lower_bounds_) - ref.lower_bounds_).max() < bar
    assert np.abs(ours.score_samples(x) - ref.score_samples(x)).max() < bar
    assert np.abs(ours.predict_proba(x) - ref.predict_proba(x)).max() < bar
    assert np.abs(ours.covariances_ - ref.covariances_).max() < bar * np.abs(ref.covariances_).max()
    np.testing.assert_allclose(ours.means_, ref.means_, atol=bar * 100)
    assert (ours.predict(x) == ref.predict(x)).mean() > 0.999
    if dtype == "float64":
        assert ours.bic(x) == pytest.approx(ref.bic(x), abs=1e-5)
        assert ours.aic(x) == pytest.approx(ref.aic(x), abs=1e-5)


def test_default_fit_reaches_sklearns_optimum_and_converges_like_it():
    x = blobs(1)
    ours = GaussianMixture(3, random_state=0).fit(x)
    ref = SkGaussianMixture(3, random_state=0).fit(x)
    assert ours.converged_ and ref.converged_
    assert ours.lower_bound_ == pytest.approx(ref.lower_bound_, abs=1e-4)
    assert ours.lower_bounds_[-1] == ours.lower_bound_ and len(ours.lower_bounds_) == ours.n_iter_


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 4), k=st.integers(1, 4), per=st.integers(8, 30),
       covariance_type=st.sampled_from(COVARIANCE_TYPES),
       init_params=st.sampled_from(["kmeans", "k-means++", "random", "random_from_data"]))
def test_log_likelihood_never_decreases(seed, d, k, per, covariance_type, init_params):
    """EM's defining property (Dempster et al. 1977, theorem 1), per iteration, on heavy-tailed
    data at random scales and offsets; slack 1e-7 nats/sample covers rounding and the O(reg_covar)
    ridge (worst seen over 4,800 fits: see docs/mixture.md)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, (per * k * (d + 1), d)) * rng.uniform(0.1, 10, d) + rng.uniform(-100, 100, d)
    gmm = GaussianMixture(k, covariance_type=covariance_type, init_params=init_params, tol=0, max_iter=25,
                          random_state=seed).fit(x)
    steps = np.diff(gmm.lower_bounds_)
    assert steps.min(initial=0.0) >= -1e-7, (steps.min(), gmm.lower_bounds_)


def test_collapsed_component_is_kept_regular_by_reg_covar():
    """A component on 40 copies of one point: with reg_covar its covariance is exactly
    reg_covar * I (the ridge, nothing else); without it the fit stops with one line naming it."""
    rng = np.random.default_rng(0)
    x = np.concatenate([np.tile([[20.0, 20.0, 20.0]], (40, 1)), rng.normal(0, 1, (200, 3))])
    gmm = GaussianMixture(2, reg_covar=1e-4, random_state=0).fit(x)
    collapsed = int(np.argmin(np.abs(gmm.means_ - 20).sum(1)))
    np.testing.assert_allclose(gmm.covariances_[collapsed], 1e-4 * np.eye(3), atol=1e-9)
    assert gmm.weights_[collapsed] == pytest.approx(40 / 240, abs=1e-6)
    with pytest.raises(DataError, match=r"component \d has a singular covariance.*increase reg_covar") as e:
        GaussianMixture(2, reg_covar=0.0, random_state=0).fit(x)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("make, match", [
    (lambda x: (GaussianMixture(5), x[:3]), r"n_components=5 but X has only 3 rows"),
    (lambda x: (GaussianMixture(2), np.where(np.arange(x.size).reshape(x.shape) == 7, np.nan, x)),
     r"X contains NaN in 1 of 40 rows \(1 of 160 values; the first at row 1, column 3\); drop or impute"),
    (lambda x: (GaussianMixture(2), np.where(np.arange(x.size).reshape(x.shape) == 7, np.inf, x)),
     r"X contains infinity in 1 of 40 rows .*row 1, column 3\); drop or impute"),
    (lambda x: (GaussianMixture(2, covariance_type="ful"), x), r"covariance_type='ful': choose one of 'full', 'tied'"),
    (lambda x: (GaussianMixture(0), x), r"n_components=0: must be an integer >= 1"),
    (lambda x: (GaussianMixture(2, init_params="pca"), x), r"init_params='pca': choose one of"),
    (lambda x: (GaussianMixture(2, means_init=np.zeros((3, 4))), x), r"means_init has shape \(3, 4\).*must be \(2, 4\)"),
    (lambda x: (GaussianMixture(2, weights_init=[0.7, 0.7]), x), r"weights_init must be >= 0 and sum to 1"),
])
def test_bad_input_is_one_clear_line(make, match):
    model, x = make(blobs()[:40])
    with pytest.raises((DataError, ConfigError), match=match) as e:
        model.fit(x)
    assert "\n" not in str(e.value)


def test_cli_style_errors_are_reprlab_errors():
    from reprlab.errors import ReprlabError

    with pytest.raises(ReprlabError):
        GaussianMixture(covariance_type="nope").fit(blobs()[:10])


@parametrize_with_checks([GaussianMixture(random_state=0), GaussianMixture(2, covariance_type="diag", random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def test_bic_picks_the_number_of_clusters_and_aic_bic_follow_their_formulas():
    x = blobs(2)
    fits = {k: GaussianMixture(k, random_state=0).fit(x) for k in range(1, 6)}
    bic = {k: m.bic(x) for k, m in fits.items()}
    assert min(bic, key=bic.get) == 3
    m, n = fits[3], len(x)
    p = 3 * 4 * 5 // 2 + 3 * 4 + 2  # full covariances + means + free weights
    assert m.bic(x) == pytest.approx(-2 * m.score(x) * n + p * np.log(n))
    assert m.aic(x) == pytest.approx(-2 * m.score(x) * n + 2 * p)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_follows_the_fitted_mixture(covariance_type):
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(blobs())
    xs, ys = gmm.sample(60_000)
    assert xs.shape == (60_000, 4) and ys.shape == (60_000,)
    np.testing.assert_allclose(np.bincount(ys, minlength=3) / 60_000, gmm.weights_, atol=0.01)
    k = int(np.argmax(gmm.weights_))
    emp = np.cov(xs[ys == k].T)
    cov = {"full": lambda: gmm.covariances_[k], "tied": lambda: gmm.covariances_,
           "diag": lambda: np.diag(gmm.covariances_[k]), "spherical": lambda: gmm.covariances_[k] * np.eye(4)}
    np.testing.assert_allclose(xs[ys == k].mean(0), gmm.means_[k], atol=0.05 * np.sqrt(np.diag(emp)).max())
    np.testing.assert_allclose(emp, cov[covariance_type](), atol=0.06 * np.abs(emp).max())
    again, _ = gmm.sample(60_000)
    assert np.array_equal(xs, again)  # random_state used afresh per call, as in scikit-learn


def test_warm_start_continues_exactly_where_it_stopped():
    x = blobs(3)
    full = GaussianMixture(3, tol=0, max_iter=10, random_state=0).fit(x)
    warm = GaussianMixture(3, tol=0, max_iter=4, random_state=0, warm_start=True).fit(x)
    first = list(warm.lower_bounds_)
    warm.set_params(max_iter=6).fit(x)
    np.testing.assert_allclose(first + warm.lower_bounds_, full.lower_bounds_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(warm.means_, full.means_, atol=1e-10)


def test_row_chunking_and_tensor_input_change_nothing():
    x = blobs(4)
    ref = GaussianMixture(3, random_state=0).fit(x)
    chunked = GaussianMixture(3, random_state=0, batch_size=7).fit(torch.from_numpy(x))
    np.testing.assert_allclose(chunked.lower_bounds_, ref.lower_bounds_, atol=1e-12)
    np.testing.assert_allclose(chunked.predict_proba(x), ref.predict_proba(x), atol=1e-12)


def test_kmeans_reaches_sklearns_inertia():
    rng = np.random.default_rng(5)
    centers = rng.normal(0, 10, (6, 5))
    x = np.concatenate([c + rng.normal(0, 1, (150, 5)) for c in centers])
    _, labels, inertia = kmeans(torch.from_numpy(x), 6, generator=torch.Generator().manual_seed(0))
    ref = KMeans(6, n_init=10, random_state=0).fit(x)
    assert inertia == pytest.approx(ref.inertia_, rel=1e-9)
    assert len(np.unique(labels.numpy())) == 6


def test_save_load_round_trip_and_damaged_files(tmp_path):
    x = blobs(5)
    gmm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(x)
    path = gmm.save(tmp_path / "gmm.safetensors")
    back = GaussianMixture.load(path)
    np.testing.assert_array_equal(back.predict_proba(x), gmm.predict_proba(x))
    assert back.get_params() == {**gmm.get_params(), "random_state": None}
    assert back.lower_bounds_ == gmm.lower_bounds_ and back.converged_ == gmm.converged_
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x10  # one flipped bit in the arrays
    (tmp_path / "flipped.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        GaussianMixture.load(tmp_path / "flipped.safetensors")
    (tmp_path / "cut.safetensors").write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        GaussianMixture.load(tmp_path / "cut.safetensors")
