"""VAE: ELBO terms against closed forms and quadrature, IWAE >= ELBO and converging to log p(x)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from reprlab.data import load_dataset
from reprlab.errors import ConfigError, DataError
from reprlab.train import TrainConfig, Trainer
from reprlab.vision.generative.vae import (
    VAE,
    VAEConfig,
    VAEObjective,
    evaluate_vae,
    gaussian_kl,
    gaussian_log_density,
    interpolate,
    iwae_bound,
    latent_grid,
)


def test_kl_and_density_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros(3), torch.ones(3))
    torch.testing.assert_close(gaussian_kl(mu, logvar), kl_divergence(q, p).sum(-1))
    x = torch.randn(5, 3, generator=g)
    torch.testing.assert_close(gaussian_log_density(x, mu, logvar), q.log_prob(x).sum(-1))


def tiny_vae(output: str = "bernoulli") -> VAE:
    torch.manual_seed(0)
    vae = VAE(VAEConfig(input_dim=6, hidden=(8,), latent_dim=1, activation="tanh", output=output)).double()
    with torch.no_grad():
        for p in vae.parameters():
            p.mul_(2.0)  # a poorly matched posterior, so L_k visibly climbs with k
    return vae


def exact_log_px(vae: VAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(x) and E_q[log p(x|z)] by quadrature over the 1-D latent (reference)."""
    z = torch.linspace(-12, 12, 24001, dtype=torch.float64).unsqueeze(1)  # (G, 1)
    dz = float(z[1] - z[0])
    log_px_z = vae.log_likelihood(x[:, None, :], vae.decode(z)[None])  # (N, G)
    log_prior = Normal(0.0, 1.0).log_prob(z[:, 0])  # (G,)
    log_px = torch.logsumexp(log_px_z + log_prior, 1) + math.log(dz)
    mu, logvar = vae.encode(x)
    q = Normal(mu, (0.5 * logvar).exp()).log_prob(z[:, 0][None]).exp()  # (N, G)
    return log_px, (q * log_px_z).sum(1) * dz


@pytest.mark.parametrize("output", ["bernoulli", "gaussian"])
def test_elbo_and_iwae_against_quadrature(output):
    vae = tiny_vae(output)
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(4, 6, generator=g, dtype=torch.float64) < 0.5).double()
    if output == "gaussian":
        x = x + 0.1 * torch.randn(4, 6, generator=g, dtype=torch.float64)
    with torch.no_grad():
        log_px, expected_recon = exact_log_px(vae, x)
        recon, kl = vae.elbo_terms(x, n_samples=40000, generator=g)
        torch.testing.assert_close(recon, expected_recon, atol=0.05, rtol=0)
        elbo = recon - kl
        # L_k is an expectation: average independent estimates (x repeated R times)
        bounds = {k: iwae_bound(vae, x.repeat(r, 1), k, chunk=1000, generator=g).view(r, len(x)).mean(0)
                  for k, r in ((1, 3000), (10, 300), (100, 30), (5000, 8))}
    torch.testing.assert_close(bounds[1], elbo, atol=0.1, rtol=0)  # E[L_1] = ELBO
    assert (elbo < log_px - 0.05).all()  # the posterior gap is visible
    assert (bounds[10] > elbo).all() and (bounds[100] > bounds[10]).all()
    assert (bounds[5000] >= bounds[100] - 0.01).all()  # both near log p(x) already
    assert (bounds[5000] <= log_px + 0.03).all()  # a lower bound, up to Monte-Carlo noise
    torch.testing.assert_close(bounds[5000], log_px, atol=0.03, rtol=0)


def test_iwae_chunking_does_not_change_the_estimate():
    """Chunks of 97 combined by the running log-sum-exp equal one log-mean-exp over the same 300 draws."""
    torch.manual_seed(0)
    vae = VAE(VAEConfig(input_dim=6, hidden=(8,), latent_dim=1)).double()
    x = torch.tensor([[1.0, 0, 1, 1, 0, 0], [0.0, 1, 1, 0, 0, 1]], dtype=torch.float64)
    chunked = iwae_bound(vae, x, 300, chunk=97, generator=torch.Generator().manual_seed(5))
    # the same draws, (97, 97, 97, 9) of eps ~ N(0, I), weighed all at once: L_k = logmeanexp_i log w_i
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        mu, logvar = vae.encode(x)  # (N, L)
        eps = torch.cat([torch.randn((s, *mu.shape), generator=g, dtype=mu.dtype) for s in (97, 97, 97, 9)])
        z = mu + (0.5 * logvar).exp() * eps  # (300, N, L)
        log_w = (vae.log_likelihood(x, vae.decode(z)) + gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z))
                 - gaussian_log_density(z, mu, logvar))  # (300, N)
    torch.testing.assert_close(chunked, torch.logsumexp(log_w, 0) - math.log(300), rtol=0, atol=1e-12)
    # and a fresh set of draws in one chunk agrees within the Monte Carlo error of k = 30,000
    c = iwae_bound(vae, x, 30000, chunk=97, generator=torch.Generator().manual_seed(5))
    d = iwae_bound(vae, x, 30000, chunk=30000, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(c, d, atol=0.05, rtol=0)


def test_training_on_digits_raises_the_elbo_and_iwae_is_above_it(tmp_path):
    train, test = load_dataset("digits"), load_dataset("digits", "test")
    torch.manual_seed(0)
    objective = VAEObjective(VAEConfig(input_dim=64, hidden=(64,), latent_dim=2))
    before = evaluate_vae(objective.model, test.x[:100], k=20)
    Trainer(objective, TrainConfig(output_dir=str(tmp_path / "vae"), optimizer="adam", lr=3e-3,
                                   weight_decay=0.0, batch_size=64, max_steps=300, save_every=None,
                                   progress=False, log_every=50), train).fit()
    after = evaluate_vae(objective.model, test.x[:100], k=200)
    assert after["elbo"] > before["elbo"] + 5
    assert after["elbo"] == pytest.approx(-after["recon_nll"] - after["kl"])
    assert after["kl"] > 0.5  # the latent code is in use
    assert after["iwae_k200"] > after["elbo"]
    assert latent_grid(objective.model, n=5).shape == (25, 64)
    path = interpolate(objective.model, test.x[0], test.x[1], steps=6)
    assert path.shape == (6, 64) and float(path.min()) >= 0 and float(path.max()) <= 1


def test_bad_inputs():
    objective = VAEObjective(VAEConfig(input_dim=64, hidden=(8,), latent_dim=3))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        objective((torch.full((2, 64), -1.0),))
    with pytest.raises(DataError, match="input_dim=64"):
        objective((torch.rand(2, 1, 28, 28),))
    with pytest.raises(ConfigError, match="latent_dim=2"):
        latent_grid(objective.model)
    with pytest.raises(ConfigError, match="k=0"):
        iwae_bound(objective.model, torch.rand(2, 64), 0)
    with pytest.raises(ConfigError, match="model.output='poisson'"):
        VAEConfig(output="poisson")
