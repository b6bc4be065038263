"""Variational autoencoder (Kingma & Welling 2013) and its importance-weighted likelihood bound.

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, https://arxiv.org/abs/1312.6114.
A Gaussian encoder ``q(z|x) = N(mu(x), diag sigma^2(x))``, prior ``p(z) = N(0, I)`` and a
Bernoulli or Gaussian decoder ``p(x|z)``; with ``z = mu + sigma * eps``, ``eps ~ N(0, I)``
(reparameterisation) the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)),
    KL = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)            (paper, Appendix B)

is maximised by stochastic gradients. The test log-likelihood is estimated with the
importance-weighted bound of Burda, Grosse & Salakhutdinov (2016), https://arxiv.org/abs/1509.00519:

    L_k(x) = E[ log 1/k sum_i p(x, z_i) / q(z_i|x) ],  z_i ~ q(z|x);   ELBO = L_1 <= L_k <= log p(x)

which increases monotonically in ``k`` and converges to ``log p(x)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.config import check_choices
from reprlab.errors import ConfigError
from reprlab.train import LossOutput, Objective, batch_inputs
from reprlab.vision.generative.autoencoder import ACTIVATIONS, Output, flatten_for, init_linear

_LOG_2PI = math.log(2 * math.pi)


@dataclass
class VAEConfig:
    """Architecture of a :class:`VAE` (defaults: the paper's MNIST model, 500 hidden units)."""

    input_dim: int = 784  # flattened image size
    hidden: tuple[int, ...] = (500,)  # encoder widths (the decoder mirrors them)
    latent_dim: int = 20  # size of z
    activation: Literal["relu", "tanh", "sigmoid", "gelu"] = "relu"  # the paper: tanh
    output: Output = "bernoulli"  # bernoulli: pixels in [0,1]; gaussian: the decoder predicts mean and log-variance
    min_logvar: float = -8.0  # floor of the Gaussian decoder's log-variance (keeps the density bounded)
    rescale: bool = False  # True: min-max rescale out-of-range inputs to [0,1] instead of raising

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        check_choices(self, "model.")
        if self.input_dim < 1 or self.latent_dim < 1 or any(h < 1 for h in self.hidden):
            raise ConfigError(f"model widths must be >= 1 (input_dim={self.input_dim}, "
                              f"hidden={self.hidden}, latent_dim={self.latent_dim})")


def _randn(shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise on ``like``'s device, from ``generator`` when one is given."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def _trunk(widths: tuple[int, ...], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        linear = nn.Linear(d_in, d_out)
        init_linear(linear, "kaiming" if activation in ("relu", "gelu") else "xavier", activation)
        layers += [linear, ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, exp(logvar)) || N(0, I))`` summed over the last dimension, shape ``(N,)``."""
    return -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum(-1)


def gaussian_log_density(x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(x; mu, exp(logvar))`` summed over the last dimension."""
    return -0.5 * (_LOG_2PI + logvar + (x - mu) ** 2 / logvar.exp()).sum(-1)


class VAE(nn.Module):
    """MLP encoder to ``(mu, logvar)`` of ``q(z|x)``, MLP decoder to the parameters of ``p(x|z)``."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        c = config
        widths = (c.input_dim, *c.hidden)
        self.encoder = _trunk(widths, c.activation)
        self.to_mu = nn.Linear(widths[-1], c.latent_dim)
        self.to_logvar = nn.Linear(widths[-1], c.latent_dim)
        nn.init.zeros_(self.to_logvar.weight)
        nn.init.zeros_(self.to_logvar.bias)
        self.decoder = _trunk((c.latent_dim, *c.hidden[::-1]), c.activation)
        n_out = c.input_dim * (2 if c.output == "gaussian" else 1)
        self.to_output = nn.Linear(c.hidden[0] if c.hidden else c.latent_dim, n_out)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of ``q(z|x)``, each ``(N, latent_dim)``."""
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder output: logits ``(..., D)`` (Bernoulli) or ``[mean, logvar]`` ``(..., 2D)`` (Gaussian)."""
        return self.to_output(self.decoder(z))

    def log_likelihood(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``log p(x|z)`` from a decoder output, summed over pixels (broadcasts over leading dims)."""
        if self.config.output == "bernoulli":
            x, out = torch.broadcast_tensors(x, out)
            return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(-1)
        mean, logvar = out.chunk(2, dim=-1)
        return gaussian_log_density(x, mean, logvar.clamp_min(self.config.min_logvar))

    def mean_image(self, z: torch.Tensor) -> torch.Tensor:
        """``E[x|z]``: pixel probabilities or Gaussian means, ``(N, D)``."""
        out = self.decode(z)
        return torch.sigmoid(out) if self.config.output == "bernoulli" else out.chunk(2, dim=-1)[0]

    def elbo_terms(self, x: torch.Tensor, n_samples: int = 1, generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example ``(E_q log p(x|z), KL(q||p))``, each ``(N,)``; expectation over ``n_samples`` draws."""
        mu, logvar = self.encode(x)  # (N, L)
        if n_samples == 1:  # the training case: plain (N, L) products, the same random numbers
            z = mu + (0.5 * logvar).exp() * _randn(mu.shape, generator, like=mu)
            return self.log_likelihood(x, self.decode(z)), gaussian_kl(mu, logvar)
        eps = _randn((n_samples, *mu.shape), generator, like=mu)  # (S, N, L)
        z = mu + (0.5 * logvar).exp() * eps  # reparameterisation
        recon = self.log_likelihood(x, self.decode(z)).mean(0)  # (N,)
        return recon, gaussian_kl(mu, logvar)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean images ``E[x|z]`` for ``z ~ N(0, I)``, ``(n, D)``."""
        device = self.to_mu.weight.device
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(device)
        return self.mean_image(z)


class VAEObjective(Objective):
    """Minimise the negative ELBO (nats per image); logs ``recon_nll``, ``kl`` and ``elbo``."""

    def __init__(self, config: VAEConfig, model: VAE | None = None):
        super().__init__()
        self.config = config
        self.model = model if model is not None else VAE(config)

    def forward(self, batch: tuple[torch.Tensor, ...] | torch.Tensor) -> LossOutput:
        x = batch_inputs(batch)
        c = self.config
        x = flatten_for(c, x, "training batch")  # (B, D)
        recon, kl = self.model.elbo_terms(x)
        elbo = recon - kl  # (B,)
        loss = -elbo.mean()
        return LossOutput(loss, {"recon_nll": -recon.mean().detach(), "kl": kl.mean().detach(),
                                 "elbo": elbo.mean().detach()}, num_items=len(x))


@torch.no_grad()
def iwae_bound(model: VAE, x: torch.Tensor, k: int = 5000, *, chunk: int = 500,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Importance-weighted bound ``L_k(x)`` per example (Burda et al. 2016, Eq. 8), ``(N,)`` float64.

    The ``k`` samples are drawn in chunks of ``chunk`` and combined with a running log-sum-exp,
    so memory is ``O(chunk * N * D)`` whatever ``k`` is. ``k = 1`` gives an unbiased ELBO sample.
    """
    if k < 1:
        raise ConfigError(f"iwae k={k}: need at least one importance sample")
    x = flatten_for(model.config, x)
    x = x.to(model.to_mu.weight)
    mu, logvar = model.encode(x)  # (N, L)
    std = (0.5 * logvar).exp()
    acc = torch.full((len(x),), -math.inf, dtype=torch.float64, device=x.device)
    done = 0
    while done < k:
        s = min(chunk, k - done)
        eps = _randn((s, *mu.shape), generator, like=mu)  # (S, N, L)
        z = mu + std * eps
        log_w = (model.log_likelihood(x, model.decode(z))  # log p(x|z)
                 + gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z))  # log p(z)
                 - gaussian_log_density(z, mu, logvar))  # log q(z|x)   -> (S, N)
        acc = torch.logaddexp(acc, torch.logsumexp(log_w.double(), 0))
        done += s
    return acc - math.log(k)


@torch.no_grad()
def evaluate_vae(model: VAE, x: torch.Tensor, *, k: int = 5000, batch_size: int = 100,
                 chunk: int = 500, seed: int = 0, elbo_samples: int = 10) -> dict[str, float]:
    """Test ELBO (its two terms; ``elbo_samples`` draws per image) and IWAE ``log p(x)``, nats per image."""
    g = torch.Generator().manual_seed(seed)
    was = model.training
    model.eval()
    flat = flatten_for(model.config, x)
    flat = flat.to(model.to_mu.weight)
    recon, kl, iwae = [], [], []
    for i in range(0, len(flat), batch_size):
        xb = flat[i:i + batch_size]
        r, q = model.elbo_terms(xb, n_samples=elbo_samples, generator=g)
        recon.append(r)
        kl.append(q)
        iwae.append(iwae_bound(model, xb, k, chunk=chunk, generator=g))
    model.train(was)
    r_all, kl_all = torch.cat(recon), torch.cat(kl)
    return {"elbo": float((r_all - kl_all).mean()), "recon_nll": float(-r_all.mean()),
            "kl": float(kl_all.mean()), f"iwae_k{k}": float(torch.cat(iwae).mean())}


@torch.no_grad()
def interpolate(model: VAE, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """Decoded means along the straight line between the posterior means of two images, ``(steps, D)``."""
    pair = flatten_for(model.config, torch.stack([x_a, x_b])).to(model.to_mu.weight)
    mu, _ = model.encode(pair)  # (2, L)
    t = torch.linspace(0, 1, steps, device=mu.device).unsqueeze(1)  # (steps, 1)
    return model.mean_image((1 - t) * mu[0] + t * mu[1])


@torch.no_grad()
def latent_grid(model: VAE, n: int = 15, span: float = 2.5) -> torch.Tensor:
    """For a 2-D latent space: decoded means on an ``n x n`` grid over ``[-span, span]^2``, ``(n*n, D)``."""
    if model.config.latent_dim != 2:
        raise ConfigError(f"latent_grid needs model.latent_dim=2 (it is {model.config.latent_dim})")
    axis = torch.linspace(-span, span, n)
    z = torch.cartesian_prod(axis.flip(0), axis)[:, [1, 0]]  # rows top->bottom = z2 high->low
    return model.mean_image(z.to(model.to_mu.weight))


__all__ = ["VAEConfig", "VAE", "VAEObjective", "iwae_bound", "evaluate_vae", "gaussian_kl",
           "gaussian_log_density", "interpolate", "latent_grid"]
