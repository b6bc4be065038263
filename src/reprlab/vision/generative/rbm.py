"""Restricted Boltzmann machines (Bernoulli and Gaussian units) trained by CD-k and persistent CD.

Energy of a visible/hidden configuration (Hinton 2002; Hinton & Salakhutdinov 2006)::

    E(v, h) = base_v(v) - b.v + base_h(h) - c.h - v^T W h

with ``base(x) = 0`` for binary units and ``base(x) = x^2 / 2`` for unit-variance Gaussian units
(the constant ``||b||^2 / 2`` of the usual ``(v - b)^2 / 2`` form is dropped; it cancels in
``log p(v)``). Summing out the hidden units gives the free energy

    F(v) = base_v(v) - b.v - sum_j A_h(c_j + W_{:,j}.v),   p(v) = exp(-F(v)) / Z

where ``A(a) = log sum_x exp(a x - base(x))`` is ``softplus(a)`` for a binary unit and
``a^2 / 2 + log(2 pi) / 2`` for a Gaussian one. The log-likelihood gradient is
``-<dF/dtheta>_data + <dF/dtheta>_model``; contrastive divergence (CD-k, Hinton 2002) replaces the
model average by samples after k Gibbs steps started at the data, persistent CD (PCD, Tieleman
2008) by chains kept between updates. :class:`RBMObjective` writes this as the surrogate loss
``mean F(v_data) - mean F(v_neg.detach())`` whose autograd gradient is exactly the CD/PCD update,
so the shared Trainer supplies momentum and weight decay (``optimizer='sgd'``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError
from reprlab.train import LossOutput, Objective, batch_inputs

Units = Literal["bernoulli", "gaussian"]
UNIT_TYPES: tuple[str, ...] = get_args(Units)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class RBMConfig:
    """Size, unit types and sampler of an RBM (defaults: a binary 784-500 MNIST RBM, CD-1)."""

    n_visible: int = 784
    n_hidden: int = 500
    visible: Units = "bernoulli"  # bernoulli: pixels in [0,1]; gaussian: unit variance (standardise the data)
    hidden: Units = "bernoulli"  # gaussian: the linear code units of the 2006 top layer
    k: int = 1  # Gibbs steps per update (CD-k / PCD-k)
    persistent: bool = False  # PCD: keep the negative chains between updates (Tieleman 2008)
    n_chains: int = 100  # persistent chains (PCD only)
    init_std: float = 0.01  # weights start as N(0, init_std^2), biases at 0 (Hinton 2010 guide)
    recon_rows: int = 20  # the logged recon_err is measured on this many examples of each batch (0 = all):
    # its matrix product would otherwise cost a fifth of a PCD-1 update
    seed: int = 0  # seeds the initial weights and persistent chains

    def __post_init__(self) -> None:
        check_choices(self, "model.")
        for name in ("n_visible", "n_hidden", "k", "n_chains"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name}={getattr(self, name)}: must be >= 1")
        if self.recon_rows < 0:
            raise ConfigError(f"model.recon_rows={self.recon_rows}: must be >= 0 (0 = the whole batch)")
        if self.visible == "gaussian" and self.hidden == "gaussian":
            raise ConfigError("model.visible and model.hidden are both 'gaussian': such an RBM has no "
                              "normalisable distribution in general; make one side 'bernoulli'")


# ---------------------------------------------------------------- unit types
def unit_log_partition(a: torch.Tensor, kind: str) -> torch.Tensor:
    """``A(a) = log sum_x exp(a x - base(x))`` elementwise: softplus or ``a^2/2 + log(2 pi)/2``."""
    return F.softplus(a) if kind == "bernoulli" else 0.5 * a * a + _HALF_LOG_2PI


def unit_base(x: torch.Tensor, kind: str) -> torch.Tensor:
    """``sum_i base(x_i)`` over the last dimension: 0 for binary units, ``x^2/2`` for Gaussian ones."""
    if kind == "bernoulli":
        return x.new_zeros(x.shape[:-1])
    return 0.5 * (x * x).sum(-1)


def unit_mean(a: torch.Tensor, kind: str) -> torch.Tensor:
    """Conditional mean given total input ``a``: ``sigmoid(a)`` or ``a``."""
    return torch.sigmoid(a) if kind == "bernoulli" else a


def unit_sample(a: torch.Tensor, kind: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample units given total input ``a``: Bernoulli(sigmoid(a)) or N(a, 1)."""
    if kind == "bernoulli":
        return (torch.rand(a.shape, generator=generator, device=a.device, dtype=a.dtype)
                < torch.sigmoid(a)).to(a.dtype)
    return a + torch.randn(a.shape, generator=generator, device=a.device, dtype=a.dtype)


# ----------------------------------------------------------------------- RBM
class RBM(nn.Module):
    """An RBM with weights ``W`` ``(n_visible, n_hidden)``, visible bias ``b`` and hidden bias ``c``.

    Examples
    --------
    >>> rbm = RBM(RBMConfig(n_visible=6, n_hidden=3))
    >>> rbm.free_energy(torch.ones(2, 6)).shape
    torch.Size([2])
    """

    def __init__(self, config: RBMConfig):
        super().__init__()
        self.config = config
        g = torch.Generator().manual_seed(config.seed)
        self.W = nn.Parameter(torch.randn(config.n_visible, config.n_hidden, generator=g) * config.init_std)
        self.b = nn.Parameter(torch.zeros(config.n_visible))
        self.c = nn.Parameter(torch.zeros(config.n_hidden))

    # inputs to each layer
    def hidden_input(self, v: torch.Tensor) -> torch.Tensor:
        """``v @ W + c``, ``(N, n_hidden)`` (one fused ``addmm`` for a batch of vectors)."""
        return torch.addmm(self.c, v, self.W) if v.dim() == 2 else v @ self.W + self.c

    def visible_input(self, h: torch.Tensor) -> torch.Tensor:
        """``h @ W^T + b``, ``(N, n_visible)``."""
        return torch.addmm(self.b, h, self.W.t()) if h.dim() == 2 else h @ self.W.t() + self.b

    def hidden_mean(self, v: torch.Tensor) -> torch.Tensor:
        """``E[h | v]``: hidden probabilities (binary) or means (Gaussian), ``(N, n_hidden)``."""
        return unit_mean(self.hidden_input(v), self.config.hidden)

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """``E[v | h]``, ``(N, n_visible)``."""
        return unit_mean(self.visible_input(h), self.config.visible)

    def sample_hidden(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return unit_sample(self.hidden_input(v), self.config.hidden, generator)

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return unit_sample(self.visible_input(h), self.config.visible, generator)

    def free_energy(self, v: torch.Tensor, hidden_input: torch.Tensor | None = None) -> torch.Tensor:
        """``F(v) = base_v(v) - b.v - sum_j A_h(c_j + W_{:,j}.v)``, shape ``(N,)``.

        ``hidden_input`` may pass a precomputed ``v @ W + c`` (saves the matmul).
        """
        a_h = self.hidden_input(v) if hidden_input is None else hidden_input
        return (unit_base(v, self.config.visible) - v @ self.b
                - unit_log_partition(a_h, self.config.hidden).sum(-1))

    def free_energy_hidden(self, h: torch.Tensor) -> torch.Tensor:
        """Free energy of hidden configurations (visible units summed out), shape ``(N,)``."""
        return (unit_base(h, self.config.hidden) - h @ self.c
                - unit_log_partition(self.visible_input(h), self.config.visible).sum(-1))

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Joint energy ``E(v, h)``, shape ``(N,)``."""
        return (unit_base(v, self.config.visible) - v @ self.b + unit_base(h, self.config.hidden)
                - h @ self.c - ((v @ self.W) * h).sum(-1))

    @torch.no_grad()
    def gibbs(self, v: torch.Tensor, k: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """Run ``k`` full Gibbs steps ``v -> h -> v`` and return the final visible sample."""
        for _ in range(k):
            v = self.sample_visible(self.sample_hidden(v, generator), generator)
        return v

    @torch.no_grad()
    def reconstruct(self, v: torch.Tensor) -> torch.Tensor:
        """Mean-field reconstruction ``E[v | E[h | v]]`` (for the reconstruction-error metric)."""
        return self.visible_mean(self.hidden_mean(v))


def check_rbm_input(v: torch.Tensor, config: RBMConfig, what: str = "input") -> torch.Tensor:
    """Flatten to ``(N, n_visible)`` and check size, finiteness and the [0, 1] range of binary units.

    One reduction pass (``aminmax``; NaN and infinities propagate into it) instead of three.
    """
    flat = v.reshape(len(v), -1).float()  # (N, D)
    if flat.shape[1] != config.n_visible:
        raise DataError(f"{what}: {flat.shape[1]} values per example but the RBM has "
                        f"n_visible={config.n_visible}; set model.n_visible={flat.shape[1]}")
    lo, hi = (float(t) for t in torch.aminmax(flat))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise DataError(f"{what}: contains NaN or infinite values")
    if config.visible == "bernoulli" and (lo < 0 or hi > 1):
        raise DataError(f"{what}: values span [{lo:.4g}, {hi:.4g}] but "
                        "Bernoulli visible units need [0, 1]; divide by 255 or use model.visible='gaussian' "
                        "on standardised data")
    return flat


class RBMObjective(Objective):
    """CD-k / PCD-k as a surrogate loss for the shared Trainer.

    ``loss = mean F(v_data) - mean F(v_neg)`` with ``v_neg`` detached; its gradient is the CD
    estimate of the negative log-likelihood gradient (Hinton 2002, Eq. 5). With
    ``config.persistent`` the negative samples continue persistent chains (Tieleman 2008) stored
    in the buffers ``chains`` (visible states) and ``chain_hidden`` (the hidden states drawn from
    them at the end of the previous update, as scikit-learn's ``BernoulliRBM`` keeps them); both
    are saved in checkpoints, so PCD resumes exactly.

    Cost of a PCD-1 update: one product for ``v_neg ~ p(v | h_chain)``, one for the hidden inputs
    of data and negatives together (``[v; v_neg] @ W``, which also gives the chains' next hidden
    state), two in the backward pass — the five of scikit-learn's update — plus a fifth of one for
    the reconstruction metric.

    Logged metrics: ``recon_err`` (squared error of the mean-field reconstruction per example, on
    the first ``config.recon_rows`` examples of each batch; averaged over the logging window) and
    ``fe_gap`` (the loss itself: free-energy difference of data and negative samples).
    """

    def __init__(self, config: RBMConfig, rbm: RBM | None = None):
        super().__init__()
        self.config = config
        self.rbm = rbm if rbm is not None else RBM(config)
        g = torch.Generator().manual_seed(config.seed + 1)
        n = config.n_chains if config.persistent else 0
        if config.visible == "bernoulli":
            chains = (torch.rand(n, config.n_visible, generator=g) < 0.5).float()
        else:
            chains = torch.randn(n, config.n_visible, generator=g)
        with torch.no_grad():
            hidden = unit_sample(self.rbm.hidden_input(chains.to(self.rbm.W)), config.hidden, g)
        self.chains: torch.Tensor  # (n_chains, n_visible) persistent negative chains (empty for CD)
        self.chain_hidden: torch.Tensor  # (n_chains, n_hidden) their hidden states
        self.register_buffer("chains", chains)
        self.register_buffer("chain_hidden", hidden)

    @torch.no_grad()
    def negative_samples(self, data_hidden_input: torch.Tensor) -> torch.Tensor:
        """Visible samples after k Gibbs steps from the data (CD) or the persistent chains (PCD).

        CD starts from ``data_hidden_input`` (``v_data @ W + c``, already computed for ``F(v_data)``);
        PCD from the chains' stored hidden states (it updates ``chains``, not ``chain_hidden``).
        """
        rbm, k = self.rbm, self.config.k
        if self._persistent_step():
            v_neg = rbm.gibbs(rbm.sample_visible(self.chain_hidden), k - 1)
            self.chains.copy_(v_neg)  # in place: DDP and module hooks keep seeing the buffer
            return v_neg
        h = unit_sample(data_hidden_input, self.config.hidden)  # (B, n_hidden)
        return rbm.gibbs(rbm.sample_visible(h), k - 1)

    def _persistent_step(self) -> bool:
        return self.config.persistent and self.training  # evaluation leaves the chains alone

    def forward(self, batch: tuple[torch.Tensor, ...] | torch.Tensor) -> LossOutput:
        v = batch_inputs(batch)
        v = check_rbm_input(v, self.config, "training batch")  # (B, n_visible)
        rbm, n = self.rbm, len(v)
        if self._persistent_step():
            v_neg = self.negative_samples(v)  # (n_chains, n_visible), from the chains alone
            both = torch.cat([v, v_neg])
            a_both = rbm.hidden_input(both)  # (B + n_chains, n_hidden): one product for both phases
            fe = rbm.free_energy(both, a_both)
            a_h = a_both[:n]
            loss = fe[:n].mean() - fe[n:].mean()
            with torch.no_grad():
                self.chain_hidden.copy_(unit_sample(a_both[n:], self.config.hidden))
        else:
            a_h = rbm.hidden_input(v)  # (B, n_hidden), shared by F(v), CD's first step and the metric
            v_neg = self.negative_samples(a_h.detach())  # (B, n_visible)
            loss = rbm.free_energy(v, a_h).mean() - rbm.free_energy(v_neg).mean()
        with torch.no_grad():
            m = self.config.recon_rows or n  # the batch is shuffled: its first rows are a random sample
            recon = rbm.visible_mean(unit_mean(a_h[:m], self.config.hidden))  # mean-field reconstruction
            recon_err = ((recon - v[:m]) ** 2).sum(1).mean()
        return LossOutput(loss, {"recon_err": recon_err, "fe_gap": loss.detach()}, num_items=n)


__all__ = ["RBMConfig", "RBM", "RBMObjective", "check_rbm_input", "unit_log_partition",
           "unit_base", "unit_mean", "unit_sample", "UNIT_TYPES"]
