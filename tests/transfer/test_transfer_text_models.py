"""Text task models: features equal the encoder's hidden states pooled by hand, the scalar mix,
frozen runs leave the encoder bit-identical and encode each text once, layer-wise lr decay in
closed form, the logistic probe equals scikit-learn, fine-tuned exports give HF's logits."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from reprlab.data.task_files import TaskRow
from reprlab.train import TrainConfig
from reprlab.transfer import TextTaskModel, TextTransferConfig, export_hf, fit_text_task, load_text_model
from reprlab.transfer.text_finetune import cached_features, freeze_below, layerwise_lr_groups
from reprlab.transfer.text_inputs import TextWindows, collate
from reprlab.transfer.text_runs import build_examples, load_finetuned, predict_logits
from tests.transfer.text_fixtures import ANIMALS, VEHICLES, tiny_model_dir, toy_rows

TEXTS = ["the dog runs", "a big red truck drives on the road", "fish swims", "the plane flies in the sky and it is fast"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_text_model(tiny_model_dir(tmp_path_factory.mktemp("tiny") / "m"))


def _rows(rows):
    return [TaskRow(f"toy:{i}", text=r["text"], label=r["label"]) for i, r in enumerate(rows)]


def _batch(model, texts, **kw):
    win = TextWindows(model.tokenizer, 64, **kw)
    return collate([win.single(t) for t in texts], model.pad_id)


@pytest.mark.parametrize("pooling,layer", [("cls", "last"), ("mean", "1"), ("max", "0"), ("pooler", "last"),
                                           ("mean", "concat-last-2"), ("mean", "mix")])
def test_window_features_equal_hidden_states_pooled_by_hand(tiny, pooling, layer):
    model = TextTaskModel(tiny.encoder, "seq-cls", 3, pooling=pooling, layer=layer).eval()
    batch = _batch(tiny, TEXTS)
    feats = model.window_features(batch)  # (B, 1, L', H)
    ids, mask = batch["input_ids"][:, 0], batch["attention_mask"][:, 0]
    hidden = tiny.encoder(ids, mask).hidden_states
    layers = {"last": [2], "1": [1], "0": [0], "concat-last-2": [1, 2], "mix": [0, 1, 2]}[layer]
    for b in range(len(TEXTS)):
        n = int(mask[b].sum())
        for j, li in enumerate(layers):
            h = hidden[li][b, :n]  # real tokens only, recomputed by hand
            if pooling == "pooler":
                want = torch.tanh(tiny.encoder.pooler.dense(hidden[2][b, 0]))
            else:
                want = {"cls": h[0], "mean": h.mean(0), "max": h.max(0).values}[pooling]
            torch.testing.assert_close(feats[b, 0, j], want, atol=1e-5, rtol=1e-5)
    if layer == "mix":  # the scalar mix starts uniform: gamma * mean of the layers
        torch.testing.assert_close(model.mix(feats), feats.mean(-2))
        with torch.no_grad():
            model.mix.scalars.copy_(torch.tensor([0.0, 1.0, 2.0]))
            model.mix.gamma.fill_(2.0)
        w = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0)
        torch.testing.assert_close(model.mix(feats), 2.0 * (feats * w[:, None]).sum(-2))


def test_layer_choice_errors(tiny):
    from reprlab.errors import ConfigError

    with pytest.raises(ConfigError, match="hidden states 0..2"):
        TextTaskModel(tiny.encoder, "seq-cls", 2, pooling="mean", layer="5")
    with pytest.raises(ConfigError, match="pooling='pooler' reads the last layer only"):
        TextTaskModel(tiny.encoder, "seq-cls", 2, pooling="pooler", layer="0")


def test_layerwise_lr_decay_closed_form(tiny):
    model = TextTaskModel(copy.deepcopy(tiny.encoder), "seq-cls", 2)
    groups = layerwise_lr_groups(model, 1e-3, 0.5, 0.01)
    by_depth = {g["depth"]: g["lr"] for g in groups}
    assert by_depth == {0: 1e-3 * 0.5 ** 3, 1: 1e-3 * 0.5 ** 2, 2: 1e-3 * 0.5, 3: 1e-3}  # L = 2
    names = {id(p): n for n, p in model.named_parameters()}
    for g in groups:
        for p in g["params"]:
            n = names[id(p)]
            assert (g["depth"] == 0) == n.startswith("encoder.embeddings.")
            assert (g["weight_decay"] == 0.0) == (p.dim() < 2)  # biases and norms not decayed
    assert sum(p.numel() for g in groups for p in g["params"]) == sum(p.numel() for p in model.parameters())
    freeze_below(model, 1)  # only block 2 (and pooler, head) train
    trained = {names[id(p)].split(".")[1] for g in layerwise_lr_groups(model, 1e-3, 0.5, 0.01) for p in g["params"]}
    assert "embeddings" not in trained and {g["depth"] for g in layerwise_lr_groups(model, 1e-3, 0.5, 0.0)} == {2, 3}


def _cfg(**kw):
    train = TrainConfig(batch_size=8, lr=kw.pop("lr", 3e-3), save_every=None, progress=False, log_every=5)
    return TextTransferConfig(train=train, **kw)


def test_features_mode_freezes_the_encoder_and_encodes_each_text_once(tiny, tmp_path, monkeypatch):
    before = {k: v.clone() for k, v in tiny.encoder.state_dict().items()}
    encoded = []
    original = TextTaskModel.window_features

    def counting(self, batch):
        encoded.append(int(batch["window_mask"].sum()))
        return original(self, batch)

    monkeypatch.setattr(TextTaskModel, "window_features", counting)
    train, valid = _rows(toy_rows(40)), _rows(toy_rows(16, seed=1))
    res = fit_text_task(tiny, train, valid, _cfg(mode="features", pooling="mean", epochs=5, patience=None),
                        tmp_path / "f")
    assert res.steps == 25  # 5 epochs of 40 / 8 batches, each on cached features
    assert sum(encoded) == len(train) + len(valid)  # each text encoded once per run, not once per epoch
    for k, v in res.model.encoder.state_dict().items():
        if k in before:
            assert torch.equal(v, before[k]), k  # bit-identical: a frozen run changes no encoder weight
    assert res.metrics["accuracy"] >= 0.5


def test_logistic_probe_equals_scikit_learn(tiny, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = _rows(toy_rows(40))
    res = fit_text_task(tiny, train, None, _cfg(mode="features", probe="logistic", pooling="mean"), tmp_path / "lr")
    ex = build_examples(train, TextWindows(tiny.tokenizer, 64), "seq-cls", res.label_names)
    cache = cached_features(res.model, ex)
    x, y = cache["features"][:, 0, 0].double().numpy(), cache["labels"].numpy()
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(x, y)
    ours = predict_logits(res.model, ex, cache=cache)
    np.testing.assert_allclose((ours[:, 1] - ours[:, 0]).numpy(), ref.decision_function(x), atol=1e-4)
    assert (ours.argmax(1).numpy() == ref.predict(x)).all()


def test_finetune_learns_keeps_best_and_exports_to_hf_with_the_same_logits(tiny, tmp_path):
    transformers = pytest.importorskip("transformers")
    train, valid = _rows(toy_rows(48)), _rows(toy_rows(16, seed=1))
    res = fit_text_task(tiny, train, valid, _cfg(epochs=10, layer_decay=0.8, patience=None), tmp_path / "ft")
    assert res.metrics["accuracy"] >= 0.9
    best = __import__("json").loads((tmp_path / "ft" / "best" / "best.json").read_text())
    assert best["value"] == pytest.approx(res.metrics["accuracy"])  # the kept weights are the best evaluation
    hf_dir = export_hf(tmp_path / "ft", tmp_path / "hf")
    hf = transformers.AutoModelForSequenceClassification.from_pretrained(hf_dir).eval()
    assert hf.config.id2label == {0: "animal", 1: "vehicle"}
    run = load_finetuned(tmp_path / "ft")
    batch = _batch(tiny, TEXTS)
    with torch.no_grad():
        ref = hf(input_ids=batch["input_ids"][:, 0], attention_mask=batch["attention_mask"][:, 0],
                 token_type_ids=batch["token_type_ids"][:, 0]).logits
        ours = run.model(batch)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("task", ["token-cls", "multiple-choice"])
def test_token_and_choice_heads_match_hf(tiny, tmp_path, task):
    transformers = pytest.importorskip("transformers")
    if task == "token-cls":
        rows = [TaskRow(f"t:{i}", tokens=r["text"].split(), label=["O", "O", r["label"], "O", "O", "O"][:len(r["text"].split())]
                        + ["O"] * (len(r["text"].split()) - 6)) for i, r in enumerate(toy_rows(16))]
    else:
        rows = [TaskRow(f"c:{i}", text=r["text"], choices=["animal", "vehicle", "the sky"], label=i % 2)
                for i, r in enumerate(toy_rows(16))]
    fit_text_task(tiny, rows, None, _cfg(task=task, epochs=1), tmp_path / task)
    hf_dir = export_hf(tmp_path / task, tmp_path / f"hf-{task}")
    cls = {"token-cls": transformers.AutoModelForTokenClassification,
           "multiple-choice": transformers.AutoModelForMultipleChoice}[task]
    hf = cls.from_pretrained(hf_dir).eval()
    run = load_finetuned(tmp_path / task)
    ex = build_examples(rows[:4], run.windows(), task, run.label_names)
    batch = collate(ex)
    with torch.no_grad():
        ours = run.model(batch)
        if task == "token-cls":
            ref = hf(input_ids=batch["input_ids"][:, 0], attention_mask=batch["attention_mask"][:, 0]).logits
        else:
            ref = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     token_type_ids=batch["token_type_ids"]).logits
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("task,pooling,head", [("seq-cls", "pooler", "linear"), ("seq-cls", "cls", "mlp"),
                                               ("token-cls", "cls", "linear")])
def test_roberta_runs_export_to_hf_roberta_heads_with_the_same_logits(tmp_path, task, pooling, head):
    transformers = pytest.importorskip("transformers")
    roberta = load_text_model(tiny_model_dir(tmp_path / "rob", roberta=True))
    assert roberta.encoder.config.position_offset == 1 and roberta.encoder.pooler is None
    def tagged(texts):
        return [TaskRow(f"t:{i}", tokens=t.split(), label=["x" if w in ANIMALS + VEHICLES else "O" for w in t.split()])
                for i, t in enumerate(texts)]

    rows = tagged([r["text"] for r in toy_rows(16)]) if task == "token-cls" else _rows(toy_rows(16))
    probe = tagged(TEXTS) if task == "token-cls" else _rows([{"text": t, "label": "animal"} for t in TEXTS])
    fit_text_task(roberta, rows, None, _cfg(task=task, epochs=1, pooling=pooling, head=head), tmp_path / "ft")
    hf_dir = export_hf(tmp_path / "ft", tmp_path / "hf")
    cls = {"seq-cls": transformers.RobertaForSequenceClassification,
           "token-cls": transformers.RobertaForTokenClassification}[task]
    hf = cls.from_pretrained(hf_dir).eval()  # the exact class: a head layout mismatch would not load cleanly
    assert type(hf).__name__ == __import__("json").loads((hf_dir / "config.json").read_text())["architectures"][0]
    run = load_finetuned(tmp_path / "ft")
    batch = collate(build_examples(probe, run.windows(), task, run.label_names))
    assert (batch["attention_mask"][:, 0] == 0).any()  # padded rows: RoBERTa's padding-aware positions matter
    with torch.no_grad():
        ours = run.model(batch)
        ref = hf(input_ids=batch["input_ids"][:, 0], attention_mask=batch["attention_mask"][:, 0]).logits
    if task == "token-cls":  # logits at padding positions mean nothing (HF computes them, ours are the bias)
        real = batch["attention_mask"][:, 0].bool()
        ours, ref = ours[real], ref[real]
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_roberta_export_refuses_a_head_roberta_cannot_hold(tmp_path):
    from reprlab.errors import ConfigError

    roberta = load_text_model(tiny_model_dir(tmp_path / "rob", roberta=True))
    fit_text_task(roberta, _rows(toy_rows(8)), None, _cfg(epochs=1, pooling="mean"), tmp_path / "ft")
    with pytest.raises(ConfigError, match="RoBERTa's classification head"):
        export_hf(tmp_path / "ft", tmp_path / "hf")


def test_tagging_in_chunks_reads_each_piece_from_its_owner_window_and_tags_every_word(tiny, tmp_path):
    from reprlab.transfer.long_text import LongText

    words = [(f"the {a} {n} runs on the road and the {a} {n} swims in the water").split()
             for a, n in zip(("red", "big", "small", "fast"), ANIMALS + VEHICLES)]
    rows = [TaskRow(f"t:{i}", tokens=ws, label=["x" if w in ANIMALS + VEHICLES else "O" for w in ws])
            for i, ws in enumerate(words * 4)]
    cfg = _cfg(task="token-cls", epochs=2, max_length=8, long_text=LongText("chunks", chunk_stride=4))
    fit_text_task(tiny, rows, None, cfg, tmp_path / "ft")
    run = load_finetuned(tmp_path / "ft")
    ex = build_examples(rows[:2], run.windows(), "token-cls", run.label_names)
    assert len(ex[0].ids) > 2  # several windows of 8
    with torch.no_grad():
        logits = run.model(collate(ex))  # (B, pieces, C)
        for b, e in enumerate(ex):
            for p, (j, pos) in enumerate(e.meta["pieces_at"]):  # by hand: the owner window alone
                states = run.model.encoder(torch.tensor([e.ids[j]])).last_hidden_state[0, pos]
                torch.testing.assert_close(logits[b, p], run.model.classifier(states), atol=1e-5, rtol=1e-5)
    from reprlab.transfer.text_runs import evaluate_examples

    every = build_examples(rows, run.windows(), "token-cls", run.label_names)
    assert evaluate_examples(run.model, every, run.label_names)["n"] == sum(len(r.tokens) for r in rows)  # each word once
    from reprlab.transfer import predict_file
    from tests.transfer.text_fixtures import write_jsonl

    src = write_jsonl(tmp_path / "t.jsonl", [{"tokens": ws} for ws in words])
    predict_file(tmp_path / "ft", src, tmp_path / "p.jsonl")
    out = [__import__("json").loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert all(len(o["tags"]) == len(ws) and None not in o["tags"] for o, ws in zip(out, words))


def test_chunk_aggregators_train_end_to_end_and_two_identical_runs_agree(tiny, tmp_path):
    from reprlab.transfer.long_text import LongText

    long_rows = [TaskRow(f"l:{i}", text=" ".join([r["text"]] * 4), label=r["label"]) for i, r in enumerate(toy_rows(16))]
    weights = []
    for run in ("a", "b"):
        cfg = _cfg(epochs=2, max_length=12, long_text=LongText("chunks", aggregate="attention", chunk_stride=6))
        res = fit_text_task(tiny, long_rows, None, cfg, tmp_path / run)
        weights.append(res.model.state_dict())
    assert res.model.aggregator.score is not None
    for k in weights[0]:
        assert torch.equal(weights[0][k], weights[1][k]), k


def test_multiple_choice_with_ragged_choices_never_picks_an_absent_one(tiny):
    win = TextWindows(tiny.tokenizer, 32)
    exs = [win.choices("the dog", ["runs", "flies", "swims"], 0), win.choices("the car", ["drives", "sails"], 1)]
    model = TextTaskModel(tiny.encoder, "multiple-choice", 0).eval()
    with torch.no_grad():
        logits = model(collate(exs))
    assert logits.shape == (2, 3) and logits[1, 2] == float("-inf") and torch.isfinite(logits[0]).all()
    torch.testing.assert_close(logits.softmax(-1)[1, :2].sum(), torch.tensor(1.0))
