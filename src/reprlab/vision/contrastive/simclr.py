"""SimCLR: contrastive pretraining of an image encoder from two augmented views of each image.

Chen, Kornblith, Norouzi & Hinton (2020), "A Simple Framework for Contrastive Learning of Visual
Representations", https://arxiv.org/abs/2002.05709. For a batch of N images, two random views
``x~_i = t(x), x~_j = t'(x)`` pass through the encoder ``h = f(x~)`` (e.g. a ResNet) and a small MLP
projection head ``z = g(h)``; the NT-Xent loss (eq. 1, :func:`reprlab.vision.contrastive.losses.nt_xent`)
pulls the two views of each image together against the other 2N - 2 views. After pretraining
the head is dropped: ``h`` is the representation, evaluated by a linear classifier on frozen
features (:mod:`reprlab.transfer.probe`) or by fine-tuning with few labels
(:mod:`reprlab.transfer.finetune`).

:class:`SimCLRObjective` is an :class:`reprlab.train.Objective`: the shared Trainer runs it (LARS,
warmup + cosine, DDP, checkpoints). Views are drawn on the model's device inside ``forward`` with
a generator reseeded from ``(seed, step, micro-batch)``, so a resumed run sees the same views;
under torch.distributed each rank draws the views of the whole global batch and keeps its own
slice, so W processes see the views one process would (and, with the Trainer's global BatchNorm,
train the same weights). An online linear probe reads ``h.detach()`` (stop-gradient) so accuracy is visible during
pretraining without shaping the representation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.coherence import check_temperature
from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError
from reprlab.train import LossOutput, Objective
from reprlab.train.distributed import gather_batch, rank
from reprlab.vision.contrastive.augment import AugmentConfig, SimCLRAugment, TwoViews, check_images
from reprlab.vision.contrastive.backbones import build_backbone, encoder_feature_dim
from reprlab.vision.contrastive.losses import nt_xent


@dataclass
class SimCLRConfig:
    """Model side of a SimCLR run (the optimiser lives in :class:`reprlab.train.TrainConfig`)."""

    backbone: Literal["small_cnn", "resnet18", "resnet34", "resnet50"] = "small_cnn"
    in_channels: int = 1  # 1 for grey images (digits, Fashion-MNIST), 3 for RGB
    cifar_stem: bool = True  # 3x3 stride-1 stem, no max-pool (images of 32 px or less)
    width: int | None = None  # first-stage channels; None: 32 (small_cnn) or 64 (ResNets)
    proj_hidden: int = 512  # projection-head hidden width (SimCLR: = feature_dim)
    proj_dim: int = 128  # z dimension (SimCLR: 128)
    proj_layers: int = 2  # 2 or 3 linear layers (SimCLR v1: 2, v2: 3)
    temperature: float = 0.5  # NT-Xent tau (SimCLR CIFAR-10: 0.5)
    num_classes: int = 10  # classes of the online linear probe; 0 disables it
    seed: int = 0  # seeds the view generator together with the step
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        check_choices(self, "model.")
        check_temperature(self.temperature, "model.temperature")
        if self.proj_layers not in (1, 2, 3):
            raise ConfigError(f"model.proj_layers={self.proj_layers!r}: choose 1, 2 or 3")
        if self.num_classes < 0:
            raise ConfigError(f"model.num_classes={self.num_classes!r}: must be >= 0 (0 disables the probe)")
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig(**self.augment)


class ProjectionHead(nn.Sequential):
    """MLP ``g``: ``(Linear -> BN -> ReLU) x (layers - 1) -> Linear -> BN`` (SimCLR v2 style).

    Shape: ``(B, in_dim) -> (B, out_dim)``.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int = 128, layers: int = 2):
        modules: list[nn.Module] = []
        prev = in_dim
        for _ in range(layers - 1):
            modules += [nn.Linear(prev, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True)]
            prev = hidden_dim
        modules += [nn.Linear(prev, out_dim, bias=False), nn.BatchNorm1d(out_dim, affine=False)]
        super().__init__(*modules)


class SimCLRObjective(Objective):
    """Encoder + projection head + NT-Xent (+ a detached online linear probe).

    Parameters
    ----------
    config: :class:`SimCLRConfig`.
    encoder: optional prebuilt encoder with a ``feature_dim`` attribute (default: ``config.backbone``).

    ``forward(batch)`` takes ``(x, y)`` or ``x`` with ``x`` of shape ``(B, C, H, W)`` in [0, 1]
    (labels ``y`` feed only the probe; ``-1`` marks unlabelled images) and returns the NT-Xent
    loss plus ``probe_loss`` (its gradient reaches only the probe). Metrics: ``ntxent``,
    ``pair_acc`` (how often a view's nearest other view is its partner) and ``probe_acc``. In eval
    mode the probe sees the un-augmented images.
    """

    def __init__(self, config: SimCLRConfig | None = None, encoder: nn.Module | None = None):
        super().__init__()
        self.config = config or SimCLRConfig()
        cfg = self.config
        self.encoder = encoder if encoder is not None else build_backbone(
            cfg.backbone, cfg.in_channels, cifar_stem=cfg.cifar_stem, width=cfg.width)
        self._feature_dim = dim = encoder_feature_dim(self.encoder)
        self.projector = ProjectionHead(dim, cfg.proj_hidden, cfg.proj_dim, cfg.proj_layers)
        self.probe = nn.Linear(dim, cfg.num_classes) if cfg.num_classes > 0 else None
        self.views = TwoViews(SimCLRAugment(cfg.augment))
        # optimizer steps taken, saved with the weights so a resumed run draws the same views
        self.view_step: torch.Tensor
        self.register_buffer("view_step", torch.zeros((), dtype=torch.long))
        self._micro = 0

    @property
    def feature_dim(self) -> int:
        return self._feature_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``h = f(x)``, shape ``(B, feature_dim)``."""
        return self.encoder(x)

    def view_generator(self, device: torch.device) -> torch.Generator:
        """Generator for this micro-batch's views, seeded by (seed, step, micro-batch)."""
        gen = torch.Generator(device=device)
        key = (self.config.seed * 1_000_003 + int(self.view_step)) * 1_009 + self._micro
        gen.manual_seed(key if self.training else self.config.seed)
        return gen

    def forward(self, batch: Any) -> LossOutput:
        x, y = (batch[0], batch[1]) if isinstance(batch, (list, tuple)) else (batch, None)
        check_images(x, "simclr batch")
        if x.shape[1] != self.config.in_channels:
            raise DataError(f"simclr batch: images have {x.shape[1]} channel(s) but model.in_channels="
                            f"{self.config.in_channels}; set model.in_channels to match the data")
        n = x.shape[0]
        # the global batch's views (one process's), this rank's slice of them
        x_global = gather_batch(x.detach(), self.training)
        v1, v2 = self.views(x_global, self.view_generator(x.device))  # (N, C, H', W') each
        if x_global.shape[0] != n:
            v1, v2 = v1[rank() * n:(rank() + 1) * n], v2[rank() * n:(rank() + 1) * n]
        if self.training:
            self._micro += 1
        h = self.encoder(torch.cat([v1, v2]))  # (2n, feature_dim)
        z = self.projector(h)  # (2n, proj_dim)
        # the 2n x 2n similarities in float32 also under bf16 autocast (train.precision=bf16): their
        # softmax at tau = 0.5 would otherwise see 8-bit mantissas; the matmul is small
        with torch.autocast(x.device.type, enabled=False):
            z1, z2 = z[:n].float(), z[n:].float()
            contrastive = nt_xent(z1, z2, self.config.temperature)
        metrics: dict[str, Any] = {"ntxent": contrastive.detach(), "pair_acc": _pair_accuracy(z1, z2)}
        loss = contrastive
        if self.probe is not None and y is not None and bool((y >= 0).any()):
            feats = h.detach() if self.training else self.encoder(x).detach()
            labels = torch.cat([y, y]) if self.training else y
            keep = labels >= 0
            logits = self.probe(feats[keep])  # (m, num_classes)
            probe_loss = F.cross_entropy(logits, labels[keep])
            loss = loss + probe_loss
            metrics["probe_loss"] = probe_loss.detach()
            metrics["probe_acc"] = (logits.argmax(1) == labels[keep]).float().mean()
        return LossOutput(loss, metrics, num_items=n)

    def on_step_end(self, step: int) -> None:
        self.view_step.fill_(step)
        self._micro = 0


@torch.no_grad()
def _pair_accuracy(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Fraction of the 2n views whose most similar other view is their partner (top-1 of NT-Xent)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2n, D)
    sim = z @ z.T
    sim.fill_diagonal_(float("-inf"))
    n = z1.shape[0]
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return (sim.argmax(1) == target).float().mean()


__all__ = ["SimCLRConfig", "ProjectionHead", "SimCLRObjective"]
