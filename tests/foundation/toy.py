"""A small objective and data set used by the foundation tests (and their subprocess scripts)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from reprlab.data import ArrayDataset
from reprlab.train import LossOutput, Objective


@dataclass
class ToyConfig:
    dim: int = 6
    hidden: int = 16
    dropout: float = 0.1


class ToyRegression(Objective):
    """MLP regression with dropout (so resume must restore the RNG to be bit-identical)."""

    def __init__(self, config: ToyConfig | None = None):
        super().__init__()
        self.config = config = config or ToyConfig()
        self.net = nn.Sequential(nn.Linear(config.dim, config.hidden), nn.LayerNorm(config.hidden),
                                 nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(config.hidden, 1))

    def forward(self, batch):
        x, y = batch
        pred = self.net(x).squeeze(-1)
        loss = ((pred - y) ** 2).mean()
        return LossOutput(loss, {"mae": (pred - y).abs().mean()})


def toy_data(n: int = 96, dim: int = 6, seed: int = 0) -> ArrayDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    y = x @ torch.randn(dim, generator=g) + 0.1 * torch.randn(n, generator=g)
    return ArrayDataset(x, y)


def make_model(seed: int = 0, dropout: float = 0.1) -> ToyRegression:
    torch.manual_seed(seed)
    return ToyRegression(ToyConfig(dropout=dropout))
