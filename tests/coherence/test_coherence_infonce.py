"""InfoNCE: reference implementation, closed forms, the log(batch) ceiling, gradients, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.coherence import InfoNCELoss, critic_scores, info_nce, info_nce_from_scores, info_nce_mi_bound
from reprlab.coherence.infonce import correlated_gaussians, infonce_bound_curve, optimal_gaussian_scores
from reprlab.errors import ConfigError, DataError

from .coherence_reference import info_nce_reference


def test_matches_reference():
    g = torch.Generator().manual_seed(0)
    scores = 3 * torch.randn(7, 7, generator=g, dtype=torch.float64)
    assert float(info_nce_from_scores(scores)) == pytest.approx(info_nce_reference(scores.numpy()), rel=1e-12)
    sym = float(info_nce_from_scores(scores, symmetric=True))
    expected = 0.5 * (info_nce_reference(scores.numpy()) + info_nce_reference(scores.numpy().T))
    assert sym == pytest.approx(expected, rel=1e-12)


def test_scores_with_a_positive_per_row_are_cross_entropy_over_the_keys():
    """The query/keys form NT-Xent uses: (M, K) scores, a positive column per row, one column dropped."""
    g = torch.Generator().manual_seed(2)
    q, k = torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(7, 4, generator=g, dtype=torch.float64)
    pos, drop = torch.tensor([0, 3, 6, 1, 2]), torch.tensor([1, 0, 2, 2, 6])
    logits = q @ k.T / 0.2  # (5, 7)
    expected = -(logits.log_softmax(1)[torch.arange(5), pos]).mean()
    torch.testing.assert_close(info_nce_from_scores(logits, pos), expected)
    kept = [[j for j in range(7) if j != int(drop[i])] for i in range(5)]  # each row without its dropped key
    by_hand = -np.mean([float(logits[i, int(pos[i])] - torch.logsumexp(logits[i, kept[i]], 0)) for i in range(5)])
    assert float(info_nce_from_scores(logits, pos, exclude=drop)) == pytest.approx(by_hand, rel=1e-12)
    with pytest.raises(DataError, match="square"):
        info_nce_from_scores(logits)
    with pytest.raises(ConfigError, match="symmetric"):
        info_nce_from_scores(logits, pos, symmetric=True)


def test_closed_forms():
    n = 16
    assert float(info_nce_from_scores(torch.zeros(n, n))) == pytest.approx(math.log(n))  # chance
    assert float(info_nce_mi_bound(torch.zeros(n, n, dtype=torch.float64))) == pytest.approx(0.0, abs=1e-12)
    perfect = 1e4 * torch.eye(n, dtype=torch.float64)
    assert float(info_nce_mi_bound(perfect)) == pytest.approx(math.log(n))  # the ceiling


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 64), margin=st.floats(0.0, 40.0), seed=st.integers(0, 10_000))
def test_estimate_is_tight_at_log_batch_when_every_positive_stands_out(n, margin, seed):
    """The case where the log N ceiling is reached, in closed form.

    Row i scores its positive ``c_i + margin`` and every negative ``c_i``: then
    ``L = log(1 + (n - 1) e^-margin)`` and the estimate ``log n - L`` climbs from 0 (no margin) to
    exactly ``log n`` (a large one). The row offsets ``c_i`` must not matter (the softmax runs over
    each row's candidates); a column-wise, summed or off-by-one estimator misses the value.
    """
    g = torch.Generator().manual_seed(seed)
    offsets = 5 * torch.randn(n, 1, generator=g, dtype=torch.float64)  # c_i
    scores = offsets.expand(n, n) + margin * torch.eye(n, dtype=torch.float64)
    expected = math.log(n) - math.log1p((n - 1) * math.exp(-margin))
    assert float(info_nce_mi_bound(scores)) == pytest.approx(expected, abs=1e-9)


def test_estimate_approaches_true_mi_when_mi_is_much_smaller_than_log_batch():
    g = torch.Generator().manual_seed(0)
    for mi in (0.5, 1.0):
        ests = []
        for _ in range(10):
            x, y, rho = correlated_gaussians(1024, 4, mi, g)
            ests.append(float(info_nce_mi_bound(optimal_gaussian_scores(x, y, rho))))
        assert np.mean(ests) == pytest.approx(mi, abs=0.08)


def test_estimate_saturates_at_log_batch_when_mi_is_large():
    curves = infonce_bound_curve([12.0], [16, 64], dim=8, n_batches=5)
    for bsz, (est,) in curves.items():
        assert est <= math.log(bsz) + 1e-9
        assert est > math.log(bsz) - 0.25


def test_trained_bilinear_critic_approaches_true_mi(tmp_path):
    """A critic learned through the Trainer: x^T W y on Gaussian pairs with 1 nat of MI."""
    from reprlab.data import ArrayDataset
    from reprlab.train import LossOutput, Objective, TrainConfig, Trainer

    g = torch.Generator().manual_seed(0)
    x, y, _ = correlated_gaussians(8192, 2, 1.0, g)
    x, y = x.float(), y.float()

    class Bilinear(Objective):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(2, 2, bias=False)

        def forward(self, batch):
            xb, yb = batch
            # -||W x - y||^2 is the optimal critic's family for jointly Gaussian pairs
            scores = critic_scores(self.w(xb), yb, "neg_sq", 1.0)  # (B, B)
            return LossOutput(info_nce_from_scores(scores))

    from reprlab.train import torch_threads

    obj = Bilinear()
    cfg = TrainConfig(output_dir=str(tmp_path), max_steps=100, batch_size=512, lr=0.05, save_every=None,
                      progress=False, weight_decay=0.0)
    with torch_threads(1):
        Trainer(obj, cfg, ArrayDataset(x, y)).fit()
    with torch.no_grad():
        est = np.mean([float(info_nce_mi_bound(-torch.cdist(obj.w(x[i:i + 512]), y[i:i + 512]).pow(2)))
                       for i in range(0, 8192, 512)])
    assert est == pytest.approx(1.0, abs=0.12)


def test_critics_and_module():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert torch.allclose(critic_scores(x, x, "dot", 1.0), torch.tensor([[1.0, 0.0], [0.0, 4.0]]))
    assert torch.allclose(critic_scores(x, x, "cosine", 0.5), torch.tensor([[2.0, 0.0], [0.0, 2.0]]))
    assert torch.allclose(critic_scores(x, x, "neg_sq", 1.0), torch.tensor([[0.0, -5.0], [-5.0, 0.0]]))
    loss = InfoNCELoss(temperature=0.5, critic="cosine")(x, x)
    assert float(loss) == pytest.approx(float(info_nce(x, x, 0.5, "cosine")))


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 2, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randn(4, 2, dtype=torch.float64, generator=g, requires_grad=True)
    for critic in ("dot", "cosine", "neg_sq"):
        assert torch.autograd.gradcheck(lambda a, b, c=critic: info_nce(a, b, 0.7, c, symmetric=True), (x, y),
                                        fast_mode=True)


def test_errors():
    with pytest.raises(DataError, match="batch of 1"):
        info_nce(torch.randn(1, 3), torch.randn(1, 3))
    with pytest.raises(ConfigError, match="temperature=0"):
        info_nce(torch.randn(4, 3), torch.randn(4, 3), temperature=0)
    with pytest.raises(ConfigError, match="critic='l1'"):
        InfoNCELoss(critic="l1")
    with pytest.raises(DataError, match="4 rows but y has 3"):
        info_nce(torch.randn(4, 3), torch.randn(3, 3))
