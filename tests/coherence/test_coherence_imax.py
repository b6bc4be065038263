"""IMAX objective: closed forms, gradients, errors, and the planar-stereogram bar."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.coherence.imax import (
    IMAXConfig,
    IMAXObjective,
    imax_information,
    imax_interpolation,
    imax_scalar,
    imax_vector,
)
from reprlab.coherence.mi import gaussian_mi, gaussian_mi_for_snr, gaussian_mi_from_covariance
from reprlab.errors import ConfigError, DataError

from .coherence_reference import exact_covariance_samples, imax_scalar_reference


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9, 0.99])
def test_gaussian_form_equals_closed_form_mi(rho):
    ab = torch.tensor(exact_covariance_samples(np.array([[1.0, rho], [rho, 1.0]]), 500))
    got = float(imax_scalar(ab[:, 0], ab[:, 1], eps=0.0, form="gaussian"))
    assert got == pytest.approx(-0.5 * math.log(1 - rho ** 2), rel=1e-9)
    assert got == pytest.approx(gaussian_mi(rho), rel=1e-9)


@pytest.mark.parametrize("signal_var,noise_var", [(1.0, 1.0), (4.0, 0.5), (0.2, 3.0)])
def test_imax_equals_information_about_the_common_signal(signal_var, noise_var):
    # a = s + n_a, b = s + n_b: cov(a, b) = [[S + N, S], [S, S + N]], rho = S / (S + N)
    cov = np.array([[signal_var + noise_var, signal_var], [signal_var, signal_var + noise_var]])
    ab = torch.tensor(exact_covariance_samples(cov, 400, seed=1))
    got = float(imax_scalar(ab[:, 0], ab[:, 1], eps=0.0))
    rho = signal_var / (signal_var + noise_var)
    assert got == pytest.approx(gaussian_mi_for_snr(signal_var, noise_var), rel=1e-9)  # I(s; (a+b)/2)
    assert got == pytest.approx(0.5 * math.log((1 + rho) / (1 - rho)), rel=1e-9)
    # the relationship to I(a; b) = -1/2 log(1 - rho^2)
    assert got == pytest.approx(gaussian_mi(rho) + math.log(1 + rho), rel=1e-9)
    assert got == pytest.approx(imax_scalar_reference(ab[:, 0].numpy(), ab[:, 1].numpy()), rel=1e-9)


def test_imax_on_random_gaussian_samples_matches_population_value():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(200_000, generator=g, dtype=torch.float64)
    a = s + 0.5 * torch.randn(200_000, generator=g, dtype=torch.float64)
    b = s + 0.5 * torch.randn(200_000, generator=g, dtype=torch.float64)
    assert float(imax_scalar(a, b)) == pytest.approx(gaussian_mi_for_snr(1.0, 0.25), abs=0.01)


def test_vector_imax_with_known_covariances():
    rng = np.random.default_rng(0)
    d = 3
    m = rng.standard_normal((d, d))
    sig_s = m @ m.T + 0.5 * np.eye(d)
    m = rng.standard_normal((d, d))
    sig_n = m @ m.T / d + 0.3 * np.eye(d)
    joint = np.block([[sig_s + sig_n, sig_s], [sig_s, sig_s + sig_n]])
    ab = torch.tensor(exact_covariance_samples(joint, 600, seed=2))
    a, b = ab[:, :d], ab[:, d:]
    # 1/2 log |S_{a+b}| / |S_{a-b}| = 1/2 log |4 Ss + 2 Sn| / |2 Sn| = I(s; (a+b)/2)
    expected = 0.5 * np.linalg.slogdet(np.eye(d) + 2 * np.linalg.solve(sig_n, sig_s))[1]
    assert float(imax_vector(a, b, eps=0.0)) == pytest.approx(expected, rel=1e-9)
    assert float(imax_vector(a, b, eps=0.0, form="gaussian")) == pytest.approx(
        gaussian_mi_from_covariance(joint, d), rel=1e-9)
    # dispatch by width
    assert float(imax_information(a, b, 0.0)) == pytest.approx(expected, rel=1e-9)


def test_interpolation_form_closed_case():
    # a_i = s + noise, prediction from the neighbours = s + independent noise of the same size
    cov = np.array([[2.0, 1.0], [1.0, 2.0]])
    ap = torch.tensor(exact_covariance_samples(cov, 300, seed=3))
    got = float(imax_interpolation(ap[:, :1], ap[:, 1:], eps=0.0))
    assert got == pytest.approx(0.5 * math.log(2.0 / 2.0), abs=1e-9)  # V(a) = V(a - â) = 2
    ap2 = torch.tensor(exact_covariance_samples(np.array([[1.0, 0.9], [0.9, 1.0]]), 300, seed=4))
    assert float(imax_interpolation(ap2[:, :1], ap2[:, 1:], eps=0.0)) == pytest.approx(0.5 * math.log(1 / 0.2))


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 1, dtype=torch.float64, generator=g, requires_grad=True)
    b = (a.detach() + torch.randn(6, 1, dtype=torch.float64, generator=g)).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: imax_scalar(x, y), (a, b))
    assert torch.autograd.gradcheck(lambda x, y: imax_scalar(x, y, form="gaussian"), (a, b))
    av = torch.randn(8, 2, dtype=torch.float64, generator=g, requires_grad=True)
    bv = (av.detach() + torch.randn(8, 2, dtype=torch.float64, generator=g)).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: imax_vector(x, y), (av, bv))
    assert torch.autograd.gradcheck(lambda x, y: imax_interpolation(x, y), (av, bv))


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.01, 100.0), shift=st.floats(-10, 10), seed=st.integers(0, 1000))
def test_imax_is_invariant_to_a_shared_affine_map(scale, shift, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(64, dtype=torch.float64, generator=g)
    b = a + torch.randn(64, dtype=torch.float64, generator=g)
    base = float(imax_scalar(a, b, eps=0.0))
    assert float(imax_scalar(scale * a + shift, scale * b + shift, eps=0.0)) == pytest.approx(base, abs=1e-7)


def test_batch_of_one_is_a_clear_error():
    with pytest.raises(DataError, match="batch of 1.*batch_size >= 2"):
        imax_scalar(torch.ones(1), torch.ones(1))
    with pytest.raises(DataError, match="batch of 1"):
        imax_vector(torch.ones(1, 2), torch.ones(1, 2))
    obj = IMAXObjective(IMAXConfig(), 2, 1, 16)
    with pytest.raises(DataError, match="batch_size >= 2"):
        obj(torch.randn(1, 2, 2, 1, 16))


def test_zero_variance_outputs_are_finite_with_eps():
    a = torch.zeros(8, requires_grad=True)
    value = imax_scalar(a, torch.zeros(8), eps=1e-6)
    assert float(value.detach()) == 0.0
    value.backward()
    assert torch.isfinite(a.grad).all()
    assert torch.isfinite(imax_vector(torch.zeros(8, 2), torch.zeros(8, 2)))
    assert torch.isfinite(imax_scalar(torch.zeros(8), torch.zeros(8), form="gaussian"))


def test_bad_config_values():
    with pytest.raises(ConfigError, match="variant='bogus'"):
        IMAXConfig(variant="bogus")
    with pytest.raises(ConfigError, match="out_dim=1"):
        IMAXConfig(variant="neighbours", out_dim=2)
    with pytest.raises(ConfigError, match="at least 5 patches"):
        IMAXObjective(IMAXConfig(variant="neighbours"), 3, 1, 16)
    with pytest.raises(ConfigError, match="form='x'"):
        imax_scalar(torch.randn(4), torch.randn(4), form="x")


def test_planar_stereograms_reach_r_0_9_unsupervised_in_under_a_minute(tmp_path):
    from reprlab.coherence.runs import IMAXRunConfig, run_imax
    from reprlab.train import torch_threads

    cfg = IMAXRunConfig(n_train=4096, n_test=1024)
    cfg.train.output_dir = str(tmp_path / "run")
    cfg.train.max_steps = 500
    t0 = time.perf_counter()
    with torch_threads(1):
        result = run_imax(cfg)
    assert time.perf_counter() - t0 < 60
    assert result.abs_r >= 0.9, result.summary()
    assert result.imax_nats > 1.0


def test_vector_imax_outputs_encode_disparity(tmp_path):
    """Two outputs per module, log-determinant objective: disparity is linear in the 2-d code."""
    from reprlab.coherence.contrastive import ContrastiveCoherenceConfig
    from reprlab.coherence.runs import IMAXRunConfig, run_imax
    from reprlab.train import torch_threads

    cfg = IMAXRunConfig(model=ContrastiveCoherenceConfig(out_dim=2), n_train=4096, n_test=1024)
    cfg.train.output_dir = str(tmp_path / "run")
    cfg.train.max_steps = 400
    with torch_threads(1):
        result = run_imax(cfg)
    y, d = result.outputs[:, 0].double(), result.disparity[:, 0].double()
    x = torch.cat([y, torch.ones(len(y), 1, dtype=torch.float64)], dim=1)
    pred = (x @ torch.linalg.lstsq(x, d[:, None]).solution)[:, 0]
    r2 = 1 - float(((pred - d) ** 2).sum() / ((d - d.mean()) ** 2).sum())
    assert r2 > 0.75, (r2, result.summary())
    assert result.imax_nats > 1.5


@pytest.mark.slow
def test_curved_surfaces_neighbour_variant_reaches_r_0_9(tmp_path):
    from reprlab.coherence.contrastive import ContrastiveCoherenceConfig
    from reprlab.coherence.runs import IMAXRunConfig, run_imax
    from reprlab.coherence.stereograms import StereogramConfig
    from reprlab.train import torch_threads

    cfg = IMAXRunConfig(data=StereogramConfig(n_patches=7, surface="curved"),
                        model=ContrastiveCoherenceConfig(variant="neighbours"), n_train=8192, n_test=2048)
    cfg.train.output_dir = str(tmp_path / "run")
    cfg.train.max_steps = 1000
    t0 = time.perf_counter()
    with torch_threads(1):
        result = run_imax(cfg)
    assert time.perf_counter() - t0 < 60
    assert result.abs_r >= 0.9, result.summary()


@pytest.mark.slow
def test_overlapping_patches_give_information_without_depth(tmp_path):
    """IMAX's pitfall shown on purpose: patches sharing pixels give high I and no disparity."""
    from reprlab.coherence.contrastive import ContrastiveCoherenceConfig
    from reprlab.coherence.runs import IMAXRunConfig, run_imax
    from reprlab.coherence.stereograms import StereogramConfig
    from reprlab.train import torch_threads

    cfg = IMAXRunConfig(data=StereogramConfig(overlap=15), model=ContrastiveCoherenceConfig(module="mlp"))
    cfg.train.output_dir = str(tmp_path / "run")
    with torch_threads(1):
        result = run_imax(cfg)
    assert result.imax_nats > 1.5 and result.ksg_nats > 1.0
    assert result.abs_r < 0.2, result.summary()


def test_objective_decides_which_model_config_a_run_has():
    """IMAXRunConfig.model is a union tagged by objective: contrastive-only fields are refused on IMAX."""
    from reprlab.coherence.contrastive import ContrastiveCoherenceConfig
    from reprlab.coherence.runs import IMAXRunConfig
    from reprlab.config import load_config

    assert type(IMAXRunConfig().model) is IMAXConfig
    assert type(IMAXRunConfig(objective="contrastive").model) is ContrastiveCoherenceConfig
    cfg = load_config(IMAXRunConfig, None, ["objective=contrastive", "model.critic=cosine", "model.out_dim=2"])
    assert type(cfg.model) is ContrastiveCoherenceConfig and (cfg.model.critic, cfg.model.out_dim) == ("cosine", 2)
    with pytest.raises(ConfigError, match="model.critic applies to objective='contrastive' only"):
        load_config(IMAXRunConfig, None, ["model.critic=cosine"])
    with pytest.raises(ConfigError, match="objective='gauss'"):
        load_config(IMAXRunConfig, None, ["objective=gauss"])


@pytest.mark.parametrize("form", ["imax", "gaussian"])
@pytest.mark.parametrize("dim", [1, 3])
def test_perfectly_correlated_outputs_are_finite_and_scale_invariant_in_float32(form, dim):
    # issue 13: float32 variances of outputs ~1e20 overflowed, and V(a)V(b) - C^2 cancelled to 0
    # at scale 1e4, so I came out +inf despite eps
    x = torch.randn(64, dim, generator=torch.Generator().manual_seed(0))
    values = []
    for scale in (1e-20, 1.0, 1e4, 1e20):
        a = (scale * x).float()
        value = imax_information(a, a.clone(), 1e-6, form)
        assert value.dtype == torch.float32 and torch.isfinite(value), (scale, value)
        values.append(float(value))
    assert max(values) - min(values) < 1e-4 * abs(values[1])
    if dim == 1:
        expected = 0.5 * math.log1p(2 / 1e-6) if form == "imax" else -0.5 * math.log1p(-1 / (1 + 1e-6) ** 2)
        assert values[1] == pytest.approx(expected, rel=1e-5)
