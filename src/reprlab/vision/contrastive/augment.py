"""Seeded, batched image augmentations in torch for contrastive learning (SimCLR's view pipeline).

SimCLR (Chen et al. 2020, https://arxiv.org/abs/2002.05709, appendix A) makes two views of each
image with: random resized crop + horizontal flip, colour jitter (p=0.8), random grayscale
(p=0.2), Gaussian blur and (SimCLR v2 / BYOL) solarization. Here every transform works on a whole
batch ``(B, C, H, W)`` of floats in [0, 1] on its device at once, with per-sample random parameters
drawn from an explicit :class:`torch.Generator` (no global RNG, no torchvision):

* crop + flip are one axis-aligned affine map per sample, applied as two batched matmuls with
  bilinear interpolation matrices (identical to ``affine_grid``/``grid_sample``, and faster);
* jitter factors, blur widths and the Bernoulli masks are ``(B,)`` tensors;
* 1-channel images take the grayscale-safe path (saturation, hue and grayscale are identities).

Every ``apply_*`` function is a pure function of the images and the parameters, so identity
parameters give back the input (tested). Output stays in [0, 1]; no mean/std normalisation is done
(every encoder's first convolution is followed by batch norm, which absorbs the offset).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch

from reprlab.errors import ConfigError, DataError
from reprlab.train.threads import torch_threads

# ITU-R 601-2 luma, as in PIL's convert("L") and torchvision's rgb_to_grayscale.
_LUMA = (0.299, 0.587, 0.114)


@dataclass
class AugmentConfig:
    """Parameters of the SimCLR view distribution (defaults: SimCLR's CIFAR-10 recipe)."""

    size: int | None = None  # output side length; None keeps the input size
    crop_scale: tuple[float, float] = (0.2, 1.0)  # area fraction; SimCLR ImageNet uses (0.08, 1)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect ratio w/h of the crop
    flip_p: float = 0.5  # horizontal flip probability
    jitter_p: float = 0.8  # probability of applying colour jitter to a sample
    brightness: float = 0.4  # factor drawn from [1 - b, 1 + b] (SimCLR strength s=0.5: 0.8 s)
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1  # hue shift drawn from [-h, h] turns of the colour wheel (h <= 0.5)
    grayscale_p: float = 0.2
    blur_p: float = 0.0  # SimCLR uses 0.5 on ImageNet and no blur on CIFAR-sized images
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # in pixels
    solarize_p: float = 0.0  # BYOL / SimCLR v2 use 0.2 on the second view
    solarize_threshold: float = 0.5

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"augment.{name}={getattr(self, name)!r}: {why}")

        lo, hi = self.crop_scale
        if not 0 < lo <= hi <= 1:
            raise bad("crop_scale", "needs 0 < min <= max <= 1, e.g. [0.2, 1.0]")
        lo, hi = self.crop_ratio
        if not 0 < lo <= hi:
            raise bad("crop_ratio", "needs 0 < min <= max, e.g. [0.75, 1.333]")
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p", "solarize_p", "solarize_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise bad(name, "must be in [0, 1]")
        for name in ("brightness", "contrast", "saturation"):
            if getattr(self, name) < 0:
                raise bad(name, "must be >= 0 (0 disables)")
        if not 0.0 <= self.hue <= 0.5:
            raise bad("hue", "must be in [0, 0.5]")
        if not 0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise bad("blur_sigma", "needs 0 < min <= max, e.g. [0.1, 2.0]")
        if self.size is not None and self.size < 1:
            raise bad("size", "must be >= 1, or None to keep the input size")


def check_images(x: torch.Tensor, where: str = "images") -> None:
    """Raise :class:`DataError` unless ``x`` is a float ``(B, C, H, W)`` batch with C in {1, 3}."""
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise DataError(f"{where}: expected a float tensor in [0, 1], got "
                        f"{getattr(x, 'dtype', type(x).__name__)}; convert uint8 images with x.float() / 255")
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DataError(f"{where}: expected shape (B, C, H, W) with C = 1 or 3, got {tuple(x.shape)}; "
                        "add the channel axis with x.unsqueeze(1) for grey images")


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device)


def _bernoulli(n: int, p: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) < p


# ----------------------------------------------------------------------------- crop and flip
def sample_crop_boxes(n: int, height: int, width: int, scale: tuple[float, float],
                      ratio: tuple[float, float], gen: torch.Generator,
                      device: torch.device | str = "cpu", tries: int = 10) -> torch.Tensor:
    """Random-resized-crop boxes ``(n, 4)`` as ``(x0, y0, w, h)`` in pixels (floats).

    Area fraction ~ U(scale), log aspect ratio ~ U(log ratio); a box that does not fit is redrawn
    (``tries`` times, vectorised), then falls back to the whole image, as torchvision does.
    """
    device = torch.device(device)
    area = height * width
    s = _uniform(n * tries, *scale, gen, device).view(n, tries) * area
    log_r = _uniform(n * tries, math.log(ratio[0]), math.log(ratio[1]), gen, device).view(n, tries)
    w = torch.sqrt(s * log_r.exp())  # (n, tries)
    h = torch.sqrt(s / log_r.exp())
    fits = (w <= width) & (h <= height)
    first = torch.where(fits.any(1), fits.float().argmax(1), torch.full((n,), -1, device=device))
    pick = first.clamp_min(0).unsqueeze(1)
    w = torch.where(first >= 0, w.gather(1, pick).squeeze(1), torch.full((n,), float(width), device=device))
    h = torch.where(first >= 0, h.gather(1, pick).squeeze(1), torch.full((n,), float(height), device=device))
    x0 = torch.rand(n, generator=gen, device=device) * (width - w)
    y0 = torch.rand(n, generator=gen, device=device) * (height - h)
    return torch.stack([x0, y0, w, h], dim=1)  # (n, 4)


def _bilinear_matrix(start: torch.Tensor, length: torch.Tensor, flip: torch.Tensor | None,
                     in_len: int, out_len: int) -> torch.Tensor:
    """Per-sample 1-D resampling matrices ``(B, out_len, in_len)`` of a crop ``[start, start + length)``.

    Output pixel centre j reads input coordinate ``p = start + (j + 1/2) length / out_len - 1/2``
    (mirrored inside the crop when ``flip``), clamped to ``[0, in_len - 1]`` (``grid_sample``'s
    border padding), with linear weights on its two neighbours.
    """
    j = (torch.arange(out_len, dtype=start.dtype, device=start.device) + 0.5) / out_len  # (J,)
    frac = j.unsqueeze(0).expand(len(start), -1)  # (B, J)
    if flip is not None:
        frac = torch.where(flip.unsqueeze(1), 1 - frac, frac)
    p = (start.unsqueeze(1) + frac * length.unsqueeze(1) - 0.5).clamp(0, in_len - 1)  # (B, J)
    i0 = p.floor().long()
    w1 = p - i0
    i1 = (i0 + 1).clamp_max(in_len - 1)
    m = torch.zeros(len(start), out_len, in_len, dtype=start.dtype, device=start.device)
    m.scatter_add_(2, i0.unsqueeze(2), (1 - w1).unsqueeze(2))
    m.scatter_add_(2, i1.unsqueeze(2), w1.unsqueeze(2))
    return m


def apply_crop_flip(x: torch.Tensor, boxes: torch.Tensor, flip: torch.Tensor,
                    size: tuple[int, int] | None = None) -> torch.Tensor:
    """Resample each image's box ``(x0, y0, w, h)`` to ``size`` (bilinear), mirrored where ``flip``.

    An axis-aligned affine map with bilinear interpolation is separable, so each sample's crop is
    ``R_y x R_x^T`` with two small interpolation matrices — two batched matmuls instead of a
    ``grid_sample`` gather (same values as ``affine_grid``/``grid_sample`` with
    ``align_corners=False`` and border padding; tested). The whole-image box without flip is the
    identity.
    """
    b, c, height, width = x.shape
    out_h, out_w = size or (height, width)
    x0, y0, w, h = boxes.to(x.dtype).unbind(1)  # (B,) each
    rx = _bilinear_matrix(x0, w, flip.bool(), width, out_w)  # (B, W', W)
    ry = _bilinear_matrix(y0, h, None, height, out_h)  # (B, H', H)
    out = torch.einsum("bchw,bvw->bchv", x, rx)  # (B, C, H, W')
    return torch.einsum("buh,bchv->bcuv", ry, out)  # (B, C, H', W')


# ----------------------------------------------------------------------------- colour
def to_grayscale(x: torch.Tensor) -> torch.Tensor:
    """Luma ``(B, 1, H, W)`` of RGB images (ITU-R 601-2); 1-channel input is returned as is."""
    if x.shape[1] == 1:
        return x
    return x[:, 0:1] * _LUMA[0] + x[:, 1:2] * _LUMA[1] + x[:, 2:3] * _LUMA[2]  # (B, 1, H, W)


def _per_sample(f: torch.Tensor) -> torch.Tensor:
    return f.view(-1, 1, 1, 1)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``x * f`` clamped to [0, 1] (f = 1 is the identity)."""
    return (x * _per_sample(factor)).clamp_(0, 1)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with each image's mean luma: ``m + f (x - m)``, clamped."""
    mean = to_grayscale(x).mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean).mul_(_per_sample(factor)).add_(mean).clamp_(0, 1)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the pixel's luma: ``g + f (x - g)``; identity on 1-channel images."""
    if x.shape[1] == 1:
        return x
    gray = to_grayscale(x)
    return (x - gray).mul_(_per_sample(factor)).add_(gray).clamp_(0, 1)


def adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue by ``shift`` turns (in [-0.5, 0.5]) in HSV space; identity on 1 channel.

    Value ``v = max`` and chroma ``d = max - min`` are unchanged by a hue rotation, so the RGB
    output is computed directly: with ``H`` the hue in sixths, ``H = (x_{a+1} - x_{a+2}) / d + 2a``
    for the arg-max channel ``a`` (ties go to red, then green, as in ``colorsys``), and channel
    ``n`` of the result is ``v - d clamp(min(k, 4 - k), 0, 1)`` with ``k = (n' + H') mod 6``,
    ``n' = 5, 3, 1`` for R, G, B (the standard HSV -> RGB formula).
    """
    if x.shape[1] == 1:
        return x
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]  # (B, 1, H, W) each
    maxc = torch.maximum(torch.maximum(r, g), b)
    delta = maxc - torch.minimum(torch.minimum(r, g), b)
    red_max, green_max = maxc == r, (maxc == g) & (maxc != r)
    num = torch.where(red_max, g - b, torch.where(green_max, b - r, r - g))
    base = torch.where(red_max, 0.0, torch.where(green_max, 2.0, 4.0))
    hue6 = torch.where(delta > 0, num / delta.clamp_min(1e-12), torch.zeros_like(num)) + base  # [-1, 5]
    hue6 = hue6 + 6 * shift.view(-1, 1, 1, 1).to(x.dtype)  # in [-4, 8]
    offsets = x.new_tensor([5.0, 3.0, 1.0]).view(1, 3, 1, 1)
    k = offsets + hue6  # (B, 3, H, W), in [-3, 13]
    k = k - 6 * torch.floor(k / 6)  # mod 6
    weight = torch.minimum(k, 4 - k).clamp_(0, 1)
    return (maxc - delta * weight).clamp_(0, 1)


def apply_grayscale(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Replace masked RGB images by their luma repeated over 3 channels (1 channel: identity)."""
    if x.shape[1] == 1:
        return x
    return torch.where(_per_sample(mask), to_grayscale(x).expand_as(x), x)


def gaussian_kernels(sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """Normalised 1-D Gaussian kernels ``(B, 2 radius + 1)``, one per ``sigma`` (pixels)."""
    offsets = torch.arange(-radius, radius + 1, dtype=sigma.dtype, device=sigma.device)  # (K,)
    k = torch.exp(-0.5 * (offsets / sigma.view(-1, 1)) ** 2)  # (B, K)
    return k / k.sum(1, keepdim=True)


def _blur_matrix(kernels: torch.Tensor, length: int) -> torch.Tensor:
    """Per-sample convolution matrices ``(B, L, L)`` of 1-D kernels ``(B, 2r + 1)``, reflect padding."""
    radius = (kernels.shape[1] - 1) // 2
    pos = torch.arange(length, device=kernels.device).unsqueeze(1)  # (L, 1)
    idx = pos + torch.arange(-radius, radius + 1, device=kernels.device)  # (L, K)
    idx = torch.where(idx < 0, -idx, idx)
    idx = torch.where(idx > length - 1, 2 * (length - 1) - idx, idx)  # reflect without repeating the edge
    m = torch.zeros(len(kernels), length, length, dtype=kernels.dtype, device=kernels.device)
    m.scatter_add_(2, idx.unsqueeze(0).expand(len(kernels), -1, -1).contiguous(),
                   kernels.unsqueeze(1).expand(-1, length, -1).contiguous())
    return m


def apply_blur(x: torch.Tensor, sigma: torch.Tensor, radius: int | None = None) -> torch.Tensor:
    """Separable Gaussian blur with a per-sample ``sigma`` (reflect padding).

    Each axis is one banded matrix per sample, applied as a batched matmul. The radius defaults
    to ``ceil(3 max sigma)`` (capped so it fits the image); sigma -> 0 is the identity.
    """
    b, c, height, width = x.shape
    if radius is None:
        radius = int(math.ceil(3 * float(sigma.max())))
    radius = max(0, min(radius, height - 1, width - 1))
    if radius == 0:
        return x
    k = gaussian_kernels(sigma.to(x.dtype), radius)  # (B, K)
    out = torch.einsum("bchw,bvw->bchv", x, _blur_matrix(k, width))  # (B, C, H, W)
    return torch.einsum("buh,bchv->bcuv", _blur_matrix(k, height), out)


def apply_solarize(x: torch.Tensor, mask: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Invert pixels at or above ``threshold`` (``x -> 1 - x``) in masked images."""
    solarized = torch.where(x >= threshold, 1.0 - x, x)
    return torch.where(_per_sample(mask), solarized, x)


# ----------------------------------------------------------------------------- pipeline
def _single_thread_on_cpu(device: torch.device) -> contextlib.AbstractContextManager:
    """Run the view pipeline on one intra-op thread on the CPU (restored afterwards).

    Its ~60 small, memory-bound ops each pay a thread-pool synchronisation, so one thread is faster
    (docs/benchmarks.md, "Threads"); the model's large convolutions keep their threads.
    """
    return torch_threads(1) if device.type == "cpu" else contextlib.nullcontext()


class SimCLRAugment:
    """The SimCLR view distribution over a batch, with parameters from :class:`AugmentConfig`.

    ``augment(x, generator)`` returns one random view of every image of ``x`` (``(B, C, H, W)``,
    floats in [0, 1]); the same generator state gives the same views. Colour jitter applies
    brightness, contrast, saturation and hue in a random order drawn once per batch (SimCLR draws
    it per image; per batch keeps the work vectorised).

    Examples
    --------
    >>> aug = SimCLRAugment(AugmentConfig())
    >>> g = torch.Generator().manual_seed(0)
    >>> aug(torch.rand(4, 3, 32, 32), g).shape
    torch.Size([4, 3, 32, 32])
    """

    def __init__(self, config: AugmentConfig | None = None):
        self.config = config or AugmentConfig()

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        check_images(x)
        # views are data, not model: float32 also under the Trainer's bf16 autocast (the crop is a
        # matmul autocast would round), so a seed gives the same views at every precision
        with _single_thread_on_cpu(x.device), torch.autocast(x.device.type, enabled=False):
            return self._views(x, generator)

    def _views(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        cfg, n, dev = self.config, x.shape[0], x.device
        boxes = sample_crop_boxes(n, x.shape[2], x.shape[3], cfg.crop_scale, cfg.crop_ratio, generator, dev)
        flip = _bernoulli(n, cfg.flip_p, generator, dev)
        out = apply_crop_flip(x, boxes, flip, (cfg.size, cfg.size) if cfg.size else None)
        out = self._jitter(out, generator)
        out = apply_grayscale(out, _bernoulli(n, cfg.grayscale_p, generator, dev))
        if cfg.blur_p > 0:
            sigma = _uniform(n, *cfg.blur_sigma, generator, dev)
            blurred = apply_blur(out, sigma)
            out = torch.where(_per_sample(_bernoulli(n, cfg.blur_p, generator, dev)), blurred, out)
        # resampling and blur are convex combinations, exact in real arithmetic but a float32 sum
        # of weights can land an ulp outside [0, 1] (and solarize maps 1 + 1e-7 to -1e-7): clamp once
        out = out.clamp_(0, 1)  # a new tensor (the crop is a matmul), never the caller's x
        if cfg.solarize_p > 0:
            out = apply_solarize(out, _bernoulli(n, cfg.solarize_p, generator, dev), cfg.solarize_threshold)
        return out

    def _jitter(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        cfg, n, dev = self.config, x.shape[0], x.device
        if cfg.jitter_p == 0:
            return x
        ops = [
            (adjust_brightness, _uniform(n, max(0.0, 1 - cfg.brightness), 1 + cfg.brightness, gen, dev)),
            (adjust_contrast, _uniform(n, max(0.0, 1 - cfg.contrast), 1 + cfg.contrast, gen, dev)),
            (adjust_saturation, _uniform(n, max(0.0, 1 - cfg.saturation), 1 + cfg.saturation, gen, dev)),
            (adjust_hue, _uniform(n, -cfg.hue, cfg.hue, gen, dev)),
        ]
        mask = _bernoulli(n, cfg.jitter_p, gen, dev)
        order = torch.randperm(len(ops), generator=gen, device=dev).tolist()
        out = x
        for i in order:
            fn, factor = ops[i]
            out = fn(out, factor.to(x.dtype))
        return torch.where(_per_sample(mask), out, x)


class TwoViews:
    """Two independent views of every image: ``TwoViews(augment)(x, gen) -> (v1, v2)``.

    ``second`` may be another augmentation (asymmetric views, as BYOL's solarization on one view).
    """

    def __init__(self, augment: SimCLRAugment, second: SimCLRAugment | None = None):
        self.first = augment
        self.second = second or augment

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.first(x, generator), self.second(x, generator)


__all__ = ["AugmentConfig", "SimCLRAugment", "TwoViews", "check_images", "sample_crop_boxes",
           "apply_crop_flip", "to_grayscale", "adjust_brightness", "adjust_contrast",
           "adjust_saturation", "adjust_hue", "apply_grayscale", "gaussian_kernels", "apply_blur",
           "apply_solarize"]
