"""Deep autoencoder: architecture options, the paper's error measure, PCA comparison on digits, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from reprlab.data import load_dataset
from reprlab.errors import ConfigError, DataError
from reprlab.train import TrainConfig, Trainer, TrainingDiverged
from reprlab.vision.generative.autoencoder import (
    AutoencoderConfig,
    AutoencoderObjective,
    DeepAutoencoder,
    reconstruct_dataset,
    reconstruction_loss,
)
from reprlab.vision.generative.evaluation import code_probe, pca_reconstruction, squared_error_per_image


def test_default_architecture_is_the_2006_network():
    ae = DeepAutoencoder(AutoencoderConfig())
    shapes = [tuple(m.weight.shape) for m in ae.encoder if isinstance(m, torch.nn.Linear)]
    assert shapes == [(1000, 784), (500, 1000), (250, 500), (30, 250)]
    dec = [tuple(m.weight.shape) for m in ae.decoder if isinstance(m, torch.nn.Linear)]
    assert dec == [(250, 30), (500, 250), (1000, 500), (784, 1000)]
    assert isinstance(ae.encoder[-1], torch.nn.Identity)  # linear code layer
    assert isinstance(ae.decoder[-1], torch.nn.Identity)  # logits; sigmoid lives in the loss


@pytest.mark.parametrize("act,cls", [("relu", torch.nn.ReLU), ("sigmoid", torch.nn.Sigmoid),
                                     ("tanh", torch.nn.Tanh), ("gelu", torch.nn.GELU)])
def test_activation_choice(act, cls):
    ae = DeepAutoencoder(AutoencoderConfig(input_dim=20, hidden=(16, 8), code_dim=4, activation=act))
    assert isinstance(ae.encoder[1], cls) and isinstance(ae.encoder[3], cls)


@pytest.mark.parametrize("init,expected_std", [("kaiming", math.sqrt(2 / 400)),
                                               ("xavier", math.sqrt(2 / (400 + 300))),
                                               ("small_gaussian", 0.01)])
def test_initialisation_scales(init, expected_std):
    torch.manual_seed(0)
    ae = DeepAutoencoder(AutoencoderConfig(input_dim=400, hidden=(300,), code_dim=30, init=init))
    w = ae.encoder[0].weight
    assert float(w.detach().std()) == pytest.approx(expected_std, rel=0.03)
    assert float(ae.encoder[0].bias.detach().abs().max()) == 0.0


def test_losses_match_closed_forms():
    logits, x = torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]])
    expected = math.log(2) + math.log(1 + math.e ** 2)  # -log s(0) - log(1 - s(2))
    assert float(reconstruction_loss(logits, x, "bernoulli")[0]) == pytest.approx(expected)
    assert float(reconstruction_loss(logits, x, "gaussian")[0]) == pytest.approx(1 + 4)
    assert squared_error_per_image(torch.zeros(3, 1, 2, 2), torch.ones(3, 4)) == 4.0


def _train_ae(tmp_path, data, cfg: AutoencoderConfig, steps: int, lr: float, name: str) -> AutoencoderObjective:
    torch.manual_seed(0)
    objective = AutoencoderObjective(cfg)
    Trainer(objective, TrainConfig(output_dir=str(tmp_path / name), optimizer="adam", lr=lr, weight_decay=0.0,
                                   batch_size=64, max_steps=steps, save_every=None, progress=False,
                                   log_every=100), data).fit()
    return objective


def test_deep_relu_autoencoder_beats_pca_on_digits_and_sigmoid_small_init_does_not(tmp_path):
    """The 2006 comparison at digits scale (10-d codes), and the talk's point about units/init."""
    train, test = load_dataset("digits"), load_dataset("digits", "test")
    pca_recon, pca_codes, _ = pca_reconstruction(train.x, test.x, 10)
    pca_err = squared_error_per_image(test.x, pca_recon)
    assert pca_err == pytest.approx(1.265, abs=0.01)  # PCA is deterministic: a pinned reference
    relu = _train_ae(tmp_path, train, AutoencoderConfig(input_dim=64, hidden=(128, 64), code_dim=10),
                     400, 3e-3, "relu")
    relu_err = squared_error_per_image(test.x, reconstruct_dataset(relu.model, test.x))
    sigmoid = _train_ae(tmp_path, train, AutoencoderConfig(input_dim=64, hidden=(128, 64), code_dim=10,
                                                           activation="sigmoid", init="small_gaussian"),
                        300, 3e-3, "sigmoid")
    sig_err = squared_error_per_image(test.x, reconstruct_dataset(sigmoid.model, test.x))
    mean_err = squared_error_per_image(test.x, train.x.flatten(1).mean(0).expand(len(test.x), -1))
    assert relu_err < 0.8 * pca_err, (relu_err, pca_err)
    assert sig_err > 0.85 * mean_err, (sig_err, mean_err)  # about the mean image: barely learnt


def test_denoising_noise_only_in_training():
    cfg = AutoencoderConfig(input_dim=16, hidden=(8,), code_dim=4, noise=0.5)
    objective = AutoencoderObjective(cfg)
    x = torch.rand(32, 16)
    objective.eval()
    a, b = objective((x,)).loss.item(), objective((x,)).loss.item()
    assert a == b
    objective.train()
    torch.manual_seed(0)
    c = objective((x,)).loss.item()
    assert c != a


def test_code_probe_separates_separable_codes():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 2
    codes = torch.randn(200, 3, generator=g) + 4 * y[:, None].float()
    scores = code_probe(codes[:100], y[:100], codes[100:], y[100:])
    assert scores.knn == 1.0 and scores.linear == 1.0


def test_bad_inputs():
    objective = AutoencoderObjective(AutoencoderConfig(input_dim=64, hidden=(16,), code_dim=4))
    with pytest.raises(DataError, match=r"needs \[0, 1\]; divide by 255"):
        objective((torch.full((2, 1, 8, 8), 255.0),))
    with pytest.raises(DataError, match="flatten to 784 values but the model expects input_dim=64"):
        objective((torch.rand(2, 1, 28, 28),))
    with pytest.raises(DataError, match="NaN"):
        objective((torch.full((2, 64), float("nan")),))
    rescaling = AutoencoderObjective(AutoencoderConfig(input_dim=64, hidden=(16,), code_dim=4, rescale=True))
    assert torch.isfinite(rescaling((torch.full((2, 64), 255.0) * torch.rand(2, 64),)).loss)
    gaussian = AutoencoderObjective(AutoencoderConfig(input_dim=64, hidden=(16,), code_dim=4, output="gaussian"))
    assert torch.isfinite(gaussian((torch.randn(2, 64) * 3,)).loss)
    with pytest.raises(ConfigError, match="model.activation='swish'"):
        AutoencoderConfig(activation="swish")
    with pytest.raises(ConfigError, match="model.init='he'"):
        AutoencoderConfig(init="he")


def test_nan_loss_stops_naming_step_and_checkpoint(tmp_path):
    train = load_dataset("digits")
    objective = AutoencoderObjective(AutoencoderConfig(input_dim=64, hidden=(16,), code_dim=4))
    original = objective.forward

    def poisoned(batch):
        out = original(batch)
        if objective.calls >= 3:
            out.loss = out.loss * float("nan")
        objective.calls += 1
        return out

    objective.calls = 0
    objective.forward = poisoned
    cfg = TrainConfig(output_dir=str(tmp_path / "nan"), optimizer="adam", batch_size=32, max_steps=10,
                      save_every=2, progress=False)
    with pytest.raises(TrainingDiverged, match=r"at step 3; last good checkpoint: .*checkpoint-000002"):
        Trainer(objective, cfg, train).fit()
