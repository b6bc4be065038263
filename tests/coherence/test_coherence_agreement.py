"""Bottom-up/top-down agreement: patches, layer locality, MSE collapse vs contrastive."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reprlab.coherence.agreement import AgreementConfig, AgreementObjective, activation_variance, image_patches
from reprlab.coherence.runs import AgreementRunConfig, run_agreement
from reprlab.data import DataSpec
from reprlab.errors import ConfigError, DataError

from .coherence_reference import patches_reference


def test_image_patches_match_reference():
    x = torch.randn(3, 2, 8, 12)
    got = image_patches(x, 2)
    assert np.allclose(got.numpy(), patches_reference(x.numpy(), 2))
    with pytest.raises(DataError, match="do not split into a 3x3 grid"):
        image_patches(x, 3)


def test_training_is_layer_local():
    torch.manual_seed(0)
    obj = AgreementObjective(AgreementConfig(widths=(8, 8), hidden=16), (1, 8, 8))
    x = torch.rand(16, 1, 8, 8)
    obj(x).loss.backward()
    full = [p.grad.clone() for p in obj.layers[0].parameters()]
    obj.zero_grad()
    # layer 1's gradient from its own loss alone is the same: nothing flows down from layer 2
    from reprlab.coherence.agreement import agreement_loss
    h, t = obj.layers[0](image_patches(x, 2))
    agreement_loss(h, t, "contrastive", 0.1).backward()
    for a, p in zip(full, obj.layers[0].parameters()):
        assert torch.allclose(a, p.grad, atol=1e-7)


def _train(tmp_path, agreement: str, steps: int) -> list[float]:
    from reprlab.data import load_dataset
    from reprlab.train import TrainConfig, Trainer, torch_threads

    data = load_dataset("digits")
    torch.manual_seed(0)
    obj = AgreementObjective(AgreementConfig(agreement=agreement), (1, 8, 8))
    cfg = TrainConfig(output_dir=str(tmp_path / agreement), max_steps=steps, batch_size=128, lr=3e-3,
                      save_every=None, progress=False, log_every=50)
    with torch_threads(1):
        Trainer(obj, cfg, data).fit()
    return activation_variance(obj, data.x)


def test_mse_agreement_collapses_and_contrastive_does_not(tmp_path):
    mse = _train(tmp_path, "mse", 100)
    contrastive = _train(tmp_path, "contrastive", 100)
    assert max(mse) < 1e-3, mse
    assert min(contrastive) > 2e-3, contrastive
    assert min(contrastive) > 100 * max(mse)


@pytest.mark.slow
def test_contrastive_probe_beats_untrained_on_fashion_mnist(tmp_path):
    from reprlab.data import FASHION_MNIST_DIR
    from reprlab.train import torch_threads

    if not FASHION_MNIST_DIR.is_dir():
        pytest.skip("Fashion-MNIST is not installed (make data)")

    cfg = AgreementRunConfig(data=DataSpec("fashion-mnist", limit=5000))
    cfg.train.output_dir = str(tmp_path / "c")
    with torch_threads(1):
        res = run_agreement(cfg)
    assert res.probe_accuracy > res.probe_accuracy_untrained
    cfg = AgreementRunConfig(model=AgreementConfig(agreement="mse"), data=DataSpec("fashion-mnist", limit=5000))
    cfg.train.output_dir = str(tmp_path / "m")
    with torch_threads(1):
        mse = run_agreement(cfg)
    assert mse.probe_accuracy < res.probe_accuracy - 0.2


def test_bad_config():
    with pytest.raises(ConfigError, match="agreement='equal'"):
        AgreementConfig(agreement="equal")
    with pytest.raises(ConfigError, match="grid=3 does not divide"):
        AgreementObjective(AgreementConfig(grid=3), (1, 8, 8))
    with pytest.raises(ConfigError, match="grid >= 2"):
        AgreementConfig(grid=1)
