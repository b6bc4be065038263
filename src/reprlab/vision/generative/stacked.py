"""Greedy layer-wise pretraining: stacked RBMs (a DBN) or stacked denoising autoencoders, then unroll.

Hinton, Osindero & Teh, "A fast learning algorithm for deep belief nets", Neural Computation
(2006), and Hinton & Salakhutdinov, Science (2006): train an RBM on the data, then another on the
first one's hidden activations, and so on (one Trainer run per layer). Each added layer, when
initialised as the transpose of the layer below, can only improve the variational bound

    log p(v) >= E_q[ sum_{i=1}^{L-1} (log p(h_{i-1} | h_i) - log q(h_i | h_{i-1})) + log p_L(h_{L-1}) ]

with ``h_0 = v``, recognition ``q(h_i | h_{i-1})`` and generative ``p(h_{i-1} | h_i)`` given by the
conditionals of RBM ``i``, and the top RBM's marginal ``p_L`` as the prior (``log p_L = -F_L - log Z_L``).
The stack then unrolls into a deep autoencoder — encoder ``W_1^T .. W_L^T``, decoder ``W_L .. W_1`` —
fine-tuned end to end by backpropagation. :func:`pretrain_stacked_autoencoder` does the same with
shallow denoising autoencoders (Vincent et al. 2008; Bengio et al. 2007).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.config import check_choices
from reprlab.data import ArrayDataset
from reprlab.errors import ConfigError
from reprlab.train import TrainConfig, Trainer, TrainResult
from reprlab.vision.generative.autoencoder import (
    Activation,
    AutoencoderConfig,
    AutoencoderObjective,
    DeepAutoencoder,
    Init,
    Output,
    encode_dataset,
)
from reprlab.vision.generative.rbm import RBM, RBMConfig, RBMObjective, Units
from reprlab.vision.generative.vae import gaussian_log_density

log = logging.getLogger(__name__)


@dataclass
class DBNConfig:
    """A stack of RBMs (defaults: the 2006 paper's 784-1000-500-250-30 autoencoder)."""

    widths: tuple[int, ...] = (784, 1000, 500, 250, 30)  # visible size, then each layer's hidden size
    visible: Units = "bernoulli"  # units of the data layer (gaussian: standardised data)
    top_hidden: Units = "gaussian"  # the paper's code units are linear (Gaussian)
    k: int = 1  # CD-k / PCD-k Gibbs steps
    persistent: bool = False  # PCD instead of CD
    n_chains: int = 100  # persistent chains per layer
    init_std: float = 0.1  # weights N(0, init_std^2) as in the paper's code
    gaussian_lr_scale: float = 0.01  # layers with Gaussian units learn at lr x this (paper: 0.001 vs 0.1)
    propagate: Literal["mean", "sample"] = "mean"  # what layer i+1 trains on: hidden probabilities or binary draws
    transpose_init: bool = False  # start RBM i+1 as RBM i transposed when sizes allow: the bound then
    # starts at the i-layer value and training can only raise it (Hinton, Osindero & Teh 2006)
    seed: int = 0

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        if len(self.widths) < 2 or any(w < 1 for w in self.widths):
            raise ConfigError(f"model.widths={self.widths}: need at least [visible, hidden], all >= 1")
        check_choices(self, "model.")

    def layer_configs(self) -> list[RBMConfig]:
        n = len(self.widths) - 1
        return [RBMConfig(n_visible=a, n_hidden=b, visible=self.visible if i == 0 else "bernoulli",
                          hidden=self.top_hidden if i == n - 1 else "bernoulli", k=self.k,
                          persistent=self.persistent, n_chains=self.n_chains,
                          init_std=self.init_std, seed=self.seed + i)
                for i, (a, b) in enumerate(zip(self.widths[:-1], self.widths[1:]))]


class DBNStack(nn.Module):
    """RBMs stacked bottom to top; ``transform`` propagates hidden means, ``unroll`` builds the autoencoder."""

    def __init__(self, config: DBNConfig):
        super().__init__()
        self.config = config
        self.rbms = nn.ModuleList(RBM(c) for c in config.layer_configs())

    @property
    def layers(self) -> list[RBM]:
        """The RBMs, bottom first."""
        return [m for m in self.rbms if isinstance(m, RBM)]

    @torch.no_grad()
    def transform(self, x: torch.Tensor, layers: int | None = None, batch_size: int = 2048) -> torch.Tensor:
        """Hidden means after the first ``layers`` RBMs (all by default), ``(N, widths[layers])``."""
        h = x.reshape(len(x), -1).float()
        for rbm in self.layers[:layers]:
            h = _next_inputs(rbm, h, batch_size)
        return h

    def unroll(self) -> DeepAutoencoder:
        """A :class:`DeepAutoencoder` whose encoder uses ``W_i^T, c_i`` and decoder ``W_i, b_i``."""
        c = self.config
        ae = DeepAutoencoder(AutoencoderConfig(
            input_dim=c.widths[0], hidden=c.widths[1:-1], code_dim=c.widths[-1], activation="sigmoid",
            code_activation="linear" if c.top_hidden == "gaussian" else "sigmoid",
            output=c.visible, init="small_gaussian"))
        enc = [m for m in ae.encoder if isinstance(m, nn.Linear)]
        dec = [m for m in ae.decoder if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for i, rbm in enumerate(self.layers):
                enc[i].weight.copy_(rbm.W.t())
                enc[i].bias.copy_(rbm.c)
                dec[-1 - i].weight.copy_(rbm.W)
                dec[-1 - i].bias.copy_(rbm.b)
        return ae


def pretrain_dbn(stack: DBNStack, x: torch.Tensor, train: TrainConfig,
                 y: torch.Tensor | None = None) -> list[TrainResult]:
    """Greedy layer-wise training: one Trainer run per RBM, each on the means of the layer below.

    Layer ``i`` writes its run directory to ``{train.output_dir}/layer-{i+1}``; a layer with
    Gaussian units trains at ``train.lr * config.gaussian_lr_scale``.
    """
    inputs = x.reshape(len(x), -1).float()
    labels = y if y is not None else torch.zeros(len(x), dtype=torch.long)
    results = []
    rbms = stack.layers
    for i, rbm in enumerate(rbms):
        below = rbms[i - 1] if i > 0 else None
        if stack.config.transpose_init and below is not None and below.W.shape == rbm.W.t().shape \
                and rbm.config.hidden == below.config.visible:
            with torch.no_grad():
                rbm.W.copy_(below.W.t())
                rbm.b.copy_(below.c)
                rbm.c.copy_(below.b)
        gaussian = rbm.config.visible == "gaussian" or rbm.config.hidden == "gaussian"
        cfg = dataclasses.replace(train, output_dir=str(Path(train.output_dir) / f"layer-{i + 1}"),
                                  lr=train.lr * (stack.config.gaussian_lr_scale if gaussian else 1.0))
        log.info("DBN layer %d/%d: %s", i + 1, len(rbms), rbm.config)
        results.append(Trainer(RBMObjective(rbm.config, rbm), cfg, ArrayDataset(inputs, labels)).fit())
        inputs = _next_inputs(rbm, inputs)
        if stack.config.propagate == "sample" and rbm.config.hidden == "bernoulli":
            g = torch.Generator().manual_seed(stack.config.seed + 1000 + i)
            inputs = (torch.rand(inputs.shape, generator=g) < inputs).float()
    return results


@torch.no_grad()
def _next_inputs(rbm: RBM, inputs: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    return torch.cat([rbm.hidden_mean(inputs[i:i + batch_size].to(rbm.W)).cpu()
                      for i in range(0, len(inputs), batch_size)])


def _log_conditional(x: torch.Tensor, total_input: torch.Tensor, kind: str) -> torch.Tensor:
    """``log p(x | input)`` of a layer of units, summed over units, ``(N,)``."""
    if kind == "bernoulli":
        return -F.binary_cross_entropy_with_logits(total_input, x, reduction="none").sum(-1)
    return gaussian_log_density(x, total_input, torch.zeros_like(x))


@torch.no_grad()
def dbn_log_likelihood_bound(rbms: Sequence[RBM], v: torch.Tensor, log_z_top: float,
                             *, n_samples: int = 10, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-example variational lower bound on ``log p(v)`` of a DBN (nats), ``(N,)`` float64.

    One RBM gives the exact ``-F(v) - log Z``. With more, hidden layers are sampled bottom-up from
    the recognition conditionals and the bound of the module docstring is averaged over
    ``n_samples`` draws. ``log_z_top`` is the top RBM's log partition function (exact or AIS).
    Data should be binary (or Gaussian for a Gaussian first layer); grey pixels give the
    usual cross-entropy proxy.
    """
    rbms = list(rbms)
    v = v.reshape(len(v), -1).to(rbms[0].W)
    total = torch.zeros(len(v), dtype=torch.float64, device=v.device)
    for _ in range(n_samples if len(rbms) > 1 else 1):
        h_prev, bound = v, torch.zeros_like(total)
        for rbm in rbms[:-1]:
            a_h = rbm.hidden_input(h_prev)  # (N, n_hidden)
            h = (torch.rand(a_h.shape, generator=generator).to(a_h) < torch.sigmoid(a_h)).to(a_h)
            bound += (_log_conditional(h_prev, rbm.visible_input(h), rbm.config.visible)
                      - _log_conditional(h, a_h, "bernoulli")).double()
            h_prev = h
        bound += (-rbms[-1].free_energy(h_prev)).double() - log_z_top
        total += bound
    return total / (n_samples if len(rbms) > 1 else 1)


# ------------------------------------------------------ stacked denoising autoencoders
@dataclass
class StackedAEConfig:
    """Greedy stack of shallow (denoising) autoencoders, unrolled into one deep autoencoder."""

    widths: tuple[int, ...] = (784, 1000, 500, 250, 30)  # input size, then each layer's code size
    activation: Activation = "relu"  # hidden units of every layer (the top code layer is linear)
    init: Init = "kaiming"
    output: Output = "bernoulli"  # likelihood of the data layer's reconstruction
    noise: float = 0.2  # masking noise of each shallow autoencoder (0 = plain autoencoders)

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        check_choices(self, "model.")
        if len(self.widths) < 2:
            raise ConfigError(f"model.widths={self.widths}: need at least [input, code]")

    def layer_configs(self) -> list[AutoencoderConfig]:
        n = len(self.widths) - 1
        inner_output: Output = "bernoulli" if self.activation == "sigmoid" else "gaussian"
        return [AutoencoderConfig(input_dim=a, hidden=(), code_dim=b, activation=self.activation,
                                  code_activation="linear" if i == n - 1 else self.activation,
                                  init=self.init, output=self.output if i == 0 else inner_output,
                                  noise=self.noise)
                for i, (a, b) in enumerate(zip(self.widths[:-1], self.widths[1:]))]

    def deep_config(self) -> AutoencoderConfig:
        return AutoencoderConfig(input_dim=self.widths[0], hidden=self.widths[1:-1],
                                 code_dim=self.widths[-1], activation=self.activation,
                                 code_activation="linear", init=self.init, output=self.output)


def pretrain_stacked_autoencoder(config: StackedAEConfig, x: torch.Tensor, train: TrainConfig
                                 ) -> tuple[DeepAutoencoder, list[TrainResult]]:
    """Train one shallow autoencoder per layer on the codes of the layer below, then unroll.

    Returns the unrolled :class:`DeepAutoencoder` (encoders in order, decoders reversed) and the
    per-layer :class:`TrainResult` (run directories ``{train.output_dir}/layer-{i+1}``).
    """
    inputs = x.reshape(len(x), -1).float()
    shallow: list[DeepAutoencoder] = []
    results = []
    for i, layer_cfg in enumerate(config.layer_configs()):
        objective = AutoencoderObjective(layer_cfg)
        cfg = dataclasses.replace(train, output_dir=str(Path(train.output_dir) / f"layer-{i + 1}"))
        results.append(Trainer(objective, cfg, ArrayDataset(inputs, torch.zeros(len(inputs), dtype=torch.long))).fit())
        shallow.append(objective.model)
        inputs = encode_dataset(objective.model, inputs)
    deep = DeepAutoencoder(config.deep_config())
    enc = [m for m in deep.encoder if isinstance(m, nn.Linear)]
    dec = [m for m in deep.decoder if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for i, ae in enumerate(shallow):
            enc[i].load_state_dict(ae.encoder[0].state_dict())
            dec[-1 - i].load_state_dict(ae.decoder[0].state_dict())
    return deep, results


__all__ = ["DBNConfig", "DBNStack", "pretrain_dbn", "dbn_log_likelihood_bound", "StackedAEConfig",
           "pretrain_stacked_autoencoder"]
