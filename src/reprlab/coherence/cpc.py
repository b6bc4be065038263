"""Contrastive Predictive Coding: predict future latents from a running context, contrastively.

van den Oord, A., Li, Y. & Vinyals, O. (2018). *Representation Learning with Contrastive
Predictive Coding.* https://arxiv.org/abs/1807.03748

    z_t = g_enc(x_t),   c_t = g_ar(z_<=t) (a GRU),   f_k(z_{t+k}, c_t) = exp(z_{t+k}^T W_k c_t)

and for every step k = 1..K the InfoNCE loss (eq. 4) picks the true ``z_{t+k}`` among the latents of
every other position and sequence in the batch (in-batch and in-sequence negatives):

    L = mean_k  InfoNCE( {W_k c_t}, {z_{t+k}} )

The data here are synthetic signals whose frequency and amplitude drift slowly (the "slow
features" CPC should find; :func:`slow_factor_signals`) and character sequences from a text file
(:func:`char_sequences`). A linear probe (ridge regression) of the latent factors from ``c_t``
measures what was learned, against the same network untrained (the run:
:func:`reprlab.coherence.runs.run_cpc`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from reprlab.coherence.infonce import check_temperature, info_nce_from_scores
from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError
from reprlab.train import LossOutput, Objective, batch_inputs
from reprlab.train.distributed import gather_batch


@dataclass
class CPCConfig:
    """CPC model sizes (defaults: the synthetic-signal task, ~60k parameters)."""

    input: Literal["signal", "chars"] = "signal"  # signal: float samples, conv encoder; chars: ids, embedding + conv
    in_channels: int = 1  # signal: channels per sample
    vocab_size: int = 256  # chars: byte vocabulary
    latent_dim: int = 32  # z_t
    context_dim: int = 64  # c_t (GRU hidden size)
    stride: int = 4  # encoder downsampling: one z_t per `stride` input samples
    kernel: int = 8  # first conv's width (signal)
    predict_steps: int = 4  # K future steps, one bilinear W_k each
    temperature: float = 1.0  # scores z^T W_k c / temperature

    def __post_init__(self) -> None:
        check_choices(self, "model.")
        if min(self.latent_dim, self.context_dim, self.stride, self.kernel, self.predict_steps) < 1:
            raise ConfigError("latent_dim, context_dim, stride, kernel and predict_steps must be >= 1")
        check_temperature(self.temperature, "model.temperature")


class CPCEncoder(nn.Module):
    """g_enc: strided 1-D convolutions, ``(B, C, T)`` floats or ``(B, T)`` ids -> ``(B, T', latent)``."""

    def __init__(self, config: CPCConfig):
        super().__init__()
        c = config
        self.embed = nn.Embedding(c.vocab_size, 32) if c.input == "chars" else None
        cin = 32 if c.input == "chars" else c.in_channels
        kernel = max(c.kernel, c.stride)
        self.net = nn.Sequential(
            nn.Conv1d(cin, 64, kernel_size=kernel, stride=c.stride, padding=(kernel - c.stride) // 2),
            nn.ReLU(),
            nn.Conv1d(64, c.latent_dim, kernel_size=3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embed is not None:
            x = self.embed(x).transpose(1, 2)  # (B, 32, T)
        return self.net(x).transpose(1, 2)  # (B, T', latent)


class CPCModel(nn.Module):
    """Encoder, GRU context network and the K bilinear predictors."""

    def __init__(self, config: CPCConfig):
        super().__init__()
        self.config = config
        self.encoder = CPCEncoder(config)
        self.context = nn.GRU(config.latent_dim, config.context_dim, batch_first=True)
        self.predictors = nn.ModuleList([nn.Linear(config.context_dim, config.latent_dim, bias=False)
                                         for _ in range(config.predict_steps)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``z (B, T', latent)`` and ``c (B, T', context)``."""
        z = self.encoder(x)  # (B, T', Dz)
        c, _ = self.context(z)  # (B, T', Dc)
        return z, c


def cpc_loss(z: torch.Tensor, c: torch.Tensor, predictors: nn.ModuleList,
             temperature: float = 1.0) -> tuple[torch.Tensor, list[float]]:
    """Mean over k of InfoNCE between ``W_k c_t`` and ``z_{t+k}`` (all positions as negatives).

    Parameters
    ----------
    z: Tensor, shape ``(B, T, Dz)``; c: Tensor, shape ``(B, T, Dc)``.

    Returns
    -------
    (loss, top-1 accuracy per k)
    """
    b, t, dz = z.shape
    k_max = len(predictors)
    if t <= k_max:
        raise DataError(f"sequences give {t} latent steps, not more than predict_steps={k_max}: "
                        "use longer sequences or fewer prediction steps")
    if b * (t - k_max) < 2:
        raise DataError("CPC needs negatives: use batch_size >= 2 or longer sequences")
    losses, accs = [], []
    for k, w in enumerate(predictors, start=1):
        pred = w(c[:, :t - k]).reshape(-1, dz)  # (B (T-k), Dz)
        target = z[:, k:].reshape(-1, dz)  # (B (T-k), Dz)
        scores = pred @ target.T / temperature  # (B (T-k), B (T-k))
        losses.append(info_nce_from_scores(scores))
        accs.append(float((scores.argmax(1) == torch.arange(len(scores), device=scores.device)).float().mean()))
    return torch.stack(losses).mean(), accs


class CPCObjective(Objective):
    """CPC through the shared Trainer; batches are ``x`` or ``(x, ...)`` (extra items ignored)."""

    def __init__(self, config: CPCConfig):
        super().__init__()
        self.config = config
        self.model = CPCModel(config)

    def forward(self, batch) -> LossOutput:
        x = batch_inputs(batch)
        z, c = self.model(x)
        # negatives span the global batch under torch.distributed (same loss as one process)
        z, c = gather_batch(z, self.training), gather_batch(c, self.training)
        loss, accs = cpc_loss(z, c, self.model.predictors, self.config.temperature)
        metrics: dict[str, object] = {f"acc_k{k}": a for k, a in enumerate(accs, start=1)}
        b, t = z.shape[:2]
        log_n = sum(math.log(b * (t - k)) for k in range(1, len(accs) + 1)) / len(accs)
        metrics["infonce_nats"] = log_n - loss.detach()  # mean over k of log N_k - L_k
        return LossOutput(loss=loss, metrics=metrics, num_items=x.shape[0])


# ------------------------------------------------------------------------------ data
def _slow_walk(n: int, length: int, rng: np.random.Generator, smooth: int) -> np.ndarray:
    """Smooth random curves in [0, 1], shape ``(n, length)`` (moving-average of white noise)."""
    noise = rng.standard_normal((n, length + 2 * smooth))
    kernel = np.hanning(2 * smooth + 1)
    walk = np.stack([np.convolve(row, kernel / kernel.sum(), mode="valid")[:length] for row in noise])
    walk = (walk - walk.mean()) / (walk.std() + 1e-12)
    return 1.0 / (1.0 + np.exp(-1.5 * walk))  # squashed into (0, 1)


def slow_factor_signals(n: int, length: int = 256, *, noise: float = 0.1, smooth: int = 48,
                        seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sinusoids whose frequency and amplitude drift slowly: ``x (n, 1, length)``, ``factors (n, 2, length)``.

    ``x(t) = A(t) sin(2 pi sum_{s<=t} f(s)) + noise``, with ``f`` in [0.04, 0.20] cycles/sample and
    ``A`` in [0.3, 1.5] following independent smooth random curves (Hann-window moving averages of
    ``2 smooth + 1`` samples). ``factors[:, 0] = f``, ``factors[:, 1] = A``.
    """
    if n < 1 or length < 8:
        raise DataError(f"n={n}, length={length}: need n >= 1 and length >= 8")
    rng = np.random.default_rng(seed)
    freq = 0.04 + 0.16 * _slow_walk(n, length, rng, smooth)
    amp = 0.3 + 1.2 * _slow_walk(n, length, rng, smooth)
    phase = 2 * np.pi * (np.cumsum(freq, axis=1) + rng.random((n, 1)))
    x = amp * np.sin(phase) + noise * rng.standard_normal((n, length))
    factors = np.stack([freq, amp], axis=1)
    return torch.tensor(x[:, None], dtype=torch.float32), torch.tensor(factors, dtype=torch.float32)


def char_sequences(text: str, length: int = 128, *, stride: int | None = None) -> torch.Tensor:
    """Byte ids of ``text`` cut into windows, shape ``(N, length)`` (UTF-8 bytes, vocabulary 256)."""
    ids = torch.tensor(list(text.encode("utf-8")), dtype=torch.long)
    stride = stride or length
    if len(ids) < length:
        raise DataError(f"text has {len(ids)} bytes, fewer than one window of {length}: use a longer "
                        "file or a shorter length")
    return ids.unfold(0, length, stride).contiguous()  # (N, length)


# ----------------------------------------------------------------------------- probe
@torch.no_grad()
def cpc_features(model: CPCModel, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Context vectors ``c``, shape ``(N, T', context)``."""
    model.eval()
    return torch.cat([model(x[i:i + batch_size])[1] for i in range(0, len(x), batch_size)])


def factors_per_step(factors: torch.Tensor, stride: int, steps: int) -> torch.Tensor:
    """Latent factors averaged over each encoder window: ``(N, F, T) -> (N, steps, F)``."""
    t = steps * stride
    f = factors[..., :t]
    return f.reshape(f.shape[0], f.shape[1], steps, stride).mean(-1).transpose(1, 2)


def factor_probe_r2(train_feats: torch.Tensor, train_factors: torch.Tensor, test_feats: torch.Tensor,
                    test_factors: torch.Tensor, alpha: float = 1e-2, skip: int = 4) -> list[float]:
    """:func:`reprlab.transfer.ridge_probe` R^2 per factor from features ``(N, T, D)`` to factors ``(N, T, F)``.

    Every step of every sequence is one example; the first ``skip`` steps are dropped (the GRU has
    seen too little of the sequence there).
    """
    from reprlab.transfer import ridge_probe

    def flat(a: torch.Tensor) -> torch.Tensor:
        return a[:, skip:].reshape(-1, a.shape[-1])

    return ridge_probe(flat(train_feats), flat(train_factors), flat(test_feats), flat(test_factors), alpha=alpha)
