"""Knowledge (phrase/entity), staged and SpanBERT masking: whole groups, the 15% rate, span lengths, eval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.errors import ConfigError, DataError
from reprlab.pretrain.batches import Collator, InstanceDataset, Layout, PretrainBatch
from reprlab.pretrain.evaluate import evaluate_masked_lm
from reprlab.pretrain.instances import InstanceConfig, build_instances
from reprlab.pretrain.knowledge import SPAN_ARRAYS, SpanConfig, prepare_knowledge_shards
from reprlab.pretrain.knowledge_masking import (
    knowledge_groups,
    masking_groups,
    span_groups,
    span_length_probs,
    stage_unit,
)
from reprlab.pretrain.masking import MaskingConfig, mask_tokens
from reprlab.pretrain.runs import PretrainRunConfig, run_pretrain
from reprlab.pretrain.shards import PrepareConfig, ShardSet
from reprlab.train import TrainConfig

MASK, V = 4, 1000


@pytest.fixture(scope="module")
def span_shards(tmp_path_factory, sample_tokenizer) -> Path:
    """The KJV sample with auto-detected spans, 10% of the chapters held out."""
    out = tmp_path_factory.mktemp("spans") / "kjv"
    prepare_knowledge_shards(PrepareConfig(corpus=["kjv-sample"], tokenizer=str(sample_tokenizer), output=str(out),
                                           valid_fraction=0.1, workers=1), SpanConfig(spans="auto", npmi_min_count=3))
    return out


@pytest.fixture(scope="module")
def span_batch(span_shards) -> PretrainBatch:
    """The training split as one batch of ~550 rows of 128."""
    shards = ShardSet(span_shards, "train")
    inst = build_instances(shards, InstanceConfig(packing="full-sentences", max_length=128))
    ds = InstanceDataset(shards, inst, Layout.from_special_ids(shards.special_ids), extra_arrays=tuple(SPAN_ARRAYS))
    return Collator(0)([ds[i] for i in range(len(ds))])


def runs_of(groups: torch.Tensor, special: torch.Tensor) -> list[list[tuple[int, int]]]:
    """Per row, the (start, end) runs of equal group ids between special positions."""
    out = []
    for g, sp in zip(groups.tolist(), special.tolist()):
        row, start = [], None
        for t in range(len(g) + 1):
            if start is not None and (t == len(g) or sp[t] or g[t] != g[start]):
                row.append((start, t))
                start = None
            if t < len(g) and not sp[t] and start is None:
                start = t
        out.append(row)
    return out


def span_runs(batch: PretrainBatch, kinds: set[int]) -> list[list[tuple[int, int]]]:
    """Per row, the phrase/entity spans of the given kinds (from span_start/span_kind)."""
    start, kind, special = batch.extras["span_start"], batch.extras["span_kind"], batch.special_tokens_mask
    out = []
    for s, k, sp in zip(start.tolist(), kind.tolist(), special.tolist()):
        row, t = [], 0
        while t < len(s):
            if sp[t] or k[t] not in kinds:
                t += 1
                continue
            e = t + 1
            while e < len(s) and not sp[e] and k[e] == k[t] and not s[e]:
                e += 1
            row.append((t, e))
            t = e
        out.append(row)
    return out


@pytest.mark.parametrize("unit,kinds", [("phrase", {1}), ("entity", {2}), ("knowledge", {1, 2})])
def test_groups_are_the_chosen_spans_and_words_elsewhere(span_batch, unit, kinds):
    b = span_batch
    rows = slice(0, 64)
    groups = knowledge_groups(b.word_ids[rows], b.special_tokens_mask[rows], b.extras["span_start"][rows],
                              b.extras["span_kind"][rows], unit)
    sub = PretrainBatch(**{**b.__dict__, "extras": {k: v[rows] for k, v in b.extras.items()}})
    for got, spans, words in zip(runs_of(groups, b.special_tokens_mask[rows]), span_runs(sub, kinds),
                                 runs_of(b.word_ids[rows], b.special_tokens_mask[rows])):
        assert set(spans) <= set(got)  # every span of the kind is exactly one group
        inside = {t for s, e in spans for t in range(s, e)}
        assert set(got) - set(spans) == {w for w in words if w[0] not in inside}  # the rest: whole words
    if unit == "knowledge":
        assert sum(len(r) for r in span_runs(sub, kinds)) > 100


@pytest.mark.parametrize("unit", ["knowledge", "span"])
def test_rate_over_a_million_tokens_and_groups_never_split(span_batch, unit):
    b = span_batch
    m = MaskingConfig(unit=unit)
    selected = candidates = 0
    seed = 0
    while candidates < 1_000_000:
        keys = torch.arange(len(b)) + seed * 10_000
        groups = masking_groups(b, m, 0, keys)
        _, labels = mask_tokens(b.input_ids, b.special_tokens_mask, vocab_size=V, mask_token_id=MASK,
                                word_ids=groups, keys=keys, random_ids=torch.arange(5, V))
        sel = labels != -100
        selected += int(sel.sum())
        candidates += int((~b.special_tokens_mask).sum())
        seed += 1
        # never split: every group is all selected or none (vectorized: per-group min == max)
        gid = torch.where(b.special_tokens_mask, 0, groups - groups.min() + 1) + \
            torch.arange(len(b))[:, None] * (b.input_ids.shape[1] * 12)
        flat, s = gid[~b.special_tokens_mask], sel[~b.special_tokens_mask].long()
        n = int(flat.max()) + 1
        lo = torch.full((n,), 2).scatter_reduce(0, flat, s, "amin")
        hi = torch.full((n,), -1).scatter_reduce(0, flat, s, "amax")
        used = hi >= 0
        assert torch.equal(lo[used], hi[used])
    assert abs(selected / candidates - 0.15) < 0.01, selected / candidates


def test_span_lengths_are_spanbert_geometric(span_batch):
    b = span_batch
    probs = span_length_probs(0.2, 10)
    assert float((torch.arange(1, 11) * probs).sum()) == pytest.approx(3.8, abs=0.005)  # SpanBERT: mean 3.8 words
    groups = span_groups(b.word_ids, b.special_tokens_mask, torch.arange(len(b)))
    words_per_group = []
    for grow, wrow, sp in zip(groups.tolist(), b.word_ids.tolist(), b.special_tokens_mask.tolist()):
        seen: dict[int, set[int]] = {}
        for gi, wi, s in zip(grow, wrow, sp):
            if not s:
                seen.setdefault(gi, set()).add(wi)
        words_per_group += [len(v) for v in seen.values()][1:-1]  # the ends of a row are cut short
    counts = np.bincount(words_per_group, minlength=11)[1:]
    assert counts.sum() > 5000 and len(counts) == 10
    np.testing.assert_allclose(counts / counts.sum(), probs.numpy(), atol=0.012)
    # whole words: a word never spans two groups
    w_starts = torch.zeros_like(b.special_tokens_mask)
    w_starts[:, 1:] = b.word_ids[:, 1:] == b.word_ids[:, :-1]
    same_word = w_starts & ~b.special_tokens_mask & ~torch.roll(b.special_tokens_mask, 1, 1)
    assert torch.equal(groups[:, 1:][same_word[:, 1:]], groups[:, :-1][same_word[:, 1:]])


def test_span_replacement_treats_a_group_alike():
    ids = torch.arange(10, 10 + 8 * 64).reshape(8, 64)
    special = torch.zeros(8, 64, dtype=torch.bool)
    words = torch.arange(64).repeat(8, 1) // 4  # words of 4 pieces
    out, labels = mask_tokens(ids, special, vocab_size=V, mask_token_id=MASK, mlm_probability=0.5, word_ids=words,
                              keys=torch.arange(8), unit_replacement=True, random_ids=torch.arange(600, V))
    masked = (out == MASK).reshape(8, 16, 4)
    sel = (labels != -100).reshape(8, 16, 4)
    assert torch.equal(masked.all(-1), masked.any(-1)) and torch.equal(sel.all(-1), sel.any(-1))
    assert 0 < int(masked.all(-1).sum()) < int(sel.all(-1).sum())


def test_stages_and_config_errors():
    m = MaskingConfig(unit="staged", stages=[0.5, 0.25, 0.25], total_steps=100)
    assert [stage_unit(m, s) for s in (0, 49, 50, 74, 75, 99)] == ["word"] * 2 + ["phrase"] * 2 + ["entity"] * 2
    assert stage_unit(MaskingConfig(whole_word=True), 0) == "word"
    for bad, match in ((dict(unit="phrase", whole_word=True), "disagree"), (dict(stages=[0.5, 0.5]), "three"),
                       (dict(unit="spans"), "unit"), (dict(span_p=0.0), "span_p")):
        with pytest.raises(ConfigError, match=match):
            MaskingConfig(**bad).validate()


def test_phrase_masking_without_spans_is_a_data_error(train_shards):
    inst = build_instances(train_shards, InstanceConfig(packing="full-sentences", max_length=64))
    batch = Collator(0)([InstanceDataset(train_shards, inst, Layout.from_special_ids(train_shards.special_ids))[0]])
    with pytest.raises(DataError, match="--spans auto"):
        masking_groups(batch, MaskingConfig(unit="entity"), 0, None)


def test_span_accuracy_counts_only_span_pieces():
    labels = torch.tensor([[-100, 5, 6, 7, 8, 9, -100]])
    kind = torch.tensor([[0, 0, 1, 1, 2, 2, 0]])
    batch = PretrainBatch(input_ids=labels.clamp_min(0), attention_mask=torch.ones_like(labels),
                          token_type_ids=torch.zeros_like(labels), special_tokens_mask=labels < 0,
                          word_ids=torch.arange(7)[None], keys=torch.zeros(1, dtype=torch.long),
                          sentence_labels=torch.tensor([-100]), extras={"span_kind": kind})
    guess = torch.tensor([5, 6, 0, 8, 0])  # right on the word, 1 of 2 phrase, 1 of 2 entity pieces

    def predict(b, ids, positions):
        return torch.nn.functional.one_hot(guess, 10).float() * 10, None

    out = evaluate_masked_lm(predict, [(batch, batch.input_ids, labels)])
    assert out["mlm_acc"] == pytest.approx(3 / 5)
    assert (out["phrase_acc"], out["entity_acc"], out["span_acc"]) == (0.5, 0.5, 0.5)
    assert (out["phrase_tokens"], out["entity_tokens"], out["span_tokens"]) == (2, 2, 4)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(4, 40), st.integers(0, 2**31), st.sampled_from(["phrase", "entity", "knowledge"]))
def test_random_spans_never_split(b, t, seed, unit):
    rng = np.random.default_rng(seed)
    special = torch.from_numpy(rng.random((b, t)) < 0.1)
    word_start = rng.random((b, t)) < 0.6
    word_ids = torch.from_numpy(np.cumsum(word_start, 1))
    span_start = torch.from_numpy((rng.random((b, t)) < 0.3) & word_start).long()
    kind = torch.from_numpy(rng.integers(0, 3, (b, t)))
    # span_kind is constant within a span (from a span_start to the next one)
    for r in range(b):
        for i in range(1, t):
            if not span_start[r, i] and not special[r, i]:
                kind[r, i] = kind[r, i - 1]
    groups = knowledge_groups(word_ids, special, span_start, kind, unit)
    _, labels = mask_tokens(torch.full((b, t), 7), special, vocab_size=V, mask_token_id=MASK, mlm_probability=0.4,
                            word_ids=groups, keys=torch.arange(b) + seed)
    sel = (labels != -100).tolist()
    for r, row in enumerate(runs_of(groups, special)):
        for s, e in row:
            assert len(set(sel[r][s:e])) == 1


def test_staged_run_reports_span_accuracies(tmp_path, span_shards, small_shards, monkeypatch):
    import reprlab.pretrain.objectives as objectives

    seen = []
    real = objectives.masking_groups

    def spy(batch, masking, step, keys):
        if masking.unit == "staged":  # training (evaluation masks pieces, then whole spans)
            seen.append(stage_unit(masking, step))
        return real(batch, masking, step, keys)

    monkeypatch.setattr(objectives, "masking_groups", spy)
    cfg = PretrainRunConfig(shards=str(span_shards), model="tiny", instances=InstanceConfig(max_length=32),
                            masking=MaskingConfig(unit="staged", stages=[0.5, 0.25, 0.25]),
                            train=TrainConfig(output_dir=str(tmp_path / "run"), max_steps=8, batch_size=8,
                                              warmup_steps=2, progress=False, save_every=None, eval_every=None))
    result = run_pretrain(cfg)
    ev = result.evaluation
    assert 0.0 <= result.last_logs["span_acc"] <= 1.0  # logged every step (and in metrics.jsonl's evaluations)
    assert seen == ["word"] * 4 + ["phrase"] * 2 + ["entity"] * 2
    assert ev["span_tokens"] > 0 and ev["knowledge_span_tokens"] > 0
    assert 0.0 <= ev["knowledge_entity_acc"] <= 1.0
    cfg.shards, cfg.masking = str(small_shards), MaskingConfig(unit="phrase")
    with pytest.raises(DataError, match="needs phrase/entity spans"):
        run_pretrain(cfg)
