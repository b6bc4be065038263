"""Compiled kernels and the FFT grid against plain numpy references; thread-count independence."""

import numpy as np
import pytest
import scipy.fft
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.embed import TSNE
from reprlab.embed._fft import InterpolationGrid, kernel_spectra
from reprlab.embed._kernels import attractive_forces, bounding_box, gains_momentum_step
from reprlab.errors import ConfigError


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("dof", [0.5, 1.0, 3.0])
def test_kernel_spectra_equal_the_fft_of_the_circular_kernel(d, dof):
    m, spacing = 18, 0.41
    off = np.arange(2 * m, dtype=float)
    off[m:] -= 2 * m  # circular offsets 0..m-1, -m..-1
    off *= spacing
    r2 = off ** 2 if d == 1 else off[:, None] ** 2 + off[None, :] ** 2
    base = 1 + r2 / dof
    w = base ** -dof
    want = scipy.fft.rfftn(np.stack([w, w / base]), axes=tuple(range(1, d + 1)))
    got = kernel_spectra(m, spacing, dof, d)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want.real, rtol=0, atol=2e-6 * np.abs(want).max())
    assert np.abs(want.imag).max() < 1e-9 * np.abs(want).max()  # even kernels: real spectra


def test_grid_evaluates_per_point_sums_for_new_points():
    """``transform`` places points against a fixed map with their own normaliser Z_i."""
    rng = np.random.default_rng(0)
    ref = np.concatenate([c + rng.normal(size=(400, 2)) for c in ([0, 0], [8, 3], [-5, 6])])
    new = rng.uniform(-6, 9, size=(50, 2))
    grid = InterpolationGrid(ref, dof=1.0, pad=0.05)
    grid.fit_sources(ref)
    rep, z = grid.evaluate(new)
    diff = new[:, None, :] - ref[None, :, :]
    w = 1 / (1 + (diff ** 2).sum(-1))
    np.testing.assert_allclose(z, w.sum(1), rtol=2e-3)
    want = ((w ** 2)[:, :, None] * diff).sum(1)
    assert np.linalg.norm(rep - want) / np.linalg.norm(want) < 5e-3


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 40), d=st.integers(1, 3), dof=st.sampled_from([0.5, 1.0, 2.5]), seed=st.integers(0, 999))
def test_attractive_forces_equal_the_dense_formula(n, d, dof, seed):
    rng = np.random.default_rng(seed)
    dense = rng.random((n, n)) * (rng.random((n, n)) < 0.3)
    np.fill_diagonal(dense, 0)
    P = sp.csr_matrix(dense)
    y = rng.normal(size=(n, d))
    forces, sum_p, kl_part = attractive_forces(P.indptr, P.indices, P.data, y, y, dof, True)
    diff = y[:, None, :] - y[None, :, :]
    base = 1 + (diff ** 2).sum(-1) / dof
    np.testing.assert_allclose(forces, ((dense / base)[:, :, None] * diff).sum(1), rtol=1e-10, atol=1e-12)
    nz = dense > 0
    assert sum_p == pytest.approx(dense.sum(), rel=1e-12)
    assert kl_part == pytest.approx((dense[nz] * (np.log(dense[nz]) + dof * np.log(base[nz]))).sum(),
                                    rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("max_step", [np.inf, 0.3])
def test_gains_momentum_step_equals_the_numpy_recipe(center, max_step):
    rng = np.random.default_rng(3)
    y, grad = rng.normal(size=(200, 2)), rng.normal(size=(200, 2))
    update = rng.normal(size=(200, 2)) * (rng.random((200, 2)) < 0.7)  # zeros: sign 0 counts as flipped
    gains = rng.uniform(0.01, 3, size=(200, 2))
    lr, momentum, min_gain = 7.0, 0.8, 0.01
    # the update of van der Maaten & Hinton (2008), sec. 3.4, written with numpy temporaries
    flipped = np.sign(grad) != np.sign(update)
    g_want = np.where(flipped, gains + 0.2, np.maximum(gains * 0.8, min_gain))
    u_want = momentum * update - lr * g_want * grad
    norm = np.linalg.norm(u_want, axis=1, keepdims=True)
    u_want *= np.minimum(1.0, max_step / norm)
    y_want = y + u_want
    if center:
        y_want -= y_want.mean(0)
    gains_momentum_step(y, grad, update, gains, lr, momentum, min_gain, max_step, center)
    np.testing.assert_allclose(gains, g_want, rtol=1e-15)
    np.testing.assert_allclose(update, u_want, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(y, y_want, rtol=1e-12, atol=1e-13)


def test_bounding_box():
    y = np.random.default_rng(4).normal(size=(1000, 2))
    lo, hi = bounding_box(y)
    np.testing.assert_array_equal(lo, y.min(0))
    np.testing.assert_array_equal(hi, y.max(0))


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(5)
    return np.concatenate([c + rng.normal(size=(150, 10)) for c in rng.normal(0, 6, (4, 10))])


@pytest.mark.parametrize("method", ["fft", "barnes_hut"])
def test_result_does_not_depend_on_the_thread_count(blobs, method):
    kw = dict(method=method, early_exaggeration_iter=30, n_iter=30, random_state=0)
    one = TSNE(n_jobs=1, **kw).fit(blobs)
    two = TSNE(n_jobs=2, **kw).fit(blobs)
    np.testing.assert_array_equal(one.embedding_, two.embedding_)
    assert one.kl_divergence_ == two.kl_divergence_


def test_n_jobs_is_a_parameter_and_zero_is_refused(blobs):
    assert TSNE(n_jobs=3).get_params()["n_jobs"] == 3
    with pytest.raises(ConfigError, match="n_jobs=0"):
        TSNE(n_jobs=0, n_iter=1, early_exaggeration_iter=1).fit(blobs)


def test_callbacks_see_the_embedding_in_the_input_order(blobs):
    """The optimiser works in a cache-friendly point order; users never see it."""
    seen = {}

    def stop_at_40(iteration, kl, embedding):
        seen["y"] = embedding.copy()
        return iteration >= 40

    model = TSNE(method="fft", early_exaggeration_iter=20, n_iter=100, callbacks=[stop_at_40],
                 callbacks_every_iters=20, random_state=0).fit(blobs)
    assert model.n_iter_ == 40
    np.testing.assert_array_equal(seen["y"], model.embedding_)


def test_a_callback_stopping_on_the_last_exaggeration_step_ends_the_run(blobs):
    model = TSNE(method="fft", early_exaggeration_iter=40, n_iter=100, callbacks=[lambda it, kl, e: it >= 40],
                 callbacks_every_iters=20, random_state=0).fit(blobs)
    assert model.n_iter_ == 40
