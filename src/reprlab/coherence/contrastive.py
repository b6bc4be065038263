"""Contrastive coherence: the IMAX two-patch setup trained with InfoNCE instead of variances.

Each patch's output must pick its partner (the adjacent patch of the *same* stereogram) among the
adjacent patches of the other stereograms in the batch. Nothing assumes the outputs are Gaussian,
so heavy tails or a few clusters do not inflate the score; the price is the ``log(batch)`` ceiling
(:mod:`reprlab.coherence.infonce`). Hinton's talk: "agreement must be defined contrastively".

    L = sum_i InfoNCE(y_i, y_{i+1}),   estimate of I = log B - L   (per adjacent pair)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from reprlab.coherence.imax import IMAXConfig, build_module, pearson_r
from reprlab.coherence.infonce import Critic, check_temperature, critic_scores, info_nce_from_scores
from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError
from reprlab.train import LossOutput, Objective
from reprlab.train.distributed import gather_batch


@dataclass
class ContrastiveCoherenceConfig(IMAXConfig):
    """Module fields as :class:`IMAXConfig`, plus the critic (the contrastive objective needs
    ``variant='pair'``; IMAX runs ignore ``critic`` and ``temperature``)."""

    critic: Critic = "neg_sq"  # neg_sq: -(a-b)^2, suits scalar outputs
    temperature: float = 1.0  # scores are divided by it

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choices(self, "model.")
        check_temperature(self.temperature, "model.temperature")


class ContrastiveCoherenceObjective(Objective):
    """InfoNCE between adjacent patch modules (symmetric, in-batch negatives); labels unused.

    Batches are ``strips (B, P, 2, H, W)`` or ``(strips, disparity)``; ``abs_r`` is reported only.
    """

    def __init__(self, config: ContrastiveCoherenceConfig, n_patches: int, height: int, patch_width: int):
        super().__init__()
        if config.variant != "pair":
            raise ConfigError("contrastive coherence compares adjacent patches: set model.variant='pair'")
        self.config = config
        n_modules = 1 if config.share_weights else n_patches
        self.modules_ = nn.ModuleList([build_module(config, height, patch_width) for _ in range(n_modules)])

    def outputs(self, strips: torch.Tensor) -> torch.Tensor:
        """Module outputs, shape ``(B, P, out_dim)``."""
        b, p = strips.shape[:2]
        if len(self.modules_) == 1:
            return self.modules_[0](strips.flatten(0, 1)).view(b, p, -1)
        return torch.stack([m(strips[:, i]) for i, m in enumerate(self.modules_)], dim=1)

    def forward(self, batch) -> LossOutput:
        strips, disparity = (batch if isinstance(batch, (tuple, list)) else (batch, None))
        b = strips.shape[0]
        if b < 2:
            raise DataError(f"contrastive coherence needs in-batch negatives: got a batch of {b}; "
                            "use batch_size >= 2")
        c = self.config
        # negatives span the global batch under torch.distributed (same loss as one process)
        y = gather_batch(self.outputs(strips), self.training)  # (B, P, D)
        b = y.shape[0]
        loss = strips.new_zeros(())
        for i in range(y.shape[1] - 1):
            scores = critic_scores(y[:, i], y[:, i + 1], c.critic, c.temperature)  # (B, B)
            loss = loss + info_nce_from_scores(scores, symmetric=True)
        pairs = y.shape[1] - 1
        metrics: dict[str, object] = {"infonce_nats": math.log(b) - loss.detach() / pairs}
        if disparity is not None and y.shape[-1] == 1:
            disparity = gather_batch(disparity, self.training)
            metrics["abs_r"] = abs(pearson_r(y[..., 0].detach().flatten(), disparity.flatten()))
        return LossOutput(loss=loss, metrics=metrics, num_items=strips.shape[0])
