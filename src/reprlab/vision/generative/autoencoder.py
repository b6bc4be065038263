"""Deep autoencoders with configurable widths, activations, initialisations and output likelihood.

Hinton & Salakhutdinov, "Reducing the dimensionality of data with neural networks", Science 313
(2006), https://doi.org/10.1126/science.1127647: a 784-1000-500-250-30 encoder, a linear 30-unit
code layer and a mirrored decoder, trained to minimise the cross-entropy

    L(x) = -sum_i [ x_i log x^_i + (1 - x_i) log(1 - x^_i) ],   x^ = sigmoid(decoder(encoder(x)))

(a Bernoulli likelihood for pixels in [0, 1]) or the squared error ``||x - x^||^2`` (Gaussian).
With sigmoid units and a naive small-Gaussian initialisation the deep net trained end to end
barely learns (the 2006 paper needed RBM pretraining); ReLU with He initialisation trains directly.
A shallow autoencoder (no hidden layers) with masking noise is the denoising autoencoder of
Vincent et al. (2008), the building block of :class:`reprlab.vision.generative.stacked.StackedAutoencoder`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError
from reprlab.train import LossOutput, Objective, batch_inputs

Activation = Literal["relu", "sigmoid", "tanh", "gelu", "linear"]
# kaiming (He) | xavier (Glorot) | small_gaussian (N(0, init_std^2)) | torch_default (PyTorch's fan-in uniform)
Init = Literal["kaiming", "xavier", "small_gaussian", "torch_default"]
# bernoulli: sigmoid + cross-entropy, pixels in [0,1] | gaussian: identity + squared error
Output = Literal["bernoulli", "gaussian"]
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU, "linear": nn.Identity,
}
INITS: tuple[str, ...] = get_args(Init)
OUTPUTS: tuple[str, ...] = get_args(Output)


@dataclass
class AutoencoderConfig:
    """Architecture of a :class:`DeepAutoencoder` (defaults: the 2006 paper's MNIST net)."""

    input_dim: int = 784  # flattened image size, 28*28 for MNIST-format data
    hidden: tuple[int, ...] = (1000, 500, 250)  # encoder widths between input and code
    code_dim: int = 30  # code (bottleneck) size
    activation: Activation = "relu"  # hidden units
    code_activation: Activation = "linear"  # the 2006 paper's code units are linear
    init: Init = "kaiming"
    init_std: float = 0.01  # standard deviation of the small_gaussian initialisation
    output: Output = "bernoulli"
    noise: float = 0.0  # denoising: fraction of input pixels set to zero during training
    rescale: bool = False  # True: min-max rescale out-of-range inputs to [0,1] instead of raising

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        check_choices(self, "model.")
        if self.input_dim < 1 or self.code_dim < 1 or any(h < 1 for h in self.hidden):
            raise ConfigError(f"model widths must be >= 1 (input_dim={self.input_dim}, "
                              f"hidden={self.hidden}, code_dim={self.code_dim})")
        if not 0.0 <= self.noise < 1.0:
            raise ConfigError(f"model.noise={self.noise}: a masking fraction in [0, 1)")
        if self.init_std <= 0:
            raise ConfigError(f"model.init_std={self.init_std}: must be > 0")

    @property
    def widths(self) -> tuple[int, ...]:
        """Encoder widths from input to code, e.g. ``(784, 1000, 500, 250, 30)``."""
        return (self.input_dim, *self.hidden, self.code_dim)


def init_linear(layer: nn.Linear, scheme: str, activation: str, std: float = 0.01) -> None:
    """Initialise one layer in place: He (Kaiming-normal), Glorot-uniform, N(0, std^2) or torch's default.

    Biases start at zero except for ``torch_default`` (PyTorch's own uniform fan-in scheme).
    """
    if scheme == "torch_default":
        layer.reset_parameters()
        return
    if scheme == "kaiming":
        nonlinearity: Literal["relu", "linear", "sigmoid", "tanh"] = "relu" if activation in ("relu", "gelu") else "linear"
        if activation == "sigmoid":
            nonlinearity = "sigmoid"
        elif activation == "tanh":
            nonlinearity = "tanh"
        nn.init.kaiming_normal_(layer.weight, nonlinearity=nonlinearity)
    elif scheme == "xavier":
        gain = nn.init.calculate_gain("tanh") if activation == "tanh" else 1.0
        nn.init.xavier_uniform_(layer.weight, gain=gain)
    elif scheme == "small_gaussian":
        nn.init.normal_(layer.weight, 0.0, std)
    else:  # pragma: no cover - config validation prevents this
        raise ConfigError(f"unknown init {scheme!r}")
    nn.init.zeros_(layer.bias)


def _mlp(widths: tuple[int, ...], activation: str, last_activation: str, init: str,
         std: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
        linear = nn.Linear(d_in, d_out)
        act = activation if i < len(widths) - 2 else last_activation
        init_linear(linear, init, act, std)
        layers += [linear, ACTIVATIONS[act]()]
    return nn.Sequential(*layers)


def flatten_images(x: torch.Tensor, input_dim: int, *, bernoulli: bool, rescale: bool = False,
                   what: str = "input") -> torch.Tensor:
    """Flatten ``(N, C, H, W)`` or ``(N, D)`` images to ``(N, input_dim)``, checking size and range.

    Raises
    ------
    DataError
        When the flattened size differs from ``input_dim``, when values are not finite, or when a
        Bernoulli model gets values outside [0, 1] and ``rescale`` is False.
    """
    flat = x.reshape(len(x), -1).float()  # (N, D)
    if flat.shape[1] != input_dim:
        raise DataError(f"{what}: images of shape {tuple(x.shape[1:])} flatten to {flat.shape[1]} "
                        f"values but the model expects input_dim={input_dim}; set "
                        f"model.input_dim={flat.shape[1]} or resize the images")
    lo, hi = (float(t) for t in torch.aminmax(flat))  # one pass; NaN and infinities propagate into it
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise DataError(f"{what}: contains NaN or infinite pixel values; clean the data first")
    if bernoulli:
        if lo < 0.0 or hi > 1.0:
            if not rescale:
                raise DataError(f"{what}: pixel values span [{lo:.4g}, {hi:.4g}] but a Bernoulli "
                                "(cross-entropy) model needs [0, 1]; divide by 255, set "
                                "model.rescale=true (min-max rescale) or use model.output='gaussian'")
            flat = (flat - lo) / max(hi - lo, 1e-12)
    return flat


def flatten_for(config, x: torch.Tensor, what: str = "input") -> torch.Tensor:
    """:func:`flatten_images` with a model config's ``input_dim``, ``output`` and ``rescale``
    (autoencoder and VAE configs alike)."""
    return flatten_images(x, config.input_dim, bernoulli=config.output == "bernoulli", rescale=config.rescale,
                          what=what)


class DeepAutoencoder(nn.Module):
    """Encoder MLP to a code, mirrored decoder MLP back to the input (Hinton & Salakhutdinov 2006).

    ``decode`` returns logits for a Bernoulli output and the mean for a Gaussian output;
    ``reconstruct`` returns pixel values in both cases.

    Examples
    --------
    >>> ae = DeepAutoencoder(AutoencoderConfig(input_dim=64, hidden=(32,), code_dim=8))
    >>> ae.reconstruct(torch.rand(5, 64)).shape
    torch.Size([5, 64])
    """

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        c = config
        self.encoder = _mlp(c.widths, c.activation, c.code_activation, c.init, c.init_std)
        self.decoder = _mlp(c.widths[::-1], c.activation, "linear", c.init, c.init_std)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes of flattened inputs: ``(N, input_dim) -> (N, code_dim)``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Output pre-activations: logits (Bernoulli) or means (Gaussian), ``(N, input_dim)``."""
        return self.decoder(z)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstructed pixels of flattened inputs, ``(N, input_dim)``."""
        out = self.decode(self.encode(x))
        return torch.sigmoid(out) if self.config.output == "bernoulli" else out


def reconstruction_loss(out: torch.Tensor, x: torch.Tensor, output: str) -> torch.Tensor:
    """Per-example loss: Bernoulli cross-entropy (``out`` are logits) or squared error, summed over pixels."""
    if output == "bernoulli":
        return F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)  # (N,)
    return ((out - x) ** 2).sum(1)  # (N,)


class AutoencoderObjective(Objective):
    """Train a :class:`DeepAutoencoder` with the Trainer: mean per-image reconstruction loss.

    Logged metrics: ``sq_err`` (squared error per image, summed over pixels — the figure the 2006
    paper reports) and, for Bernoulli outputs, ``cross_entropy``.
    """

    def __init__(self, config: AutoencoderConfig, model: DeepAutoencoder | None = None):
        super().__init__()
        self.config = config
        self.model = model if model is not None else DeepAutoencoder(config)

    def forward(self, batch: tuple[torch.Tensor, ...] | torch.Tensor) -> LossOutput:
        x = batch_inputs(batch)
        c = self.config
        x = flatten_for(c, x, "training batch")  # (B, D)
        inp = x
        if self.training and c.noise > 0:
            inp = x * (torch.rand_like(x) >= c.noise)  # masking noise (Vincent et al. 2008)
        out = self.model.decode(self.model.encode(inp))  # (B, D)
        loss = reconstruction_loss(out, x, c.output).mean()
        with torch.no_grad():
            recon = torch.sigmoid(out) if c.output == "bernoulli" else out
            sq_err = ((recon - x) ** 2).sum(1).mean()
        metrics = {"sq_err": sq_err}
        if c.output == "bernoulli":
            metrics["cross_entropy"] = loss.detach()
        return LossOutput(loss, metrics, num_items=len(x))


@torch.no_grad()
def _map_dataset(model: DeepAutoencoder, x: torch.Tensor, fn_name: str, batch_size: int) -> torch.Tensor:
    """Apply ``model.<fn_name>`` in eval mode to every image of ``x``, batch by batch, on the model's device."""
    flat = flatten_for(model.config, x)
    device = next(model.parameters()).device
    fn = getattr(model, fn_name)
    was = model.training
    model.eval()
    out = torch.cat([fn(flat[i:i + batch_size].to(device)).cpu() for i in range(0, len(flat), batch_size)])
    model.train(was)
    return out


def encode_dataset(model: DeepAutoencoder, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Codes for every image of ``x`` (any shape flattening to ``input_dim``), ``(N, code_dim)``."""
    return _map_dataset(model, x, "encode", batch_size)


def reconstruct_dataset(model: DeepAutoencoder, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Reconstructed pixels for every image of ``x``, ``(N, input_dim)``."""
    return _map_dataset(model, x, "reconstruct", batch_size)


def default_code_dim(input_dim: int) -> int:
    """The 2006 paper's 30-d code for 784 or more inputs; ``input_dim // 6`` below (10 for 8x8 digits).

    A 30-d code on 64-d digits keeps almost half the dimensions, where PCA-30 leaves ~4% of the
    variance: the deep AE cannot win there. With 10 it does (0.82 vs PCA's 1.27, docs/generative.md).
    """
    return 30 if input_dim >= 784 else max(2, min(30, input_dim // 6))


def default_hidden(input_dim: int) -> tuple[int, ...]:
    """The 2006 widths for 784 inputs; for small images, widths scaled by ``input_dim / 784``."""
    if input_dim == 784:
        return (1000, 500, 250)
    scale = input_dim / 784
    return tuple(max(8, int(math.ceil(w * scale * 2))) for w in (1000, 500, 250))


__all__ = ["AutoencoderConfig", "DeepAutoencoder", "AutoencoderObjective", "flatten_images", "flatten_for",
           "reconstruction_loss", "encode_dataset", "reconstruct_dataset", "init_linear",
           "ACTIVATIONS", "INITS", "Activation", "Init", "Output", "default_hidden", "default_code_dim"]
