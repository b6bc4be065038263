"""Modified LLE (Zhang & Wang 2006): parity with scikit-learn's method="modified", errors, sklearn API."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_swiss_roll
from sklearn.manifold import LocallyLinearEmbedding
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reprlab.embed import LLE, locally_linear_embedding
from reprlab.errors import ConfigError


@pytest.fixture(scope="module")
def swiss_roll():
    return make_swiss_roll(600, random_state=0)[0]  # (600, 3): k > D, the SVD branch


@pytest.fixture(scope="module")
def digits():
    x = load_digits().data[:500]
    # jitter breaks the exact distance ties of 4-bit pixels, so both sides pick the same neighbours
    return x + np.random.default_rng(0).uniform(-1e-3, 1e-3, x.shape)  # (500, 64): k < D, the eigh branch


def procrustes(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``y`` rotated/reflected onto ``ref`` by the orthogonal Procrustes solution."""
    u, _, vt = np.linalg.svd(y.T @ ref)
    return y @ u @ vt


def assert_same_map(ours: LLE, ref: LocallyLinearEmbedding) -> None:
    assert ours.reconstruction_error_ == pytest.approx(ref.reconstruction_error_, rel=1e-6)
    y = procrustes(ours.embedding_, ref.embedding_)
    for j in range(y.shape[1]):
        assert abs(np.corrcoef(y[:, j], ref.embedding_[:, j])[0, 1]) > 0.99
    # measured: 1e-14 on both data sets; unit-norm columns, so entries are ~0.04
    np.testing.assert_allclose(y, ref.embedding_, atol=1e-6)


@pytest.mark.parametrize("data, n_neighbors, tol", [
    ("swiss_roll", 12, 1e-12), ("swiss_roll", 8, 10.0), ("digits", 12, 1e-12)])
def test_modified_lle_matches_sklearn(data, n_neighbors, tol, request):
    x = request.getfixturevalue(data)
    kw = dict(n_neighbors=n_neighbors, method="modified", modified_tol=tol, random_state=0)
    assert_same_map(LLE(**kw).fit(x), LocallyLinearEmbedding(**kw).fit(x))


def test_modified_lle_function_matches_sklearn_with_the_dense_solver(swiss_roll):
    x = swiss_roll[:300]
    y, err = locally_linear_embedding(x, n_neighbors=12, method="modified", eigen_solver="dense")
    ref = LocallyLinearEmbedding(n_neighbors=12, method="modified", eigen_solver="dense").fit(x)
    assert err == pytest.approx(ref.reconstruction_error_, rel=1e-9)
    np.testing.assert_allclose(procrustes(y, ref.embedding_), ref.embedding_, atol=1e-8)


def test_modified_lle_reproduces_a_plane_exactly():
    rng = np.random.default_rng(1)
    uv = rng.uniform(-1, 1, (150, 2))
    basis = np.linalg.qr(rng.normal(size=(5, 2)))[0]  # (5, 2) orthonormal
    # reg bounds the exactness (measured error 2.3e-6 at sklearn's fixed 1e-3, 2.4e-12 at 1e-6, ~0 at 1e-9)
    y, err = locally_linear_embedding(uv @ basis.T + 3.0, n_neighbors=10, method="modified", reg=1e-9,
                                      eigen_solver="dense")
    assert abs(err) < 1e-10
    # the map is an affine image of the plane's coordinates: a linear fit explains it fully
    design = np.column_stack([np.ones(150), uv])
    resid = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    assert np.abs(resid).max() < 1e-6 * np.abs(y).max()


@pytest.mark.parametrize("n_neighbors", [1, 2])
def test_modified_lle_needs_more_neighbours_than_components(n_neighbors):
    x = np.random.default_rng(0).normal(size=(40, 4))
    with pytest.raises(ConfigError, match=rf"method='modified' needs n_neighbors > n_components.*"
                                        rf"n_neighbors={n_neighbors}.*raise n_neighbors to at least 12"):
        LLE(n_neighbors=n_neighbors, n_components=2, method="modified").fit(x)


def test_unknown_method_names_modified():
    with pytest.raises(ConfigError, match="'standard', 'hessian' or 'modified'"):
        LLE(method="ltsa").fit(np.random.default_rng(0).normal(size=(40, 4)))


def test_modified_tol_is_a_parameter():
    est = LLE(method="modified", modified_tol=1e-9)
    assert est.get_params()["modified_tol"] == 1e-9
    assert est.set_params(modified_tol=1e-6).modified_tol == 1e-6
    assert clone(est).get_params() == est.get_params()


def test_modified_lle_in_a_pipeline_transforms_like_sklearn(swiss_roll):
    train, new = swiss_roll[:500], swiss_roll[500:]
    ours = make_pipeline(StandardScaler(), LLE(n_neighbors=12, method="modified", random_state=0)).fit(train)
    ref = make_pipeline(StandardScaler(), LocallyLinearEmbedding(n_neighbors=12, method="modified",
                                                                 random_state=0)).fit(train)
    u, _, vt = np.linalg.svd(ours[-1].embedding_.T @ ref[-1].embedding_)
    # new points: barycentric weights on the fitted map, the same rotation as the training map
    np.testing.assert_allclose(ours.transform(new) @ u @ vt, ref.transform(new), atol=1e-6)
    assert ours.fit_transform(train).shape == (500, 2)
