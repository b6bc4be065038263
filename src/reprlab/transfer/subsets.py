"""Class-balanced label subsets (1%, 10%, ...) fixed by a seed, for semi-supervised evaluation.

SimCLR (Chen et al. 2020, section 6 / table 7) fine-tunes with 1% and 10% of the ImageNet labels,
class-balanced subsets fixed in advance. Here each class contributes ``round(fraction * n_class)``
examples (at least one), drawn by a seeded :class:`torch.Generator`; the same seed gives the same
subset, and a larger fraction with the same seed contains the smaller one (nested subsets, so 1%
results are comparable with 10%).
"""

from __future__ import annotations

import math

import torch

from reprlab.errors import ConfigError, DataError


def parse_fraction(text: str | float) -> float:
    """``"1%" -> 0.01``, ``"0.1" -> 0.1``, ``"100%" -> 1.0``; ConfigError outside (0, 1]."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"labels={text!r}: expected a percentage like 1%, 10%, 100% or a fraction "
                          "like 0.01") from None
    if not 0 < value <= 1:
        raise ConfigError(f"labels={text!r}: the label fraction must be in (0, 100%]")
    return value


def class_balanced_indices(labels: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """Indices of a class-balanced subset holding ``fraction`` of each class's examples.

    Parameters
    ----------
    labels: LongTensor ``(N,)`` of class ids (negative ids = unlabelled, never chosen).
    fraction: in (0, 1].
    seed: fixes the subset; subsets for growing fractions under one seed are nested.

    Returns
    -------
    Sorted LongTensor of indices into ``labels``.
    """
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction={fraction!r}: must be in (0, 1]")
    labels = torch.as_tensor(labels).long().cpu()
    if labels.ndim != 1 or not bool((labels >= 0).any()):
        raise DataError("class_balanced_indices: need a 1-D tensor with at least one labelled example")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=gen)  # one permutation for all fractions: nested
    chosen = []
    for c in torch.unique(labels[labels >= 0]).tolist():
        members = order[labels[order] == c]  # this class, in permuted order
        k = max(1, math.floor(fraction * len(members) + 0.5))  # half rounds up
        chosen.append(members[:k])
    return torch.sort(torch.cat(chosen)).values


__all__ = ["parse_fraction", "class_balanced_indices"]
