"""Affinities: exact P equals scikit-learn's, kNN P equals openTSNE's, precomputed == Euclidean."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform

from reprlab.embed.affinity import conditional_probabilities, joint_probabilities, nearest_neighbors
from reprlab.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, (4, 8))
    return np.concatenate([c + rng.normal(size=(60, 8)) for c in centres])


def test_exact_p_matches_sklearn(blobs):
    from sklearn.manifold._t_sne import _joint_probabilities

    ours = joint_probabilities(blobs, 20, method="exact").dense()
    ref = squareform(_joint_probabilities(squareform(pdist(blobs, "sqeuclidean")), 20, 0))
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-12)
    assert ours.sum() == pytest.approx(1.0)


def test_knn_p_matches_opentsne(blobs):
    openTSNE = pytest.importorskip("openTSNE")
    ours = joint_probabilities(blobs, 10, method="knn").dense()
    ref = openTSNE.affinity.PerplexityBasedNN(blobs, perplexity=10, method="exact", random_state=0).P.toarray()
    np.testing.assert_allclose(ours, ref, atol=1e-4 * ref.max())


@settings(max_examples=15, deadline=None)
@given(perplexity=st.floats(2.0, 30.0), seed=st.integers(0, 10_000))
def test_rows_reach_the_target_entropy(perplexity, seed):
    d = np.random.default_rng(seed).exponential(1.0, (5, 60))
    p = conditional_probabilities(d, perplexity)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    entropy = -(p * np.log(np.where(p > 0, p, 1))).sum(1)
    np.testing.assert_allclose(np.exp(entropy), perplexity, rtol=1e-3)


@pytest.mark.parametrize("method", ["exact", "knn"])
def test_precomputed_equals_euclidean(blobs, method):
    a = joint_probabilities(blobs, 15, method=method).dense()
    b = joint_probabilities(squareform(pdist(blobs)), 15, method=method, metric="precomputed").dense()
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)


def test_cosine_metric_is_euclidean_on_unit_vectors(blobs):
    unit = blobs / np.linalg.norm(blobs, axis=1, keepdims=True)
    a = joint_probabilities(blobs, 15, metric="cosine").dense()
    b = joint_probabilities(unit, 15).dense()
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)


def test_nearest_neighbors_match_sklearn(blobs):
    from sklearn.neighbors import NearestNeighbors

    idx, d = nearest_neighbors(blobs, 7)
    ref_d, ref_idx = NearestNeighbors(n_neighbors=7).fit(blobs).kneighbors()
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(d, ref_d ** 2, rtol=1e-9)


def test_duplicate_points_are_handled(blobs):
    x = np.concatenate([blobs, blobs[:10]])  # ten exact duplicates: zero distances
    P = joint_probabilities(x, 10).dense()
    assert np.isfinite(P).all() and P.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("x, kwargs, error, match", [
    (np.ones((10, 3)) * np.nan, {}, DataError, "NaN or inf"),
    (np.full((10, 3), np.inf), {}, DataError, "NaN or inf"),
    (np.random.default_rng(0).normal(size=(10, 3)), {"perplexity": 20}, ConfigError, "perplexity=20.*smaller than"),
    (np.ones((4, 5)), {"metric": "precomputed"}, DataError, "square"),
    (np.triu(np.ones((6, 6)), 1), {"metric": "precomputed"}, DataError, "symmetric"),
    (np.ones(5), {}, DataError, "2-D"),
    (np.ones((10, 3)), {"metric": "hamming-ish"}, ConfigError, "not supported"),
])
def test_bad_input_errors(x, kwargs, error, match):
    """Bad data is a DataError, a bad parameter (for this data) a ConfigError."""
    kwargs = {"perplexity": 2, **kwargs}
    with pytest.raises(error, match=match):
        joint_probabilities(x, **kwargs)


@pytest.mark.slow
def test_approximate_neighbours_recall_and_the_same_p():
    """pynndescent's graph (installed by the ann extra) finds >= 99% of the exact 30 neighbours here,
    in the exact search's format: own index excluded, float64 squared distances, sorted. Slow: the
    library's JIT compilation costs ~40 s of CPU per process."""
    from reprlab.embed.affinity import approximate_neighbors, nearest_neighbors

    x = np.random.default_rng(0).normal(size=(1500, 10))
    a_idx, a_d = approximate_neighbors(x, 30)
    e_idx, e_d = nearest_neighbors(x, 30)
    recall = np.mean([len(np.intersect1d(i, j)) / 30 for i, j in zip(a_idx, e_idx)])
    assert recall >= 0.99 and not (a_idx == np.arange(1500)[:, None]).any()
    assert np.all(np.diff(a_d, axis=1) >= 0)
    np.testing.assert_allclose(a_d, ((x[:, None] - x[a_idx]) ** 2).sum(-1))
    approx = joint_probabilities(x, 10, neighbors="approx")
    exact = joint_probabilities(x, 10, neighbors="exact")
    assert abs(approx.P - exact.P).sum() < 0.02
    with pytest.raises(ConfigError, match="neighbors='approx' needs features"):
        joint_probabilities(squareform(pdist(x[:50])), 10, metric="precomputed", neighbors="approx")
