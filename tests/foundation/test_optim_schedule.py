"""Optimizers and schedules against closed forms."""

import math

import pytest
import torch
from torch import nn

from reprlab.train import LAMB, LARS, TrainConfig, build_optimizer, lr_factor, param_groups


def test_param_groups_exclude_bias_and_norm_weights():
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    groups = param_groups(model, weight_decay=0.1)
    decay, no_decay = groups
    assert [p.shape for p in decay["params"]] == [torch.Size([3, 4]), torch.Size([2, 3])]
    assert len(no_decay["params"]) == 4  # 2 biases + LayerNorm weight and bias
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert no_decay["exclude_from_adaptation"] and not decay["exclude_from_adaptation"]


def test_lars_first_step_matches_closed_form():
    w0 = torch.tensor([3.0, 4.0])  # ||w|| = 5
    g = torch.tensor([0.6, -0.8])  # ||g|| = 1
    w = nn.Parameter(w0.clone())
    w.grad = g.clone()
    lr, wd, eta, m = 0.5, 0.1, 0.001, 0.9
    opt = LARS([w], lr=lr, momentum=m, weight_decay=wd, eta=eta)
    opt.step()
    u = g + wd * w0
    trust = eta * 5.0 / u.norm()
    torch.testing.assert_close(w.detach(), w0 - lr * trust * u)
    # second step: heavy-ball momentum v = m v + local_lr u
    w1 = w.detach().clone()
    w.grad = g.clone()
    opt.step()
    u2 = g + wd * w1
    v = m * (lr * trust * u) + lr * (eta * w1.norm() / u2.norm()) * u2
    torch.testing.assert_close(w.detach(), w1 - v)


def test_lars_excluded_group_is_plain_momentum_sgd():
    b = nn.Parameter(torch.tensor([1.0, -2.0]))
    b.grad = torch.tensor([0.5, 0.5])
    opt = LARS([{"params": [b], "weight_decay": 0.0, "exclude_from_adaptation": True}], lr=0.1)
    opt.step()
    torch.testing.assert_close(b.detach(), torch.tensor([0.95, -2.05]))


def test_lars_zero_weight_uses_trust_ratio_one():
    w = nn.Parameter(torch.zeros(3))
    w.grad = torch.ones(3)
    LARS([w], lr=0.1, momentum=0.0, eta=0.001).step()
    torch.testing.assert_close(w.detach(), torch.full((3,), -0.1))


def test_lamb_first_step_matches_closed_form():
    w0 = torch.tensor([1.0, -2.0, 2.0])  # ||w|| = 3
    g = torch.tensor([0.1, 0.2, -0.3])
    w = nn.Parameter(w0.clone())
    w.grad = g.clone()
    lr, wd, eps = 0.01, 0.01, 1e-6
    LAMB([w], lr=lr, weight_decay=wd, eps=eps).step()
    # bias-corrected moments after one step are g and g^2
    r = g / (g.abs() + eps) + wd * w0
    torch.testing.assert_close(w.detach(), w0 - lr * (3.0 / r.norm()) * r)


@pytest.mark.parametrize("name,cls", [("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD),
                                      ("lamb", LAMB), ("lars", LARS), ("adam", torch.optim.Adam)])
def test_build_optimizer(name, cls):
    model = nn.Linear(3, 2)
    opt = build_optimizer(param_groups(model, 0.01), TrainConfig(optimizer=name, lr=0.1))
    assert isinstance(opt, cls)
    assert opt.param_groups[0]["lr"] == 0.1


def test_warmup_is_linear_and_nonzero_at_step_zero():
    f = [lr_factor(s, schedule="constant", max_steps=100, warmup_steps=4) for s in range(6)]
    assert f == [0.2, 0.4, 0.6, 0.8, 1.0, 1.0]


def test_cosine_points():
    kw = dict(schedule="cosine", max_steps=110, warmup_steps=10, min_ratio=0.1)
    assert lr_factor(10, **kw) == pytest.approx(1.0)
    assert lr_factor(60, **kw) == pytest.approx(0.1 + 0.9 * 0.5)  # half way: cos(pi/2) = 0
    assert lr_factor(35, **kw) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor(110, **kw) == pytest.approx(0.1)
    assert lr_factor(500, **kw) == pytest.approx(0.1)  # clamped past the end


def test_linear_points():
    kw = dict(schedule="linear", max_steps=100, warmup_steps=0)
    assert [lr_factor(s, **kw) for s in (0, 25, 50, 100)] == [1.0, 0.75, 0.5, 0.0]
