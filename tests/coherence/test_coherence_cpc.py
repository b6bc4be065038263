"""CPC: loss against a loop reference, shapes, data, a short training run, errors."""

from __future__ import annotations

import pytest
import torch

from reprlab.coherence.cpc import (
    CPCConfig,
    CPCModel,
    CPCObjective,
    char_sequences,
    cpc_loss,
    factors_per_step,
    slow_factor_signals,
)
from reprlab.coherence.runs import CPCRunConfig, run_cpc
from reprlab.errors import ConfigError, DataError

from .coherence_reference import cpc_loss_reference


def test_loss_matches_reference():
    torch.manual_seed(0)
    z = torch.randn(3, 6, 4, dtype=torch.float64)
    c = torch.randn(3, 6, 5, dtype=torch.float64)
    preds = torch.nn.ModuleList([torch.nn.Linear(5, 4, bias=False).double() for _ in range(2)])
    loss, accs = cpc_loss(z, c, preds)
    ref = cpc_loss_reference(z.numpy(), c.numpy(), [w.weight.detach().numpy() for w in preds])
    assert float(loss.detach()) == pytest.approx(ref, rel=1e-10)
    assert len(accs) == 2 and all(0 <= a <= 1 for a in accs)


def test_shapes_and_gru_context_is_causal():
    model = CPCModel(CPCConfig())
    x = torch.randn(2, 1, 64)
    z, c = model(x)
    assert z.shape == (2, 16, 32) and c.shape == (2, 16, 64)
    x2 = x.clone()
    x2[..., 40:] = 0.0  # change only the future
    _, c2 = model(x2)
    # receptive field of z_t reaches 2 latent steps ahead at most; c_t for t < 8 cannot see x[40:]
    assert torch.allclose(c[:, :8], c2[:, :8])
    chars = CPCModel(CPCConfig(input="chars"))
    z, c = chars(torch.randint(0, 256, (2, 32)))
    assert z.shape == (2, 8, 32)


def test_slow_factor_signals():
    x, f = slow_factor_signals(8, 128, seed=0)
    assert x.shape == (8, 1, 128) and f.shape == (8, 2, 128)
    assert 0.04 <= float(f[:, 0].min()) and float(f[:, 0].max()) <= 0.2
    assert 0.3 <= float(f[:, 1].min()) and float(f[:, 1].max()) <= 1.5
    assert float(f[:, 0].diff(dim=-1).abs().max()) < 0.01  # slowly varying
    steps = factors_per_step(f, 4, 32)
    assert steps.shape == (8, 32, 2)
    assert float(steps[0, 0, 0]) == pytest.approx(float(f[0, 0, :4].mean()))


def test_char_sequences():
    ids = char_sequences("héllo world, " * 20, 16)
    assert ids.shape[1] == 16 and int(ids.max()) < 256
    with pytest.raises(DataError, match="fewer than one window"):
        char_sequences("short", 16)


def test_short_training_learns_to_predict_the_next_step(tmp_path):
    from reprlab.train import torch_threads

    cfg = CPCRunConfig(n_train=256, n_test=64, length=64)
    cfg.train.output_dir = str(tmp_path / "cpc")
    cfg.train.max_steps = 60
    cfg.train.log_every = 20
    with torch_threads(1):
        result = run_cpc(cfg)
    chance = 1 / (32 * 15)
    assert result.accuracy_per_step[0] > 50 * chance  # k=1 is found among ~480 candidates
    assert result.accuracy_per_step[0] >= result.accuracy_per_step[-1]
    assert result.infonce_nats > 1.0
    assert set(result.probe_r2) == {"frequency", "amplitude"}


@pytest.mark.slow
def test_cpc_context_beats_untrained_on_the_frequency_factor(tmp_path):
    from reprlab.train import torch_threads

    cfg = CPCRunConfig()
    cfg.train.output_dir = str(tmp_path / "cpc")
    with torch_threads(1):
        result = run_cpc(cfg)
    assert result.probe_r2["frequency"] > result.probe_r2_untrained["frequency"] + 0.03
    assert result.accuracy_per_step[0] > 0.8


def test_errors():
    with pytest.raises(ConfigError, match="input='audio'"):
        CPCConfig(input="audio")
    obj = CPCObjective(CPCConfig(predict_steps=4))
    with pytest.raises(DataError, match="not more than predict_steps=4"):
        obj(torch.randn(2, 1, 16))
    with pytest.raises(ConfigError, match="needs text=FILE"):
        run_cpc(CPCRunConfig(model=CPCConfig(input="chars")))
