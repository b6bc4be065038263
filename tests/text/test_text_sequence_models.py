"""Transformer / LSTM / CNN sequence encoders, the lookback-recall task, and the why-attention experiment."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.data.sequences import lookback_recall
from reprlab.errors import ConfigError
from reprlab.text.runs import longest_solved
from reprlab.text.sequence_models import (
    SEQUENCE_KINDS,
    SequenceClassifier,
    SequenceModelConfig,
    body_parameters,
    build_sequence_model,
    sequence_encoder,
)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 50), distances=st.lists(st.integers(1, 40), min_size=1, max_size=5, unique=True),
       symbols=st.integers(2, 10), seed=st.integers(0, 10_000))
def test_lookback_recall_asks_for_the_symbol_d_back(n, distances, symbols, seed):
    data = lookback_recall(n, distances, n_symbols=symbols, seed=seed)
    t = max(distances) + 1
    assert data.ids.shape == (n, t) and data.vocab_size == 1 + symbols + len(distances)
    rows = torch.arange(n)
    assert torch.equal(data.labels, data.ids[rows, t - 1 - data.distance] - 1)
    assert torch.equal(torch.tensor(distances)[data.ids[:, -1] - symbols - 1], data.distance)
    assert int(data.ids[:, :-1].min()) >= 1 and int(data.ids[:, :-1].max()) <= symbols
    assert torch.equal(lookback_recall(n, distances, n_symbols=symbols, seed=seed).ids, data.ids)


def test_bad_task_and_model_settings_are_config_errors():
    with pytest.raises(ConfigError, match=r"distances=\[0, 3\]: need 1 <= d"):
        lookback_recall(10, [0, 3])
    with pytest.raises(ConfigError, match="length - 1 = 4"):
        lookback_recall(10, [8], length=5)
    with pytest.raises(ConfigError, match="kind='gru'"):
        sequence_encoder(SequenceModelConfig("gru"))
    with pytest.raises(ConfigError, match="readout='pool'"):
        SequenceClassifier(sequence_encoder(SequenceModelConfig("cnn")), 3, "pool")


@pytest.mark.parametrize("kind", ["lstm", "cnn"])
def test_causal_models_never_see_the_future(kind):
    torch.manual_seed(0)
    enc = sequence_encoder(SequenceModelConfig(kind, vocab_size=20, width=16, layers=2, kernel=3)).eval()
    ids = torch.randint(1, 20, (2, 12))
    later = ids.clone()
    later[:, 7:] = torch.randint(1, 20, (2, 5))
    with torch.no_grad():
        a, b = enc(ids, torch.ones_like(ids)), enc(later, torch.ones_like(ids))
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6) and not torch.allclose(a[:, 7:], b[:, 7:])


def test_cnn_sees_exactly_its_receptive_field():
    cfg = SequenceModelConfig("cnn", vocab_size=20, width=16, layers=3, kernel=4)
    r = cfg.receptive_field()
    assert r == 1 + 3 * 3
    torch.manual_seed(0)
    enc = sequence_encoder(cfg).eval()
    ids = torch.randint(1, 20, (1, 20))
    last = lambda x: enc(x, torch.ones_like(x))[0, -1]  # noqa: E731
    with torch.no_grad():
        base = last(ids)
        for back in range(1, 20):  # change the token `back` positions before the last
            other = ids.clone()
            other[0, -1 - back] = 1 + other[0, -1 - back] % 19
            changed = not torch.allclose(last(other), base, atol=1e-7)
            assert changed == (back < r), back


@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
def test_models_are_sized_to_one_parameter_budget(kind):
    ref = sequence_encoder(SequenceModelConfig("transformer", vocab_size=30, max_length=65, width=64, layers=2))
    budget = body_parameters(ref) + 64 * 8 + 8
    cfg, enc = build_sequence_model(SequenceModelConfig(kind, vocab_size=30, max_length=65, layers=1 if kind == "lstm"
                                                        else 4 if kind == "cnn" else 2),
                                    parameter_budget=budget, num_classes=8)
    n = body_parameters(enc) + cfg.width * 8 + 8
    assert abs(n - budget) / budget < 0.03, (kind, cfg.width, n, budget)
    assert body_parameters(enc) == sum(p.numel() for p in enc.parameters()) - 30 * 64


def test_readouts_use_real_tokens_only():
    torch.manual_seed(0)
    enc = sequence_encoder(SequenceModelConfig("cnn", vocab_size=10, width=8, layers=1, kernel=2)).eval()
    model = SequenceClassifier(enc, 3, "last").eval()
    ids = torch.tensor([[3, 4, 5, 0, 0], [3, 4, 5, 6, 7]])
    with torch.no_grad():
        h = enc(ids, (ids != 0).long())
        assert torch.allclose(model.logits(ids), model.head(torch.stack([h[0, 2], h[1, 4]])))
        model.readout = "mean"
        assert torch.allclose(model.logits(ids)[0], model.head(h[0, :3].mean(0)), atol=1e-6)
        model.readout = "max"
        assert torch.allclose(model.logits(ids)[0], model.head(h[0, :3].amax(0)), atol=1e-6)


def test_longest_solved_needs_every_shorter_distance():
    assert longest_solved({1: 1.0, 2: 0.95, 4: 0.5, 8: 0.97}, 0.9) == 2  # 8 does not count after 4 failed
    assert longest_solved({1: 0.2, 2: 1.0}, 0.9) == 0
    assert longest_solved({4: 0.99, 1: 0.99, 2: 0.99}, 0.9) == 4


def test_why_attention_quick_setting(tmp_path, monkeypatch, capsys):
    """Same-size Transformer, LSTM and CNN, a few seconds each; the claims come from the numbers the
    run computes: attention solves every distance, the CNN exactly those inside its receptive field
    (and is at chance beyond), and the glosses are learned above the majority class by all three."""
    from reprlab.cli.main import main
    from reprlab.data import labeled_text

    monkeypatch.setattr(labeled_text, "WORDNET_DIR", tmp_path / "absent")  # the bundled 3,200 glosses
    out = tmp_path / "why"
    quick = ["embedding_dim=32", "transformer.width=32", "cnn.layers=2", "cnn.kernel=3", "distances=[1, 2, 4, 8, 16]",
             "n_train=10000", "n_test=2000", "recall_train.max_steps=200", "recall_train.lr=3e-3",
             "recall_train.warmup_steps=10", "text_max_length=24", "text_vocab_size=2000",
             "text_train.max_steps=80", "text_train.lr=3e-3", "text_train.warmup_steps=5"]
    assert main(["experiment", "why-attention", "-o", str(out), "--threads", "1"]
                + [a for kv in quick for a in ("--set", kv)]) == 0
    saved = json.loads((out / "why_attention.json").read_text())
    rows = {r["kind"]: r for r in saved["rows"]}
    acc = {k: {int(d): a for d, a in r["recall_accuracy"].items()} for k, r in rows.items()}
    chance, solved = saved["chance"], saved["solved_accuracy"]
    budget = rows["transformer"]["body_parameters"]
    assert all(abs(r["body_parameters"] - budget) / budget < 0.03 for r in rows.values())
    r_cnn = rows["cnn"]["receptive_field"]
    assert r_cnn == 5
    assert rows["transformer"]["longest_solved"] == 16
    assert rows["cnn"]["longest_solved"] == 4  # every d < 5 solved ...
    assert all(acc["cnn"][d] < chance + 0.1 for d in (8, 16))  # ... and chance beyond: it cannot see them
    assert rows["transformer"]["longest_solved"] > max(rows["lstm"]["longest_solved"], rows["cnn"]["longest_solved"])
    assert all(acc["transformer"][d] >= solved for d in acc["transformer"])
    for r in rows.values():
        assert r["text_accuracy"] > saved["text_majority"] + 0.1, r  # 8 classes, majority ~0.13
        assert r["recall_steps_per_second"] > 0 and r["text_steps_per_second"] > 0
    table = (out / "why_attention.md").read_text()
    assert "| transformer |" in table and "| cnn (sees 5) |" in table
    assert (out / "why_attention.png").stat().st_size > 10_000
    assert "longest solved" in capsys.readouterr().out
