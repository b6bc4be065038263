"""Random-dot stereograms: the data of Becker & Hinton's IMAX experiments.

Becker, S. & Hinton, G. E. (1992). *Self-organizing neural network that discovers surfaces in
random-dot stereograms.* Nature 355, 161-163. https://doi.org/10.1038/355161a0

A stereogram is a random-dot image (the *left* eye) and a copy shifted horizontally by the
*disparity* d (the *right* eye): ``right(x) = left(x - d)``. The image is cut into a row of
patches; each patch is a (left, right) strip pair that one IMAX module sees. Adjacent patches lie on
the same surface, so they share the disparity and nothing else — the only thing two modules can
agree on is depth.

Rendering and sub-pixel disparities
-----------------------------------
Dots are Gaussian blobs at continuous positions (a band-limited interpolation of the dot pattern),
``left(x) = sum_j a_j exp(-(x - x_j)^2 / (2 s^2))`` and ``right(x) = sum_j a_j exp(-(x - x_j - d)^2 /
(2 s^2))``, so a sub-pixel disparity is an exact shift, not a blur of a rounded one.

Non-overlap (the pitfall in ``docs/coherence.md``)
--------------------------------------------------
Every patch gets its *own* dots, drawn over the patch plus a margin wide enough for the shift and
the blob width: no pixel of one patch's left or right strip depends on a dot another patch sees.
``overlap > 0`` deliberately breaks this (patches are windows of one shared texture that overlap by
``overlap`` pixels) to reproduce IMAX's failure mode: modules then agree on the shared pixels, not
on depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import torch

from reprlab.config import check_choices
from reprlab.data import ArrayDataset, keep_batch
from reprlab.errors import ConfigError

__all__ = ["StereogramConfig", "Stereograms", "random_dot_stereograms", "surface_disparities",
           "plot_stereograms", "keep_batch", "SURFACES"]

Surface = Literal["planar", "curved", "discontinuous"]
SURFACES: tuple[str, ...] = get_args(Surface)


@dataclass
class StereogramConfig:
    """How to draw random-dot stereograms (defaults: the planar two-patch IMAX task)."""

    n_patches: int = 2  # patches in a row; one IMAX module per patch
    height: int = 1  # rows per strip (1 = Becker & Hinton's 1-D strips)
    patch_width: int = 16  # pixels per strip
    disparity_range: tuple[float, float] = (0.0, 3.0)  # pixels; one-signed as in the 1992 paper
    dot_density: float = 0.5  # dots per pixel (Poisson mean)
    dot_width: float = 0.7  # Gaussian blob std in pixels (the sub-pixel interpolation kernel)
    noise: float = 0.0  # std of independent pixel noise added to every strip
    surface: Surface = "planar"
    overlap: int = 0  # >0 shares pixels between neighbouring patches (the failure mode, on purpose)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the bad field and the fix."""
        lo, hi = (float(v) for v in self.disparity_range)
        self.disparity_range = (lo, hi)
        check_choices(self, "data.")
        if self.n_patches < 2:
            raise ConfigError(f"n_patches={self.n_patches}: IMAX needs at least 2 patches")
        if self.height < 1 or self.patch_width < 4:
            raise ConfigError(f"height={self.height}, patch_width={self.patch_width}: need height >= 1 "
                              "and patch_width >= 4")
        if hi < lo:
            raise ConfigError(f"disparity_range={self.disparity_range}: low end above high end")
        if max(abs(lo), abs(hi)) >= self.patch_width:
            raise ConfigError(f"disparity_range={self.disparity_range}: |disparity| must be smaller than "
                              f"patch_width={self.patch_width} (the shifted strip would share no dots "
                              "with the left one); lower the range or widen the patches")
        if self.dot_density <= 0 or self.dot_width <= 0:
            raise ConfigError(f"dot_density={self.dot_density}, dot_width={self.dot_width}: must be > 0")
        if self.noise < 0:
            raise ConfigError(f"noise={self.noise}: must be >= 0")
        if not 0 <= self.overlap < self.patch_width:
            raise ConfigError(f"overlap={self.overlap}: must be in [0, patch_width)")


@dataclass
class Stereograms:
    """A batch of stereograms cut into patches.

    Attributes
    ----------
    strips: Tensor, shape ``(N, P, 2, H, W)`` — channel 0 is the left eye, 1 the right eye.
    disparity: Tensor, shape ``(N, P)`` — true disparity (pixels) of each patch.
    patch_starts: Tensor, shape ``(P,)`` — x offset of each patch in the composite image.
    config: the :class:`StereogramConfig` used.
    """

    strips: torch.Tensor
    disparity: torch.Tensor
    patch_starts: torch.Tensor
    config: StereogramConfig

    def __len__(self) -> int:
        return len(self.strips)

    def dataset(self) -> ArrayDataset:
        """``(strips, disparity)`` pairs to train on (whole-batch fetching; the labels are never trained on)."""
        return ArrayDataset(self.strips, self.disparity, name="stereograms")

    def images(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Composite left and right images, shape ``(N, H, total_width)`` each (for figures)."""
        n, p, _, h, w = self.strips.shape
        total = int(self.patch_starts[-1]) + w
        left = torch.zeros(n, h, total)
        right = torch.zeros(n, h, total)
        for k in range(p):
            s = int(self.patch_starts[k])
            left[:, :, s:s + w] = self.strips[:, k, 0]
            right[:, :, s:s + w] = self.strips[:, k, 1]
        return left, right


def surface_disparities(n: int, config: StereogramConfig, generator: torch.Generator) -> torch.Tensor:
    """Disparity per patch, shape ``(n, P)``, for the configured surface.

    * planar: one disparity per stereogram, uniform in the range.
    * curved: ``mid + half * (A sin(w p + phi) + (1 - A) u)``, a smooth curve over patch index p
      (period 4 patches apart from a random offset) so neighbours predict each other;
      ``A ~ U(0.3, 1)``, ``u ~ U(-1, 1)``, ``phi ~ U(0, 2 pi)``.
    * discontinuous: two planes; the surface steps at a random patch boundary.
    """
    lo, hi = config.disparity_range
    p = config.n_patches
    u = lambda *shape: torch.rand(*shape, generator=generator, dtype=torch.float64)  # noqa: E731
    if config.surface == "planar":
        d = (lo + (hi - lo) * u(n, 1)).expand(n, p)
    elif config.surface == "curved":
        mid, half = (lo + hi) / 2, (hi - lo) / 2
        amp, offset, phase = 0.3 + 0.7 * u(n, 1), 2 * u(n, 1) - 1, 2 * math.pi * u(n, 1)
        pos = torch.arange(p, dtype=torch.float64)
        wave = torch.sin(2 * math.pi * pos / (2 * max(p, 4)) + phase)  # (n, P)
        d = mid + half * (amp * wave + (1 - amp) * offset)
    else:
        first, second = lo + (hi - lo) * u(n, 1), lo + (hi - lo) * u(n, 1)
        step = torch.randint(1, p, (n, 1), generator=generator)
        d = torch.where(torch.arange(p) < step, first, second)
    return d.float().contiguous()


def _render(dot_x: torch.Tensor, dot_a: torch.Tensor, xs: torch.Tensor, width: float) -> torch.Tensor:
    """Sum of Gaussian blobs: ``dot_x, dot_a (..., D)`` at pixel centres ``xs (..., W)`` -> (..., W)."""
    diff = xs.unsqueeze(-1) - dot_x.unsqueeze(-2)  # (..., W, D)
    return (dot_a.unsqueeze(-2) * torch.exp(-0.5 * (diff / width) ** 2)).sum(-1)


def random_dot_stereograms(n: int, config: StereogramConfig | None = None, *,
                           seed: int = 0) -> Stereograms:
    """Draw ``n`` random-dot stereograms cut into non-overlapping (left, right) patches.

    Becker & Hinton (1992); see the module docstring for rendering and the non-overlap rule.

    Parameters
    ----------
    n:
        Number of stereograms.
    config:
        :class:`StereogramConfig` (patches, size, disparity range, dot density, noise, surface).
    seed:
        Seed of the ``torch.Generator`` used for every random draw.

    Returns
    -------
    Stereograms
        ``strips (n, P, 2, H, W)``, ``disparity (n, P)``, ``patch_starts (P,)``.

    Raises
    ------
    ConfigError
        Disparity not smaller than the patch width, unknown surface, ``n < 1``.

    Examples
    --------
    >>> s = random_dot_stereograms(4, StereogramConfig(patch_width=12), seed=0)
    >>> tuple(s.strips.shape), tuple(s.disparity.shape)
    ((4, 2, 2, 1, 12), (4, 2))
    """
    cfg = config or StereogramConfig()
    cfg.validate()
    if n < 1:
        raise ConfigError(f"n={n}: need at least one stereogram")
    g = torch.Generator().manual_seed(seed)
    p, h, w = cfg.n_patches, cfg.height, cfg.patch_width
    d = surface_disparities(n, cfg, g)  # (n, P)
    stride = w - cfg.overlap
    starts = torch.arange(p) * stride  # (P,)
    margin = max(abs(v) for v in cfg.disparity_range) + 4 * cfg.dot_width + 1
    if cfg.overlap == 0:
        # independent dots per patch, over [-margin, w + margin)
        span, origin = w + 2 * margin, -margin
        groups, lead = (n, p, h), 0
    else:
        # one shared texture over the whole row of patches (the failure mode)
        span, origin = float(starts[-1]) + w + 2 * margin, -margin
        groups, lead = (n, 1, h), 1
    n_dots = max(1, int(round(cfg.dot_density * span)))
    dot_x = origin + span * torch.rand(*groups, n_dots, generator=g)  # (n, P|1, H, D)
    dot_a = torch.randn(*groups, n_dots, generator=g)  # signed dot contrasts
    xs = torch.arange(w, dtype=torch.float32)
    if lead:
        xs = xs + starts.float().view(p, 1)  # (P, W): each patch's pixel positions in the row
        xs = xs.view(1, p, 1, w).expand(n, p, h, w)
        dot_x, dot_a = dot_x.expand(n, p, h, n_dots), dot_a.expand(n, p, h, n_dots)
    else:
        xs = xs.expand(n, p, h, w)
    left = _render(dot_x, dot_a, xs, cfg.dot_width)  # (n, P, H, W)
    right = _render(dot_x + d.view(n, p, 1, 1), dot_a, xs, cfg.dot_width)  # right(x) = left(x - d)
    strips = torch.stack([left, right], dim=2)  # (n, P, 2, H, W)
    if cfg.noise > 0:
        strips = strips + cfg.noise * torch.randn(strips.shape, generator=g)
    return Stereograms(strips=strips.contiguous(), disparity=d, patch_starts=starts, config=cfg)


def plot_stereograms(stereo: Stereograms, path: str | Path, n_examples: int = 4) -> Path:
    """Figure of example stereograms: left and right rows with patch borders and disparities."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reprlab.io import save_figure

    left, right = stereo.images()
    k = min(n_examples, len(stereo))
    w = stereo.config.patch_width
    fig, axes = plt.subplots(2 * k, 1, figsize=(8, 0.9 * 2 * k + 0.6), squeeze=False)
    for i in range(k):
        for row, (img, eye) in enumerate([(left[i], "L"), (right[i], "R")]):
            ax = axes[2 * i + row, 0]
            ax.imshow(img.numpy(), cmap="gray", aspect="auto", interpolation="nearest")
            for s in stereo.patch_starts.tolist():
                ax.axvline(s - 0.5, color="tab:red", lw=0.8)
                ax.axvline(s + w - 0.5, color="tab:red", lw=0.8, ls=":")
            ax.set_yticks([])
            ax.set_xticks([])
            ds = ", ".join(f"{v:.2f}" for v in stereo.disparity[i].tolist())
            ax.set_ylabel(eye, rotation=0, labelpad=10)
            if row == 0:
                ax.set_title(f"{stereo.config.surface} surface, disparity per patch: {ds}", fontsize=8)
    fig.text(0.01, 0.005, "red lines: the patches each module sees (solid: left edge, dotted: right edge); "
             "disparity = horizontal shift of the right eye's dots, in pixels", fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return save_figure(fig, path)
