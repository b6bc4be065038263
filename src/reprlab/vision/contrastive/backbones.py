"""Image encoders that map ``(B, C, H, W)`` images to a representation ``h`` of ``feature_dim``.

* :class:`ResNet` — He et al. (2016), "Deep Residual Learning for Image Recognition",
  https://arxiv.org/abs/1512.03385: ResNet-18/34 (basic blocks) and ResNet-50 (bottlenecks). With
  ``cifar_stem=True`` (SimCLR's CIFAR-10 variant, appendix B.9) the 7x7 stride-2 conv and the max
  pool become one 3x3 stride-1 conv, so 32x32 (or 28x28) inputs are not shrunk 4x at once.
* :class:`SmallCNN` — three 3x3 conv/BN/ReLU stages (32-64-128 channels) with 2x2 max-pools and a
  global average pool: a CPU-sized encoder for 8x8 digits and 28x28 Fashion-MNIST.

The classification layer is absent: ``h`` is the pooled feature vector that SimCLR's projection
head and the linear probe read.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reprlab.errors import ConfigError


def use_channels_last(module: nn.Module, enabled: bool = True) -> bool:
    """Store ``module``'s 4-D weights in channels-last (NHWC) order when ``enabled``; return ``enabled``.

    The backbones also convert their input, so every convolution, BatchNorm and max-pool runs on
    NHWC tensors: oneDNN's fast layout on the CPU (profiled in docs/simclr.md, "Speed": the small
    CNN's training step 1.3x faster in float32; in NCHW order its max-pool forward alone was 16% of
    the step). Values are the same up to float rounding; checkpoints store contiguous tensors.
    """
    if enabled:
        module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # (not in torch's stub)
    return enabled


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut; expansion 1."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride, as in torchvision's "ResNet v1.5"), 1x1 expand x4."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.shortcut = _shortcut(in_planes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + self.shortcut(x))


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Module:
    if stride == 1 and in_planes == out_planes:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes))


class ResNet(nn.Module):
    """ResNet trunk ending in global average pooling; ``forward(x) -> h`` of shape ``(B, feature_dim)``.

    Parameters
    ----------
    block: :class:`BasicBlock` or :class:`Bottleneck`.
    layers: blocks per stage, e.g. ``(2, 2, 2, 2)`` for ResNet-18.
    in_channels: image channels (1 for grey, 3 for RGB).
    cifar_stem: 3x3 stride-1 stem without max-pool (small images) instead of 7x7/2 + max-pool.
    width: channels of the first stage (64 in the paper); stages double it.
    channels_last: keep weights and activations in NHWC memory order (:func:`use_channels_last`).
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...],
                 in_channels: int = 3, cifar_stem: bool = True, width: int = 64, channels_last: bool = True):
        super().__init__()
        if cifar_stem:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        else:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 7, 2, 3, bias=False),
                                      nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, 2, 1))
        stages, in_planes = [], width
        for i, n_blocks in enumerate(layers):
            planes = width * 2 ** i
            blocks = []
            for j in range(n_blocks):
                blocks.append(block(in_planes, planes, stride=2 if (i > 0 and j == 0) else 1))
                in_planes = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = in_planes
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        self.channels_last = use_channels_last(self, channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.stages(self.stem(x))  # (B, feature_dim, H', W')
        return self.pool(h).flatten(1)  # (B, feature_dim)


class SmallCNN(nn.Module):
    """Three conv stages (``channels``), each 3x3 conv + BN + ReLU, max-pool after the first two.

    8x8 inputs become 2x2 maps and 28x28 become 7x7 before global average pooling; ``feature_dim``
    is the last stage's channel count (128 by default). ``channels_last``: :func:`use_channels_last`.
    """

    def __init__(self, in_channels: int = 1, channels: tuple[int, ...] = (32, 64, 128), channels_last: bool = True):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for i, ch in enumerate(channels):
            layers += [nn.Conv2d(prev, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(inplace=True)]
            if i < len(channels) - 1:
                layers.append(nn.MaxPool2d(2))
            prev = ch
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = prev
        self.channels_last = use_channels_last(self, channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.pool(self.features(x)).flatten(1)  # (B, feature_dim)


def resnet18(in_channels: int = 3, cifar_stem: bool = True, width: int = 64, channels_last: bool = True) -> ResNet:
    """ResNet-18: basic blocks (2, 2, 2, 2), ``feature_dim = 8 width`` (512)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), in_channels, cifar_stem, width, channels_last)


def resnet34(in_channels: int = 3, cifar_stem: bool = True, width: int = 64, channels_last: bool = True) -> ResNet:
    """ResNet-34: basic blocks (3, 4, 6, 3), ``feature_dim = 8 width`` (512)."""
    return ResNet(BasicBlock, (3, 4, 6, 3), in_channels, cifar_stem, width, channels_last)


def resnet50(in_channels: int = 3, cifar_stem: bool = True, width: int = 64, channels_last: bool = True) -> ResNet:
    """ResNet-50: bottlenecks (3, 4, 6, 3), ``feature_dim = 32 width`` (2048)."""
    return ResNet(Bottleneck, (3, 4, 6, 3), in_channels, cifar_stem, width, channels_last)


def small_cnn(in_channels: int = 1, cifar_stem: bool = True, width: int = 32, channels_last: bool = True) -> SmallCNN:
    """:class:`SmallCNN` with stages ``(width, 2 width, 4 width)``; ``cifar_stem`` is ignored."""
    return SmallCNN(in_channels, (width, 2 * width, 4 * width), channels_last)


BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "small_cnn": small_cnn, "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50,
}


def encoder_feature_dim(encoder: nn.Module) -> int:
    """The width of ``encoder``'s output ``h``: its ``feature_dim`` attribute (every backbone here has one)."""
    dim = getattr(encoder, "feature_dim", None)
    if not isinstance(dim, int) or dim < 1:
        raise ConfigError(f"encoder {type(encoder).__name__} has feature_dim={dim!r}: give it an int attribute "
                          "feature_dim, the width of its output (B, feature_dim)")
    return dim


def build_backbone(name: str, in_channels: int = 3, *, cifar_stem: bool = True,
                   width: int | None = None) -> nn.Module:
    """Encoder by name (``small_cnn``, ``resnet18``, ``resnet34``, ``resnet50``).

    ``width`` defaults to 32 for ``small_cnn`` and 64 for the ResNets.
    """
    if name not in BACKBONES:
        raise ConfigError(f"backbone={name!r}: choose one of {', '.join(BACKBONES)}")
    if in_channels not in (1, 3):
        raise ConfigError(f"in_channels={in_channels}: images must have 1 (grey) or 3 (RGB) channels")
    kwargs = {} if width is None else {"width": width}
    return BACKBONES[name](in_channels=in_channels, cifar_stem=cifar_stem, **kwargs)


__all__ = ["BasicBlock", "Bottleneck", "ResNet", "SmallCNN", "resnet18", "resnet34", "resnet50",
           "small_cnn", "use_channels_last", "build_backbone", "encoder_feature_dim", "BACKBONES"]
