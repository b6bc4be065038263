"""Heads: masked-only MLM logits equal the full projection gathered afterwards; tying; losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.errors import DataError
from reprlab.text import ClassificationHead, Encoder, EncoderConfig, MaskedLMHead, SentencePairHead, pool


def model(**changes):
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig.preset("tiny", **changes)).eval()
    return enc, MaskedLMHead(enc.config, enc.token_embedding)


ENC, HEAD = model()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), rate=st.floats(0.0, 1.0))
def test_masked_only_logits_equal_full_logits_gathered(seed, rate):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(3, 7, 64, generator=g)
    masked = torch.rand(3, 7, generator=g) < rate
    with torch.no_grad():
        full = HEAD(hidden)  # (B, T, V): the reference, projects every position
        part = HEAD(hidden, masked)
    assert full.shape == (3, 7, 1000)
    assert part.shape == (int(masked.sum()), 1000)
    assert torch.allclose(part, full[masked], atol=1e-5)


def test_decoder_is_tied_to_token_embeddings_and_trains_them():
    assert HEAD.decoder.weight is ENC.token_embedding.weight
    params = {id(p) for p in ENC.parameters()} | {id(p) for p in HEAD.parameters()}
    assert len(params) == len(list(ENC.parameters())) + 5  # dense W, b, LN W, b, bias; decoder shared
    ids = torch.tensor([[2, 3, 4, 5]])
    labels = torch.tensor([[-100, 7, -100, 9]])
    ENC.zero_grad()
    HEAD.zero_grad()
    loss, logits = HEAD.loss(ENC(ids).last_hidden_state, labels)
    loss.backward()
    assert logits.shape == (2, 1000)
    assert ENC.token_embedding.weight.grad[7].abs().sum() > 0  # the output side reaches the table


def test_loss_is_cross_entropy_over_labelled_positions():
    hidden = torch.randn(2, 5, 64, generator=torch.Generator().manual_seed(4))
    labels = torch.full((2, 5), -100)
    labels[0, 1], labels[1, 3], labels[1, 4] = 11, 22, 33
    with torch.no_grad():
        loss, _ = HEAD.loss(hidden, labels)
        ref = F.cross_entropy(HEAD(hidden).view(-1, 1000), labels.view(-1), ignore_index=-100)
    assert torch.allclose(loss, ref, atol=1e-6)


def test_albert_head_ties_to_the_e_dim_table():
    enc, head = model(embedding_size=16, sharing="all")
    assert head.dense.weight.shape == (16, 64) and head.decoder.weight is enc.token_embedding.weight
    out = head(enc(torch.tensor([[1, 2, 3]])).last_hidden_state, torch.tensor([[False, True, True]]))
    assert out.shape == (2, 1000)


def test_head_errors():
    with pytest.raises(DataError, match=r"masked_positions has shape \(2, 3\); expected \(1, 3\)"):
        HEAD(torch.zeros(1, 3, 64), torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(DataError, match=r"ties to a \(1000, 16\) table"):
        MaskedLMHead(EncoderConfig.preset("tiny", embedding_size=16), ENC.token_embedding)
    with pytest.raises(DataError, match="num_labels=0"):
        ClassificationHead(64, 0)
    with pytest.raises(DataError, match="how='median'"):
        pool(torch.zeros(1, 2, 3), how="median")


def test_sentence_pair_and_classification_heads():
    out = ENC(torch.tensor([[1, 2, 3], [4, 5, 6]]))
    assert SentencePairHead(64)(out.pooled).shape == (2, 2)
    clf = ClassificationHead(64, 5, hidden_layer=True).eval()
    assert clf(pool(out.last_hidden_state)).shape == (2, 5)
    assert torch.equal(out.pooled, torch.tanh(ENC.pooler.dense(out.last_hidden_state[:, 0])))


def test_mean_pool_ignores_padding():
    hidden = torch.arange(12.0).view(1, 4, 3)
    mean = pool(hidden, torch.tensor([[1, 1, 0, 0]]), how="mean")
    assert torch.equal(mean, hidden[0, :2].mean(0, keepdim=True))
