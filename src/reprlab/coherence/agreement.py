"""Bottom-up / top-down agreement, trained layer-locally, and why agreement must be contrastive.

Hinton (SIGIR 2020 talk, after Becker & Hinton 1992): good features are extracted bottom-up from a
patch *and* predicted top-down from the larger context ("she scromed him with the frying pan").
Asking the two to be *equal* collapses — shrink every activation to a constant and they agree
perfectly. Agreement has to be defined by co-variation across cases: the prediction for image i
must match image i's features better than it matches other images' (InfoNCE, van den Oord et al.
2018, https://arxiv.org/abs/1807.03748).

The stack. An image is cut into a grid of P patches. Layer l maps each patch's layer-(l-1)
representation to ``h_{l,p} = f_l(h_{l-1,p})`` (bottom-up, shared across patches). Its top-down
prediction comes from the larger context — the other patches of the same image at that layer, plus
the patch's position: ``t_{l,p} = g_l(mean_{q != p} h_{l,q}, onehot(p))``. Layer l's loss is

    mse:          mean_p || h_{l,p} - t_{l,p} ||^2
    contrastive:  mean_p InfoNCE over the batch of (h_{l,p}, t_{l,p}) (cosine critic)

Layer-local training: the input of layer l is ``h_{l-1}.detach()``, so each layer's loss moves only
that layer's f_l and g_l — no gradient crosses a layer boundary and there is no end-to-end backprop.
All layers are one :class:`AgreementObjective` (one optimizer; the summed loss has a
block-diagonal gradient, which is exactly separate per-layer training run in lock-step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import nn

from reprlab.coherence.infonce import check_temperature, critic_scores, info_nce_from_scores
from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError
from reprlab.train import LossOutput, Objective, batch_inputs
from reprlab.train.distributed import gather_batch

# contrastive: InfoNCE across the batch | mse: equality (collapses)
Agreement = Literal["mse", "contrastive"]
AGREEMENTS: tuple[str, ...] = get_args(Agreement)


@dataclass
class AgreementConfig:
    """Layer-local bottom-up/top-down agreement stack."""

    agreement: Agreement = "contrastive"
    grid: int = 2  # patches per side: the image is cut into grid x grid patches
    widths: tuple[int, ...] = (64, 64)  # representation width of each layer
    hidden: int = 128  # hidden width inside each f_l and g_l
    temperature: float = 0.1  # contrastive: cosine scores / temperature

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        check_choices(self, "model.")
        if self.grid < 2 or not self.widths or min(self.widths) < 1:
            raise ConfigError(f"grid={self.grid}, widths={self.widths}: need grid >= 2 (context needs "
                              "other patches) and at least one layer of width >= 1")
        check_temperature(self.temperature, "model.temperature")


def image_patches(x: torch.Tensor, grid: int) -> torch.Tensor:
    """Cut images ``(B, C, H, W)`` into ``grid x grid`` patches, shape ``(B, P, C*h*w)``."""
    b, c, h, w = x.shape
    if h % grid or w % grid:
        raise DataError(f"images of {h}x{w} do not split into a {grid}x{grid} grid; pick a grid "
                        "that divides both sides")
    ph, pw = h // grid, w // grid
    p = x.reshape(b, c, grid, ph, grid, pw).permute(0, 2, 4, 1, 3, 5)  # (B, g, g, C, ph, pw)
    return p.reshape(b, grid * grid, c * ph * pw)


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))


class AgreementLayer(nn.Module):
    """One layer: bottom-up ``f`` per patch and top-down ``g`` from the other patches."""

    def __init__(self, d_in: int, width: int, hidden: int, n_patches: int):
        super().__init__()
        self.n_patches = n_patches
        self.bottom_up = _mlp(d_in, hidden, width)
        self.top_down = _mlp(width + n_patches, hidden, width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (B, P, d_in)`` -> bottom-up ``h (B, P, W)`` and top-down prediction ``t (B, P, W)``."""
        b, p, _ = x.shape
        h = self.bottom_up(x)  # (B, P, W)
        others = (h.sum(1, keepdim=True) - h) / (p - 1)  # (B, P, W): mean of the other patches
        pos = torch.eye(p, device=x.device, dtype=x.dtype).expand(b, p, p)  # (B, P, P)
        t = self.top_down(torch.cat([others, pos], dim=-1))  # (B, P, W)
        return h, t


def agreement_loss(h: torch.Tensor, t: torch.Tensor, agreement: str, temperature: float = 0.1) -> torch.Tensor:
    """MSE (``||h - t||^2`` per item) or InfoNCE across the batch, averaged over patches."""
    if agreement == "mse":
        return (h - t).pow(2).sum(-1).mean()
    if h.shape[0] < 2:
        raise DataError("contrastive agreement needs negatives: use batch_size >= 2")
    losses = [info_nce_from_scores(critic_scores(h[:, p], t[:, p], "cosine", temperature), symmetric=True)
              for p in range(h.shape[1])]
    return torch.stack(losses).mean()


class AgreementObjective(Objective):
    """The layer-local agreement stack; batches are ``images (B, C, H, W)`` or ``(images, labels)``.

    Labels are never used. Metrics: per-layer loss and ``var_l`` — the activation variance across
    the batch, averaged over units and patches (the collapse detector).
    """

    def __init__(self, config: AgreementConfig, image_shape: tuple[int, int, int]):
        super().__init__()
        self.config = config
        c, h, w = image_shape
        g = config.grid
        if h % g or w % g:
            raise ConfigError(f"grid={g} does not divide the {h}x{w} images")
        d_in = c * (h // g) * (w // g)
        layers = []
        for width in config.widths:
            layers.append(AgreementLayer(d_in, width, config.hidden, g * g))
            d_in = width
        self.layers = nn.ModuleList(layers)

    @property
    def stack(self) -> list[AgreementLayer]:
        """The layers, bottom first."""
        return [m for m in self.layers if isinstance(m, AgreementLayer)]

    def representations(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Bottom-up representations of every layer, each ``(B, P, W_l)``."""
        x = image_patches(images, self.config.grid)
        out = []
        for layer in self.stack:
            x = layer.bottom_up(x.detach())
            out.append(x)
        return out

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Concatenated representations of all layers and patches, ``(B, P * sum(widths))``."""
        return torch.cat([h.flatten(1) for h in self.representations(images)], dim=1)

    def forward(self, batch) -> LossOutput:
        images = batch_inputs(batch)
        x = image_patches(images, self.config.grid)  # (B, P, C h w)
        total = images.new_zeros(())
        metrics: dict[str, object] = {}
        for i, layer in enumerate(self.stack, start=1):
            h, t = layer(x.detach())  # detach: layer-local, nothing flows to the layer below
            # in-batch negatives span the global batch under torch.distributed
            gather = self.training and self.config.agreement == "contrastive"
            loss = agreement_loss(gather_batch(h, gather), gather_batch(t, gather), self.config.agreement,
                                  self.config.temperature)
            total = total + loss
            metrics[f"loss_{i}"] = loss.detach()
            metrics[f"var_{i}"] = h.detach().var(0).mean()
            x = h
        return LossOutput(loss=total, metrics=metrics, num_items=images.shape[0])


def activation_variance(objective: AgreementObjective, images: torch.Tensor) -> list[float]:
    """Per layer: variance across images of each unit, averaged over units and patches."""
    with torch.no_grad():
        return [float(h.var(0).mean()) for h in objective.representations(images)]


def probe_accuracy(objective: AgreementObjective, train_x: torch.Tensor, train_y: torch.Tensor,
                   test_x: torch.Tensor, test_y: torch.Tensor, max_iter: int = 300) -> float:
    """:func:`reprlab.transfer.linear_probe` accuracy (C = 0.1) on the frozen features of all layers."""
    from reprlab.transfer import linear_probe

    return linear_probe(objective.features(train_x), train_y, objective.features(test_x), test_y,
                        C=0.1, max_iter=max_iter).accuracy


__all__ = ["AgreementConfig", "AgreementLayer", "AgreementObjective", "agreement_loss", "image_patches",
           "activation_variance", "probe_accuracy", "AGREEMENTS"]
