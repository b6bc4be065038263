"""The one interface between a model and the Trainer.

An :class:`Objective` is an ``nn.Module`` that owns the networks it trains and turns a batch into a
:class:`LossOutput`. The Trainer knows nothing else about the model: masked-LM, SimCLR, VAE, RBM and
CPC objectives all run through the same loop (no per-model training loops, no god-trainer).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class LossOutput:
    """What an objective returns for one batch.

    Attributes
    ----------
    loss:
        Scalar tensor to minimise (already averaged over the batch).
    metrics:
        Extra scalars to log (floats or 0-d tensors), e.g. ``{"mlm_acc": 0.41}``.
    num_items:
        Items in the batch (examples, tokens, ...) for throughput; ``None`` lets the Trainer guess.
    """

    loss: torch.Tensor
    metrics: dict[str, Any] = field(default_factory=dict)
    num_items: int | None = None


def batch_inputs(batch: Any) -> Any:
    """The inputs of a batch: the first element of an ``(x, y, ...)`` tuple or list, else the batch."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


class Objective(nn.Module):
    """Base class for everything the Trainer can train.

    Subclasses implement :meth:`forward` (``batch -> LossOutput``). Optional hooks:

    * ``config``: a dataclass instance describing the model; saved as ``config.json`` and checked
      on resume so a checkpoint from another configuration is refused.
    * :meth:`param_groups`: custom optimizer parameter groups (default: decay on matrices only).
    * :meth:`on_step_end`: called after each optimizer step (e.g. EMA teachers, weight clipping).
    * ``uses_every_parameter``: ``False`` when a step may leave parameters without a gradient
      (a multi-task objective trains one head per step); under ``torchrun`` the Trainer then wraps
      it with ``DistributedDataParallel(find_unused_parameters=True)``.
    """

    config: Any = None
    uses_every_parameter: bool = True

    def forward(self, batch: Any) -> LossOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def config_dict(self) -> dict[str, Any]:
        """JSON-ready description of the model, from ``self.config`` when it is a dataclass."""
        cfg = self.config
        if cfg is None:
            return {}
        if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
            return {"class": type(cfg).__name__, **dataclasses.asdict(cfg)}
        return dict(cfg)

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]] | None:
        """Return optimizer parameter groups, or ``None`` for the Trainer's default split."""
        return None

    def on_step_end(self, step: int) -> None:
        """Hook run after every optimizer step."""
