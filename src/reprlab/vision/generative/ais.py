"""The partition function of an RBM: exact enumeration for tiny models, AIS estimates for real ones.

Annealed importance sampling (Neal 2001) as applied to RBMs by Salakhutdinov & Murray, "On the
quantitative analysis of deep belief networks", ICML 2008. Intermediate distributions between a
base RBM A with no weights (visible biases ``b_A``) and the target RBM B::

    p*_beta(v) = exp(-base_v(v) + ((1 - beta) b_A + beta b).v + sum_j A_h(beta (c_j + W_{:,j}.v)))

so ``p*_0`` factorises (``log Z_0 = sum_i A_v(b_A,i) + n_h A_h(0)``) and ``p*_1 = exp(-F_B)``. A chain
``v_1 ~ p_0``, ``v_{k+1} ~ T_{beta_k}(v_k)`` (one Gibbs step of the beta-scaled RBM) gives the
importance weight ``log w = sum_k [log p*_{beta_k}(v_k) - log p*_{beta_{k-1}}(v_k)]`` and
``Z_B / Z_0 ~= mean(w)``. The log-likelihood of data in nats is then ``-F(v) - log Z``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
import torch

from reprlab.errors import ConfigError
from reprlab.vision.generative.rbm import RBM, unit_log_partition, unit_sample


def _all_binary_states(n: int, start: int, stop: int, dtype: torch.dtype) -> torch.Tensor:
    codes = torch.arange(start, stop, dtype=torch.int64)  # (S,)
    bits = (codes.unsqueeze(1) >> torch.arange(n, dtype=torch.int64)) & 1  # (S, n)
    return bits.to(dtype)


@torch.no_grad()
def exact_log_partition(rbm: RBM, max_units: int = 24) -> float:
    """``log Z`` by enumerating every state of the binary layer with fewer units (float64).

    Raises
    ------
    ConfigError
        When the layer to enumerate has more than ``max_units`` units (use :func:`ais_log_partition`).
    """
    c = rbm.config
    sides = [s for s in ("visible", "hidden") if getattr(c, s) == "bernoulli"]
    side = min(sides, key=lambda s: c.n_visible if s == "visible" else c.n_hidden)
    n = c.n_visible if side == "visible" else c.n_hidden
    if n > max_units:
        raise ConfigError(f"exact log Z enumerates 2^{n} {side} states (more than 2^{max_units}); "
                          "use ais_log_partition() for an estimate")
    rbm64 = RBM(c).double()
    rbm64.load_state_dict({k: v.detach().double().cpu() for k, v in rbm.state_dict().items()})
    fe = rbm64.free_energy if side == "visible" else rbm64.free_energy_hidden
    chunk = 1 << 16
    parts = [torch.logsumexp(-fe(_all_binary_states(n, s, min(s + chunk, 1 << n), torch.float64)), 0)
             for s in range(0, 1 << n, chunk)]
    return float(torch.logsumexp(torch.stack(parts), 0))


@dataclass
class AISResult:
    """An AIS estimate of ``log Z`` with a +-3 standard-error band (in the log domain)."""

    log_z: float
    log_z_lower: float
    log_z_upper: float
    log_weights: torch.Tensor  # (n_chains,) float64
    n_steps: int


def default_betas(n_steps: int = 14500) -> torch.Tensor:
    """Salakhutdinov & Murray's schedule, scaled to ``n_steps``: 500 steps to 0.5, 4,000 to 0.9, 10,000 to 1."""
    if n_steps < 3:
        raise ConfigError(f"AIS n_steps={n_steps}: need at least 3 intermediate distributions")
    a, b = max(1, round(n_steps * 500 / 14500)), max(1, round(n_steps * 4000 / 14500))
    c = max(1, n_steps - a - b)
    return torch.cat([torch.linspace(0, 0.5, a + 1)[:-1], torch.linspace(0.5, 0.9, b + 1)[:-1],
                      torch.linspace(0.9, 1.0, c + 1)]).double()


def base_visible_bias(rbm: RBM, data: torch.Tensor | None = None) -> torch.Tensor:
    """Biases of the weightless base RBM: the data's marginals (logit of pixel means, or means) or ``b``."""
    if data is None:
        return rbm.b.detach().clone()
    flat = data.reshape(len(data), -1).to(rbm.b)
    mean = flat.mean(0)
    if rbm.config.visible == "bernoulli":
        p = mean.clamp(1e-3, 1 - 1e-3)
        return torch.log(p) - torch.log1p(-p)
    return mean


@torch.no_grad()
def ais_log_partition(rbm: RBM, *, n_chains: int = 100, betas: torch.Tensor | None = None,
                      n_steps: int = 14500, data: torch.Tensor | None = None,
                      generator: torch.Generator | None = None, progress: bool | None = None) -> AISResult:
    """Estimate ``log Z`` of ``rbm`` by annealed importance sampling.

    Parameters
    ----------
    rbm: the target RBM (any unit types).
    n_chains: independent AIS runs (importance samples).
    betas: increasing schedule from 0 to 1 (default :func:`default_betas` of ``n_steps``).
    data: optional training data ``(N, n_visible)``; its marginals define the base RBM, which
        makes the estimate much tighter (Salakhutdinov & Murray 2008, Sec. 4.1).
    generator: a seeded ``torch.Generator`` for reproducible chains.
    progress: a tqdm bar over the annealing steps; ``None`` shows it when stderr is a terminal.

    Returns
    -------
    AISResult: ``log_z`` and a band from the mean +- 3 standard errors of the weights.
    """
    c = rbm.config
    betas = (betas if betas is not None else default_betas(n_steps)).double()
    if betas[0] != 0 or betas[-1] != 1 or not bool((betas[1:] >= betas[:-1]).all()):
        raise ConfigError("AIS betas must increase from 0 to 1")
    if generator is None:
        generator = torch.Generator(device=rbm.W.device).manual_seed(0)
    b_a = base_visible_bias(rbm, data)  # (n_visible,)
    W, b, cb = rbm.W.detach(), rbm.b.detach(), rbm.c.detach()

    db = b - b_a  # (n_visible,)
    v = unit_sample(b_a.expand(n_chains, -1), c.visible, generator)  # (n_chains, n_visible)
    log_w = torch.zeros(n_chains, dtype=torch.float64, device=W.device)
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    for k in tqdm(range(1, len(betas)), desc="AIS", unit="step", leave=False, disable=not show,
                  mininterval=0.5):
        beta_prev, beta = float(betas[k - 1]), float(betas[k])
        # log p*_beta(v) - log p*_beta_prev(v): base_v(v) cancels; one product v @ W serves both
        # terms and the Gibbs step (two products per intermediate distribution in all)
        a = torch.addmm(cb, v, W)  # (n_chains, n_hidden)
        log_w += ((beta - beta_prev) * (v @ db) + (unit_log_partition(beta * a, c.hidden)
                                                   - unit_log_partition(beta_prev * a, c.hidden)).sum(-1)).double()
        h = unit_sample(beta * a, c.hidden, generator)  # (n_chains, n_hidden)
        v = unit_sample((1 - beta) * b_a + beta * torch.addmm(b, h, W.t()), c.visible, generator)
    log_z0 = float(unit_log_partition(b_a.double(), c.visible).sum()
                   + c.n_hidden * unit_log_partition(torch.zeros(1, dtype=torch.float64), c.hidden)[0])
    log_z = log_z0 + float(torch.logsumexp(log_w, 0)) - math.log(n_chains)
    # +-3 standard errors of mean(w), in the log domain (the lower end floors at tiny positive)
    shift = float(log_w.max())
    r = torch.exp(log_w - shift).cpu().numpy()
    mean, se = float(r.mean()), float(r.std(ddof=1) / np.sqrt(n_chains)) if n_chains > 1 else 0.0
    lower = log_z0 + shift + math.log(max(mean - 3 * se, 1e-300))
    upper = log_z0 + shift + math.log(mean + 3 * se)
    return AISResult(log_z, lower, upper, log_w.cpu(), len(betas) - 1)


@torch.no_grad()
def average_log_likelihood(rbm: RBM, v: torch.Tensor, log_z: float, batch_size: int = 4096) -> float:
    """Mean ``log p(v) = -F(v) - log Z`` over the rows of ``v`` (nats per example)."""
    flat = v.reshape(len(v), -1).to(rbm.W)
    total = sum(float(rbm.free_energy(flat[i:i + batch_size]).double().sum())
                for i in range(0, len(flat), batch_size))
    return -total / len(flat) - log_z


__all__ = ["exact_log_partition", "ais_log_partition", "AISResult", "default_betas",
           "base_visible_bias", "average_log_likelihood"]
