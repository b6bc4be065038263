"""Gradient descent with momentum and per-coordinate gains: van der Maaten's t-SNE recipe.

Jacobs (1988) delta-bar-delta gains as used by van der Maaten & Hinton (2008), section 3.4:
a gain grows by 0.2 when the gradient's sign differs from the last update's and shrinks by a
factor 0.8 otherwise (never below ``min_gain``),

    g <- (g + 0.2) if sign(dC/dy) != sign(u) else max(0.8 g, min_gain)
    u <- momentum * u - learning_rate * g * dC/dy,    y <- y + u,

followed by re-centring y on the origin (the cost is translation invariant). Steps longer than
``max_step_norm`` per point are shortened, as openTSNE does, so a point cannot shoot off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from reprlab.embed._kernels import gains_momentum_step

log = logging.getLogger(__name__)

# (iteration, kl_divergence, embedding) -> True to stop early
Callback = Callable[[int, float, np.ndarray], bool]


@dataclass
class GradientDescent:
    """Stateful optimiser: keeps the update (momentum) and gains between phases."""

    min_gain: float = 0.01
    max_step_norm: float | None = 5.0
    max_grad_norm: float | None = None
    update: np.ndarray | None = field(default=None, repr=False)
    gains: np.ndarray | None = field(default=None, repr=False)
    steps: int = 0  # steps taken over every run()

    def run(self, y: np.ndarray, gradient: Callable[[np.ndarray, bool], tuple[float | None, np.ndarray]],
            n_iter: int, learning_rate: float, momentum: float, *, center: bool = True,
            callbacks: Sequence[Callback] = (), callbacks_every_iters: int = 50,
            kl_correction: Callable[[float], float] = lambda kl: kl,
            clip_radius: float | None = None) -> tuple[np.ndarray, bool]:
        """Run up to ``n_iter`` steps in place on ``y`` (N, d); return (y, stopped_by_callback).

        ``gradient(y, with_kl)`` returns (kl or None, dC/dy in the no-factor-4 convention). Every
        ``callbacks_every_iters`` steps the callbacks get (iteration, KL at the step's start, y after
        the step), as openTSNE's do; one returning True ends the run after that step.
        """
        if self.update is None:
            self.update = np.zeros_like(y)
            self.gains = np.ones_like(y)
        max_step = np.inf if self.max_step_norm is None else float(self.max_step_norm)
        for it in range(n_iter):
            call = bool(callbacks) and (it + 1) % callbacks_every_iters == 0
            kl, grad = gradient(y, call)
            if self.max_grad_norm is not None:
                norm = np.linalg.norm(grad, axis=1, keepdims=True)
                grad = grad * np.minimum(1.0, self.max_grad_norm / (norm + 1e-6))
            gains_momentum_step(y, np.ascontiguousarray(grad), self.update, self.gains, float(learning_rate),
                                float(momentum), self.min_gain, max_step, center)
            self.steps += 1
            if clip_radius is not None:
                r = np.linalg.norm(y, axis=1, keepdims=True)
                y *= np.minimum(1.0, clip_radius / np.maximum(r, 1e-300))
            if call and kl is not None and any(bool(cb(self.steps, kl_correction(kl), y)) for cb in callbacks):
                log.info("optimisation stopped by a callback at iteration %d", self.steps)
                return y, True
        return y, False
