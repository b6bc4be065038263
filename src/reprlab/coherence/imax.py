"""IMAX: maximise the mutual information between modules that see non-overlapping patches.

Becker, S. & Hinton, G. E. (1992). *Self-organizing neural network that discovers surfaces in
random-dot stereograms.* Nature 355, 161-163. https://doi.org/10.1038/355161a0

Under the model "each output is a common signal plus independent Gaussian noise of equal variance"
(``a = s + n_a``, ``b = s + n_b``), the information the average ``(a + b)/2`` carries about ``s`` is

    I = 1/2 log V(a + b) / V(a - b)                                  (scalar)
    I = 1/2 log |Σ_{a+b}| / |Σ_{a-b}|                                (vector, log-determinants)

and for curved surfaces, where a module's value is *interpolated* from its neighbours
(``â_i = sum_j w_j a_{i+j}``, weights learned with the modules),

    I = 1/2 log V(a_i) / V(a_i - â_i).

For jointly Gaussian ``a, b`` with equal variances and correlation ρ the first form is
``1/2 log (1 + ρ)/(1 - ρ) = I(a; b) + log(1 + ρ)`` where ``I(a; b) = -1/2 log(1 - ρ^2)`` is the exact
Gaussian mutual information (:func:`gaussian_mi`, also offered here). All are computed from batch
statistics, so a batch needs at least 2 items. The statistics are accumulated in float64, and
``eps`` is scale-invariant: ``eps`` times the outputs' variance is added to every variance (and
``eps`` times the mean diagonal to every covariance diagonal; plain ``eps`` when the outputs have
collapsed to zero variance), so perfectly correlated outputs of any scale give a finite value,
``1/2 log(1 + 2/eps)`` for ``a = b``, instead of ``+inf`` or ``log 0``.

The objective to *minimise* is ``-I``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import nn

from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError
from reprlab.train import LossOutput, Objective
from reprlab.train.distributed import gather_batch

# pair: adjacent modules agree | neighbours: predict a module from its neighbours (curved surfaces)
Variant = Literal["pair", "neighbours"]
# imax: 1/2 log V(a+b)/V(a-b) | gaussian: -1/2 log(1 - rho^2)
Form = Literal["imax", "gaussian"]
VARIANTS: tuple[str, ...] = get_args(Variant)
FORMS: tuple[str, ...] = get_args(Form)


def _check_batch(*xs: torch.Tensor) -> None:
    n = xs[0].shape[0]
    if n < 2:
        raise DataError(f"IMAX needs batch statistics: got a batch of {n}; use batch_size >= 2 "
                        "(a few hundred gives stable variances)")
    for x in xs[1:]:
        if x.shape != xs[0].shape:
            raise DataError(f"module outputs differ in shape: {tuple(xs[0].shape)} vs {tuple(x.shape)}")


def _var(x: torch.Tensor) -> torch.Tensor:
    return x.double().var(dim=0, unbiased=True)


def _jitter(scale: torch.Tensor, eps: float) -> torch.Tensor:
    """``eps`` relative to a variance scale (absolute ``eps`` where the scale is 0): scale-invariant."""
    return eps * torch.where(scale > 0, scale, torch.ones_like(scale))


def _cov(x: torch.Tensor, eps: float, scale: torch.Tensor | None = None) -> torch.Tensor:
    """Covariance of ``x (B, D)`` in float64 plus ``eps`` x ``scale`` (default: its mean variance) on the diagonal."""
    x = x.double()
    xc = x - x.mean(0)  # (B, D)
    cov = xc.T @ xc / (x.shape[0] - 1)  # (D, D)
    if scale is None:
        scale = torch.diagonal(cov).mean()
    return cov + _jitter(scale, eps) * torch.eye(x.shape[1], dtype=cov.dtype, device=x.device)


def imax_scalar(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6, form: str = "imax") -> torch.Tensor:
    """Becker & Hinton's scalar IMAX information, ``1/2 log V(a+b)/V(a-b)`` (nats).

    Parameters
    ----------
    a, b:
        Module outputs, shape ``(B,)`` or ``(B, 1)``, ``B >= 2``.
    eps:
        Relative to the outputs' variance, added to each variance: bounds I for perfectly
        correlated outputs (at any scale) and guards ``log 0`` when they collapse.
    form:
        ``"imax"`` (the 1992 objective) or ``"gaussian"``: ``-1/2 log(1 - ρ^2)``, the exact mutual
        information of jointly Gaussian ``a, b``, as ``1/2 log V(a)V(b)/(V(a)V(b) - C(a,b)^2)``.

    Returns
    -------
    Tensor, shape ``()``.
    """
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    _check_batch(a, b)
    if a.shape[1] != 1:
        raise DataError(f"imax_scalar takes one output per module, got {a.shape[1]}; use imax_vector")
    dtype = a.dtype
    a, b = a[:, 0].double(), b[:, 0].double()
    if form == "imax":
        jitter = _jitter(_var(a) + _var(b), eps)  # V(a+b) + V(a-b) = 2 (V(a) + V(b))
        return (0.5 * (torch.log(_var(a + b) + jitter) - torch.log(_var(a - b) + jitter))).to(dtype)
    if form == "gaussian":
        va, vb = _var(a), _var(b)
        va, vb = va + _jitter(va, eps), vb + _jitter(vb, eps)
        c = ((a - a.mean()) * (b - b.mean())).sum() / (a.shape[0] - 1)
        return (-0.5 * torch.log1p(-(c ** 2) / (va * vb))).to(dtype)  # -1/2 log(1 - rho^2)
    raise ConfigError(f"form={form!r}: choose one of {', '.join(FORMS)}")


def imax_vector(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6, form: str = "imax") -> torch.Tensor:
    """Vector IMAX, ``1/2 log |Σ_{a+b}| / |Σ_{a-b}|`` (nats), with ``eps`` on the diagonals.

    ``form="gaussian"`` gives the exact Gaussian mutual information
    ``1/2 log |Σ_a| |Σ_b| / |Σ_{[a, b]}|``.

    Parameters
    ----------
    a, b:
        Module outputs, shape ``(B, D)``, ``B >= 2`` (``B > D`` for a full-rank estimate).
    """
    _check_batch(a, b)
    dtype, a, b = a.dtype, a.double(), b.double()
    if form == "imax":
        scale = (_var(a) + _var(b)).mean()  # shared, so Σ_{a-b} = 0 still gives a finite ratio
        return (0.5 * (torch.logdet(_cov(a + b, eps, scale)) - torch.logdet(_cov(a - b, eps, scale)))).to(dtype)
    if form == "gaussian":
        joint = _cov(torch.cat([a, b], dim=1), eps)
        return (0.5 * (torch.logdet(_cov(a, eps)) + torch.logdet(_cov(b, eps)) - torch.logdet(joint))).to(dtype)
    raise ConfigError(f"form={form!r}: choose one of {', '.join(FORMS)}")


def imax_information(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6, form: str = "imax") -> torch.Tensor:
    """Scalar or vector IMAX depending on the output width of ``a`` and ``b`` (shape ``(B, D)``)."""
    if a.dim() == 1 or a.shape[1] == 1:
        return imax_scalar(a, b, eps, form)
    return imax_vector(a, b, eps, form)


def imax_interpolation(a: torch.Tensor, predicted: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Neighbour-prediction IMAX for curved surfaces, ``1/2 log V(a) / V(a - â)`` (nats).

    Parameters
    ----------
    a:
        Module outputs, shape ``(B, K)`` (K modules with a full neighbourhood).
    predicted:
        ``â``: each module's value predicted from its neighbours, shape ``(B, K)``.

    Returns
    -------
    Tensor, shape ``()``: the information summed over the K modules.
    """
    _check_batch(a, predicted)
    va = _var(a)
    jitter = _jitter(va, eps)
    return (0.5 * (torch.log(va + jitter) - torch.log(_var(a - predicted) + jitter)).sum()).to(a.dtype)


# ----------------------------------------------------------------------------- modules
class DisparityEnergyModule(nn.Module):
    """A disparity-energy unit: conv over the (left, right) strip, square or ReLU, pool, linear.

    A binocular filter pair summed and squared responds to one disparity whatever the dot pattern
    (the energy model of complex cells); pooling over positions averages out the texture. A plain
    MLP on raw pixels does not get off the ground on this task (see ``docs/coherence.md``).

    Input ``(B, 2, H, W)``; output ``(B, out_dim)``.
    """

    def __init__(self, channels: int = 16, kernel: int = 5, out_dim: int = 1, nonlinearity: str = "relu",
                 head_depth: int = 0, head_width: int = 32):
        super().__init__()
        if nonlinearity not in ("square", "relu"):
            raise ConfigError(f"nonlinearity={nonlinearity!r}: choose square or relu")
        self.conv = nn.Conv2d(2, channels, kernel_size=(1, kernel))
        self.nonlinearity = nonlinearity
        layers: list[nn.Module] = []
        width = channels
        for _ in range(head_depth):  # extra nonlinear layers: the failure-mode study's knob
            layers += [nn.Linear(width, head_width), nn.Tanh()]
            width = head_width
        layers.append(nn.Linear(width, out_dim))
        self.head = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.conv(x)  # (B, C, H, W - k + 1)
        r = r * r if self.nonlinearity == "square" else torch.relu(r)
        return self.head(r.mean(dim=(2, 3)))  # (B, out_dim)


class PixelMLPModule(nn.Module):
    """An MLP on the flattened (left, right) pixels; input ``(B, 2, H, W)``, output ``(B, out_dim)``."""

    def __init__(self, in_features: int, hidden: int = 64, depth: int = 2, out_dim: int = 1):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.Tanh()]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class IMAXConfig:
    """IMAX model: one module per patch and how their outputs are compared."""

    module: Literal["energy", "mlp"] = "energy"  # energy: conv disparity-energy unit; mlp: pixels -> tanh MLP
    channels: int = 16  # energy: binocular filters per module
    kernel: int = 5  # energy: filter width in pixels
    nonlinearity: Literal["relu", "square"] = "relu"  # energy (relu learned faster in our runs)
    head_depth: int = 0  # energy: tanh layers after pooling (more = more nonlinear modules)
    hidden: int = 64  # mlp hidden width (and energy head width)
    depth: int = 2  # mlp hidden layers
    out_dim: int = 1  # 1 = scalar IMAX; >1 = log-determinant version
    variant: Variant = "pair"
    form: Form = "imax"
    neighbours: int = 2  # neighbours variant: modules on each side used in the prediction
    share_weights: bool = True  # one module applied to every patch (as a convolution over patches)
    eps: float = 1e-6  # relative to the variances, added to them (and covariance diagonals): finite at any scale

    def __post_init__(self) -> None:
        check_choices(self, "model.")
        if self.variant == "neighbours" and self.out_dim != 1:
            raise ConfigError("variant='neighbours' predicts scalar outputs: set out_dim=1")
        if self.out_dim < 1 or self.neighbours < 1 or self.eps < 0:
            raise ConfigError(f"out_dim={self.out_dim}, neighbours={self.neighbours}, eps={self.eps}: "
                              "need out_dim >= 1, neighbours >= 1, eps >= 0")


def build_module(c: IMAXConfig, height: int, width: int) -> nn.Module:
    """One patch module as configured: input ``(B, 2, H, W)``, output ``(B, out_dim)``."""
    if c.module == "energy":
        if c.kernel > width:
            raise ConfigError(f"kernel={c.kernel} is wider than patch_width={width}: lower the kernel")
        return DisparityEnergyModule(c.channels, c.kernel, c.out_dim, c.nonlinearity, c.head_depth, c.hidden)
    return PixelMLPModule(2 * height * width, c.hidden, c.depth, c.out_dim)


class IMAXObjective(Objective):
    """Unsupervised IMAX over a row of patches; ``loss = -I``. Labels in the batch are never used.

    Batches are ``strips (B, P, 2, H, W)`` or ``(strips, disparity)`` tuples (the disparity is only
    reported as a metric, ``abs_r``, never trained on).

    * ``variant="pair"``: I summed over adjacent module pairs (P - 1 pairs).
    * ``variant="neighbours"``: each module with ``neighbours`` modules on both sides is predicted
      by a learned linear combination of them (weights shared across positions, as in B&H's
      interpolation network), I = sum_i 1/2 log V(a_i)/V(a_i - â_i).
    """

    def __init__(self, config: IMAXConfig, n_patches: int, height: int, patch_width: int):
        super().__init__()
        self.config = config
        self.n_patches = n_patches
        if config.variant == "neighbours" and n_patches < 2 * config.neighbours + 1:
            raise ConfigError(f"variant='neighbours' with neighbours={config.neighbours} needs at least "
                              f"{2 * config.neighbours + 1} patches, got n_patches={n_patches}")
        n_modules = 1 if config.share_weights else n_patches
        self.modules_ = nn.ModuleList([self._make_module(height, patch_width) for _ in range(n_modules)])
        if config.variant == "neighbours":
            k = config.neighbours
            self.mix = nn.Parameter(torch.full((2 * k,), 1.0 / (2 * k)))  # neighbour weights

    def _make_module(self, height: int, width: int) -> nn.Module:
        return build_module(self.config, height, width)

    def outputs(self, strips: torch.Tensor) -> torch.Tensor:
        """Module outputs, shape ``(B, P, out_dim)``, for strips ``(B, P, 2, H, W)``."""
        b, p = strips.shape[:2]
        if len(self.modules_) == 1:
            return self.modules_[0](strips.flatten(0, 1)).view(b, p, -1)
        return torch.stack([m(strips[:, i]) for i, m in enumerate(self.modules_)], dim=1)

    def information(self, y: torch.Tensor) -> torch.Tensor:
        """IMAX information of outputs ``y (B, P, D)`` for the configured variant."""
        c = self.config
        if c.variant == "pair":
            return sum((imax_information(y[:, i], y[:, i + 1], c.eps, c.form) for i in range(y.shape[1] - 1)),
                       start=y.new_zeros(()))
        k = c.neighbours
        a = y[..., 0]  # (B, P)
        p = a.shape[1]
        offsets = [o for o in range(-k, k + 1) if o != 0]
        centre = a[:, k:p - k]  # (B, P - 2k)
        pred = sum(w * a[:, k + o:p - k + o] for w, o in zip(self.mix, offsets))  # (B, P - 2k)
        return imax_interpolation(centre, pred, c.eps)

    def forward(self, batch) -> LossOutput:
        strips, disparity = (batch if isinstance(batch, (tuple, list)) else (batch, None))
        if strips.shape[0] < 2:
            raise DataError(f"IMAX needs batch statistics: got a batch of {strips.shape[0]}; use "
                            "batch_size >= 2")
        # the variances are the global batch's under torch.distributed (same I as one process)
        y = gather_batch(self.outputs(strips), self.training)  # (B, P, D)
        info = self.information(y)
        metrics: dict[str, object] = {"imax_nats": info.detach()}
        if disparity is not None and y.shape[-1] == 1:
            disparity = gather_batch(disparity, self.training)
            metrics["abs_r"] = abs(pearson_r(y[..., 0].detach().flatten(), disparity.flatten()))
        return LossOutput(loss=-info, metrics=metrics, num_items=strips.shape[0])


def pearson_r(x: torch.Tensor, y: torch.Tensor) -> float:
    """Pearson correlation of two 1-D tensors (0.0 when either is constant)."""
    x, y = x.double().flatten(), y.double().flatten()
    xc, yc = x - x.mean(), y - y.mean()
    den = float(xc.norm() * yc.norm())
    return float((xc * yc).sum()) / den if den > 0 else 0.0
