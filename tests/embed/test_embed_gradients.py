"""Gradients: exact == autograd of the KL cost (t-SNE and SNE); Barnes-Hut and FFT close to exact."""

import numpy as np
import pytest
import torch

from reprlab.embed.affinity import joint_probabilities
from reprlab.embed.gradients import exact_kl_and_gradient, kl_divergence_autograd, kl_gradient, resolve_method
from reprlab.embed.sne import sne_conditional_p, sne_kl_and_gradient, sne_kl_and_gradient_numpy, sne_kl_autograd
from reprlab.errors import ConfigError


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(1)
    x = np.concatenate([c + rng.normal(size=(50, 6)) for c in rng.normal(0, 5, (4, 6))])
    aff = joint_probabilities(x, 12, method="exact")
    y = rng.normal(0, 4, (len(x), 2))
    return x, aff, y


@pytest.mark.parametrize("dof", [1.0, 0.5, 3.0])
def test_tsne_exact_gradient_equals_autograd(problem, dof):
    _, aff, y = problem
    p = torch.tensor(aff.dense())
    yt = torch.tensor(y, requires_grad=True)
    cost = kl_divergence_autograd(yt, p, dof)
    cost.backward()
    kl, grad = exact_kl_and_gradient(torch.tensor(y), p, dof)
    assert float(kl) == pytest.approx(float(cost.detach()), rel=1e-12)
    np.testing.assert_allclose(grad.numpy(), yt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_tsne_cost_gradcheck_float64():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 3))
    p = torch.tensor(joint_probabilities(x, 3, method="exact").dense())
    y = torch.tensor(rng.normal(size=(12, 2)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda yy: kl_divergence_autograd(yy, p, 1.0), (y,))


def test_sne_gradient_equals_autograd(problem):
    x, _, y = problem
    p = torch.tensor(sne_conditional_p(x, 12))
    yt = torch.tensor(y / 4, requires_grad=True)
    cost = sne_kl_autograd(yt, p)
    cost.backward()
    kl, grad = sne_kl_and_gradient(torch.tensor(y / 4), p)
    assert float(kl) == pytest.approx(float(cost.detach()), rel=1e-10)
    np.testing.assert_allclose(grad.numpy(), yt.grad.numpy(), rtol=1e-8, atol=1e-12)
    p64 = p.numpy()
    kl_np, grad_np = sne_kl_and_gradient_numpy(y / 4, p64, float((p64[p64 > 0] * np.log(p64[p64 > 0])).sum()))
    assert kl_np == pytest.approx(float(cost.detach()), rel=1e-10)
    np.testing.assert_allclose(grad_np, yt.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_kl_of_identical_distributions_is_zero():
    # closed form: a 2-point map has q_12 = q_21 = 1/2, so KL(P || Q) = 0 for p_12 = p_21 = 1/2
    p = torch.tensor([[0.0, 0.5], [0.5, 0.0]], dtype=torch.float64)
    kl, grad = exact_kl_and_gradient(torch.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=torch.float64), p)
    assert float(kl) == pytest.approx(0.0, abs=1e-14)
    np.testing.assert_allclose(grad.numpy(), 0.0, atol=1e-14)


@pytest.mark.parametrize("method, tol", [("barnes_hut", 0.05), ("fft", 5e-3)])
@pytest.mark.parametrize("dof", [1.0, 0.6])
def test_approximate_engines_close_to_exact(problem, method, tol, dof):
    _, aff, y = problem
    kl_ex, g_ex = kl_gradient(y, aff.P, "exact", dof)
    kl, g = kl_gradient(y, aff.P, method, dof)
    assert np.linalg.norm(g - g_ex) / np.linalg.norm(g_ex) < tol
    assert kl == pytest.approx(kl_ex, rel=tol)


def test_barnes_hut_with_theta_zero_is_exact(problem):
    from reprlab.embed.gradients import EngineParams

    _, aff, y = problem
    for d in (1, 2, 3):
        yy = np.ascontiguousarray(np.random.default_rng(d).normal(0, 3, (len(y), d)))
        _, g_ex = kl_gradient(yy, aff.P, "exact")
        _, g = kl_gradient(yy, aff.P, "barnes_hut", params=EngineParams(theta=0.0))
        np.testing.assert_allclose(g, g_ex, rtol=1e-9, atol=1e-12)


def test_engines_handle_duplicate_map_points(problem):
    _, aff, y = problem
    y = y.copy()
    y[1] = y[0]
    y[2] = y[0]
    _, g_ex = kl_gradient(y, aff.P, "exact")
    for method in ("barnes_hut", "fft"):
        _, g = kl_gradient(y, aff.P, method)
        assert np.isfinite(g).all()
        assert np.linalg.norm(g - g_ex) / np.linalg.norm(g_ex) < 0.05


def test_fft_one_dimensional(problem):
    _, aff, y = problem
    y1 = np.ascontiguousarray(y[:, :1])
    _, g_ex = kl_gradient(y1, aff.P, "exact")
    _, g = kl_gradient(y1, aff.P, "fft")
    assert np.linalg.norm(g - g_ex) / np.linalg.norm(g_ex) < 5e-3


def test_engine_dimension_limits():
    with pytest.raises(ConfigError, match="barnes_hut.*n_components <= 3"):
        resolve_method("barnes_hut", 100, 4)
    with pytest.raises(ConfigError, match="fft.*n_components <= 2"):
        resolve_method("fft", 100, 3)
    with pytest.raises(ConfigError, match="not known"):
        resolve_method("fast", 100, 2)
    assert resolve_method("auto", 500, 2) == "barnes_hut"
    assert resolve_method("auto", 20_000, 2) == "fft"
    assert resolve_method("bh", 10, 2) == "barnes_hut"
