"""Learning-rate schedules as pure functions of the step (no scheduler state to checkpoint)."""

from __future__ import annotations

import math

from reprlab.errors import ConfigError


def lr_factor(step: int, *, schedule: str, max_steps: int, warmup_steps: int = 0,
              min_ratio: float = 0.0) -> float:
    """Multiplier of the peak learning rate at optimizer step ``step`` (0-based).

    Warmup is linear, ``(step + 1) / (warmup_steps + 1)``, so step 0 already moves the weights
    (nanoGPT's fix). After warmup, with ``p = (step - warmup) / (max_steps - warmup)``:

    * ``constant``: 1
    * ``linear``:   ``min_ratio + (1 - min_ratio) * (1 - p)``
    * ``cosine``:   ``min_ratio + (1 - min_ratio) * (1 + cos(pi * p)) / 2``  (Loshchilov & Hutter 2017)
    """
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    if schedule == "constant":
        return 1.0
    p = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    if schedule == "linear":
        decay = 1.0 - p
    elif schedule == "cosine":
        decay = 0.5 * (1.0 + math.cos(math.pi * p))
    else:
        raise ConfigError(f"unknown schedule {schedule!r}; choose constant, linear or cosine")
    return min_ratio + (1.0 - min_ratio) * decay
