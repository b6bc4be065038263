"""Transfer evaluations: kNN vs a loop reference, linear probe vs scikit-learn, label subsets,
batched feature extraction and fine-tuning through the Trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.data import ArrayDataset
from reprlab.errors import ConfigError, DataError
from reprlab.train import TrainConfig
from reprlab.transfer import (
    class_balanced_indices,
    classifier_accuracy,
    extract_features,
    fit_classifier,
    knn_accuracy,
    knn_predict,
    linear_probe,
    parse_fraction,
)
from reprlab.transfer.evaluate import EvalConfig
from tests.vision.contrastive.simclr_reference import knn_loop


def _blobs(n=120, d=5, classes=3, seed=0, spread=0.3):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, d, generator=g) * 2
    y = torch.arange(n) % classes
    return centres[y] + spread * torch.randn(n, d, generator=g), y


@settings(max_examples=10, deadline=None)
@given(k=st.integers(1, 30), tau=st.floats(0.05, 1.0), seed=st.integers(0, 100))
def test_knn_matches_loop_reference(k, tau, seed):
    x, y = _blobs(60, 4, 3, seed, spread=1.5)
    q, _ = _blobs(15, 4, 3, seed + 1, spread=1.5)
    ours = knn_predict(x.double(), y, q.double(), k=k, temperature=tau, chunk_size=4).tolist()
    assert ours == knn_loop(x.tolist(), y.tolist(), q.tolist(), k, tau, 3)


def test_knn_caps_k_and_rejects_bad_parameters():
    x, y = _blobs(20)
    assert knn_accuracy(x, y, x, y, k=200).accuracy == 1.0  # k capped at 20 training points
    with pytest.raises(ConfigError, match="temperature"):
        knn_predict(x, y, x, temperature=0)
    with pytest.raises(DataError, match="features must be"):
        knn_accuracy(x, y[:5], x, y)


def test_linear_probe_equals_sklearn_pipeline():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = _blobs(150, 6, 4, spread=2.0)
    xt, yt = _blobs(80, 6, 4, seed=0, spread=2.0)
    res = linear_probe(x, y, xt, yt, C=0.5)
    scaler = StandardScaler().fit(x.double().numpy())
    clf = LogisticRegression(C=0.5, max_iter=1000).fit(scaler.transform(x.double().numpy()), y.numpy())
    expected = float(np.mean(clf.predict(scaler.transform(xt.double().numpy())) == yt.numpy()))
    assert res.accuracy == pytest.approx(expected)
    with pytest.raises(DataError, match="single class"):
        linear_probe(x, torch.zeros(150, dtype=torch.long), xt, yt)


def test_class_balanced_subsets_are_balanced_nested_and_seeded():
    y = torch.arange(1000) % 10
    one = class_balanced_indices(y, 0.01, seed=3)
    ten = class_balanced_indices(y, 0.1, seed=3)
    assert torch.bincount(y[one]).tolist() == [1] * 10
    assert torch.bincount(y[ten]).tolist() == [10] * 10
    assert set(one.tolist()) <= set(ten.tolist())  # nested under one seed
    assert torch.equal(one, class_balanced_indices(y, 0.01, seed=3))
    assert not torch.equal(ten, class_balanced_indices(y, 0.1, seed=4))
    assert len(class_balanced_indices(y, 1.0)) == 1000
    y_unlab = torch.cat([y, torch.full((50,), -1)])
    assert (y_unlab[class_balanced_indices(y_unlab, 1.0)] >= 0).all()


def test_parse_fraction():
    assert parse_fraction("1%") == pytest.approx(0.01)
    assert parse_fraction("100%") == 1.0
    assert parse_fraction("0.1") == pytest.approx(0.1)
    for bad in ("0%", "150%", "lots"):
        with pytest.raises(ConfigError, match="labels="):
            parse_fraction(bad)
    with pytest.raises(ConfigError, match="eval.mode"):
        EvalConfig(mode="svm")


def test_extract_features_is_batch_independent_and_restores_mode():
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 4), torch.nn.BatchNorm1d(4))
    enc.train()
    data = ArrayDataset(torch.rand(37, 1, 4, 4), torch.arange(37) % 2)
    f1, y1 = extract_features(enc, data, batch_size=5)
    f2, _ = extract_features(enc, data.x, batch_size=100)
    torch.testing.assert_close(f1, f2)  # eval-mode BN: no dependence on the batch
    assert torch.equal(y1, data.y) and enc.training
    items = [(data.x[i], data.y[i]) for i in range(37)]
    f3, y3 = extract_features(enc, items)
    torch.testing.assert_close(f3, f1)
    assert torch.equal(y3, data.y)


def test_fit_classifier_trains_through_the_trainer(tmp_path):
    x, y = _blobs(256, 8, 4, spread=0.5)
    xt, yt = _blobs(128, 8, 4, seed=0, spread=0.5)
    train, test = ArrayDataset(x, y), ArrayDataset(xt, yt)
    enc = torch.nn.Linear(8, 8)
    cfg = TrainConfig(output_dir=str(tmp_path / "ft"), max_steps=30, batch_size=32, lr=2e-2,
                      save_every=None, progress=False)
    res = fit_classifier(enc, 8, 4, train, test, cfg)
    assert res.accuracy > 0.95 and res.steps == 30
    assert (tmp_path / "ft" / "model.safetensors").is_file()
    assert not torch.equal(res.objective.encoder.weight, enc.weight)  # a copy was fine-tuned
    frozen = fit_classifier(enc, 8, 4, train, test, TrainConfig(
        output_dir=str(tmp_path / "frozen"), max_steps=30, batch_size=32, lr=1e-2, save_every=None,
        progress=False), freeze_encoder=True)
    torch.testing.assert_close(frozen.objective.encoder.weight, enc.weight)
    assert classifier_accuracy(frozen.objective, test) == frozen.accuracy
    with pytest.raises(DataError, match="fewer than one batch"):
        fit_classifier(enc, 8, 4, ArrayDataset(x[:8], y[:8]), test, cfg)


def test_encoder_lr_scale_gives_the_encoder_its_own_rate(tmp_path):
    from reprlab.train import build_optimizer
    from reprlab.transfer.finetune import ClassifierObjective

    obj = ClassifierObjective(torch.nn.Linear(4, 4), 4, 2, encoder_lr=1e-4)
    cfg = TrainConfig(output_dir=str(tmp_path), lr=1e-3)
    opt = build_optimizer(obj.param_groups(cfg.weight_decay), cfg)
    lrs = sorted(g["lr"] for g in opt.param_groups)
    assert lrs == [1e-4, 1e-4, 1e-3, 1e-3]  # encoder weight/bias, head weight/bias
    assert ClassifierObjective(torch.nn.Linear(4, 4), 4, 2).param_groups(0.0) is None
