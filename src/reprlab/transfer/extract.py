"""Batched feature extraction from a frozen encoder (the first of the two transfer routes).

Feature extraction vs fine-tuning: a pretrained encoder either stays frozen and a light model
(linear probe, kNN) is trained on its cached features, or it is trained further together with a
task head (:mod:`reprlab.transfer.finetune`). This module does the caching: one pass in eval mode
under ``torch.no_grad`` (batch-norm uses its running statistics), batch by batch on the encoder's
device, features returned on the CPU.
"""

from __future__ import annotations

from collections.abc import Sized

import torch
from torch import nn
from torch.utils.data import Dataset

from reprlab.errors import DataError


def _device_of(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


@torch.no_grad()
def extract_features(encoder: nn.Module, data: torch.Tensor | Dataset, *, batch_size: int = 512,
                     device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Encode every input of ``data`` with ``encoder`` in eval mode.

    Parameters
    ----------
    encoder: maps a batch ``(B, ...)`` to features ``(B, D)``.
    data: a tensor of inputs ``(N, ...)``, or a dataset with ``.x``/``.y`` tensors
        (:class:`reprlab.data.ArrayDataset`), or any map-style dataset of ``(x, y)`` items.
    batch_size: inputs per forward pass.
    device: where to run (default: the encoder's device).

    Returns
    -------
    ``(features (N, D) float32 on the CPU, labels (N,) or None)``. The encoder's train/eval mode is
    restored afterwards.
    """
    if batch_size < 1:
        raise DataError(f"batch_size={batch_size}: must be >= 1")
    device = torch.device(device) if device is not None else _device_of(encoder)
    if torch.is_tensor(data):
        x, y = data, None
    elif hasattr(data, "x") and hasattr(data, "y"):
        x, y = data.x, data.y
    elif isinstance(data, Sized):
        items = [data[i] for i in range(len(data))]
        x = torch.stack([torch.as_tensor(it[0]) for it in items])
        y = torch.as_tensor([int(it[1]) for it in items])
    else:
        raise DataError(f"extract_features: {type(data).__name__} is neither a tensor nor a sized dataset")
    if len(x) == 0:
        raise DataError("extract_features: no inputs given")
    was_training = encoder.training
    encoder.eval()
    try:
        chunks = [encoder(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    finally:
        encoder.train(was_training)
    return torch.cat(chunks), y


__all__ = ["extract_features"]
