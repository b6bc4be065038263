"""Encoder behaviour: masks (padding, boolean/additive, causal), variants, errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.errors import DataError
from reprlab.text import Encoder, EncoderConfig, attention_bias, causal_mask
from reprlab.text.layers import sinusoidal_table


def tiny(**changes) -> Encoder:
    torch.manual_seed(0)
    return Encoder(EncoderConfig.preset("tiny", **changes)).eval()


ENC = tiny()


@settings(max_examples=15, deadline=None)
@given(lengths=st.lists(st.integers(1, 12), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_padded_batch_equals_each_sequence_alone(lengths, seed):
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    ids = torch.randint(1, 1000, (len(lengths), t), generator=g)
    mask = (torch.arange(t)[None] < torch.tensor(lengths)[:, None]).long()
    with torch.no_grad():
        batch = ENC(ids * mask, mask)
        for i, n in enumerate(lengths):
            alone = ENC(ids[i:i + 1, :n])
            for a, b in zip(batch.hidden_states, alone.hidden_states):
                assert torch.allclose(a[i, :n], b[0], atol=1e-5)


def test_bool_and_additive_masks_agree_across_shapes():
    b, t, h = 2, 6, ENC.config.num_heads
    ids = torch.randint(1, 1000, (b, t), generator=torch.Generator().manual_seed(1))
    allowed = torch.rand(t, t, generator=torch.Generator().manual_seed(2)) > 0.4
    allowed |= torch.eye(t, dtype=torch.bool)  # every query sees itself
    additive = torch.zeros(t, t).masked_fill(~allowed, float("-inf"))
    with torch.no_grad():
        ref = ENC(ids, attn_mask=allowed).last_hidden_state
        for mask in (additive, allowed.expand(b, t, t), allowed.expand(b, h, t, t), additive.expand(b, 1, t, t)):
            assert torch.allclose(ENC(ids, attn_mask=mask).last_hidden_state, ref, atol=1e-6)
        explicit = ENC(ids, attn_mask=allowed, output_attentions=True)
    assert torch.allclose(explicit.last_hidden_state, ref, atol=1e-5)
    for probs in explicit.attentions:  # True = may attend: blocked pairs get exactly zero weight
        assert probs.shape == (b, h, t, t)
        assert torch.all(probs[..., ~allowed] == 0)
        assert torch.allclose(probs.sum(-1), torch.ones(b, h, t))


def test_attention_probabilities_follow_the_formula():
    """softmax(Q K^T / sqrt(d) + M) recomputed by hand from the layer's weights."""
    ids = torch.tensor([[5, 6, 7, 8, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0]])
    with torch.no_grad():
        out = ENC(ids, mask, output_attentions=True)
        x = out.hidden_states[0][0]  # (T, H)
        q, k, _ = ENC.layers[0].attention.qkv(x).chunk(3, dim=-1)
        heads, d = ENC.config.num_heads, ENC.config.head_size
        q, k = q.view(5, heads, d).transpose(0, 1), k.view(5, heads, d).transpose(0, 1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)
        scores[..., 4] = -torch.inf
        assert torch.allclose(out.attentions[0][0], scores.softmax(-1), atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(t=st.integers(2, 10), cut=st.integers(1, 9), seed=st.integers(0, 1000))
def test_causal_mask_hides_the_future(t, cut, seed):
    cut = min(cut, t - 1)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 1000, (1, t), generator=g)
    other = ids.clone()
    other[0, cut:] = torch.randint(1, 1000, (t - cut,), generator=g)
    with torch.no_grad():
        a = ENC(ids, attn_mask=causal_mask(t)).last_hidden_state
        b = ENC(other, attn_mask=causal_mask(t)).last_hidden_state
    assert torch.allclose(a[0, :cut], b[0, :cut], atol=1e-6)


def test_padding_and_extra_mask_combine_without_nan():
    ids = torch.tensor([[3, 4, 5, 0], [3, 4, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    nothing = torch.zeros(4, 4, dtype=torch.bool)  # no query may attend anywhere
    with torch.no_grad():
        out = ENC(ids, mask, attn_mask=nothing)
    assert torch.isfinite(out.last_hidden_state).all()
    bias = attention_bias(mask, causal_mask(4), batch=2, heads=4, length=4, dtype=torch.float32)
    assert bias.shape == (2, 1, 4, 4)
    assert bias[1, 0, 3, 1] == 0 and bias[1, 0, 3, 2] == torch.finfo(torch.float32).min
    assert attention_bias(torch.ones(2, 4), None, batch=2, heads=4, length=4, dtype=torch.float32) is None


def test_sinusoidal_positions_closed_form_and_no_parameters():
    table = sinusoidal_table(50, 8)
    p, i = 7, 3
    assert math.isclose(table[p, 2 * i], math.sin(p / 10000 ** (2 * i / 8)), abs_tol=1e-6)
    assert math.isclose(table[p, 2 * i + 1], math.cos(p / 10000 ** (2 * i / 8)), abs_tol=1e-6)
    enc = tiny(positions="sinusoidal")
    assert enc.embeddings.position is None and "embeddings.sinusoid" not in enc.state_dict()
    assert enc.num_parameters() == ENC.num_parameters() - 128 * 64


@pytest.mark.parametrize("sharing,attn_shared,ffn_shared", [
    ("none", False, False), ("all", True, True), ("attention", True, False), ("ffn", False, True)])
def test_sharing_modes_reuse_modules(sharing, attn_shared, ffn_shared):
    enc = tiny(sharing=sharing)
    a, b = enc.layers
    assert (a.attention is b.attention) == attn_shared
    assert (a.ffn is b.ffn) == ffn_shared
    out = enc(torch.tensor([[1, 2, 3]])).last_hidden_state.sum()
    out.backward()  # gradients of a shared layer accumulate from every use
    assert a.attention.qkv.weight.grad is not None


def test_pre_norm_block_formula_and_final_norm():
    enc = tiny(norm="pre", num_layers=1)
    ids = torch.tensor([[4, 9, 2]])
    with torch.no_grad():
        out = enc(ids)
        x = out.hidden_states[0]
        blk = enc.layers[0]
        y = x + blk.attention.attend(blk.attention.norm(x), None, False)[0]
        y = y + blk.ffn.dense_out(blk.ffn.act(blk.ffn.dense_in(blk.ffn.norm(y))))
        assert torch.allclose(out.last_hidden_state, enc.final_norm(y), atol=1e-6)


def test_factorized_embedding_projects_to_hidden():
    enc = tiny(embedding_size=16)
    assert enc.token_embedding.weight.shape == (1000, 16)
    assert enc(torch.tensor([[1, 2]])).hidden_states[0].shape == (1, 2, 64)


def test_dropout_is_seeded_and_off_in_eval():
    enc = tiny()
    ids = torch.tensor([[1, 2, 3, 4]])
    enc.train()
    torch.manual_seed(3)
    a = enc(ids).last_hidden_state
    torch.manual_seed(3)
    b = enc(ids).last_hidden_state
    assert torch.equal(a, b)
    enc.eval()
    assert not torch.allclose(enc(ids).last_hidden_state, a)


def test_sdpa_and_explicit_paths_have_equal_gradients():
    enc = tiny()
    ids = torch.tensor([[1, 2, 3, 4, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0]])
    grads = []
    for explicit in (False, True):
        enc.zero_grad()
        enc(ids, mask, output_attentions=explicit).last_hidden_state[:, :4].sum().backward()
        grads.append(enc.layers[0].attention.qkv.weight.grad.clone())
    assert torch.allclose(*grads, atol=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_ids=torch.ones(1, 129, dtype=torch.long)), r"sequence length 129 exceeds the model's maximum 128"),
    (dict(input_ids=torch.tensor([[1, 1000]])), r"token id 1000 is outside the vocabulary \[0, 1000\)"),
    (dict(input_ids=torch.tensor([[-1, 3]])), r"token id -1 is outside"),
    (dict(input_ids=torch.tensor([1, 2])), r"expected \(batch, seq_len\)"),
    (dict(input_ids=torch.tensor([[1, 2]]), attention_mask=torch.ones(1, 3)), r"attention_mask has shape \(1, 3\)"),
    (dict(input_ids=torch.tensor([[1, 2]]), attn_mask=torch.ones(3, 3, dtype=torch.bool)),
     r"attn_mask has shape \(3, 3\)"),
    (dict(input_ids=torch.tensor([[1, 2]]), attn_mask=torch.ones(2, 2, dtype=torch.long)), r"dtype torch.int64"),
    (dict(input_ids=torch.tensor([[1, 2]]), token_type_ids=torch.tensor([[0, 2]])), r"token_type_ids must lie in"),
])
def test_bad_inputs_raise_clear_errors(kwargs, match):
    with pytest.raises(DataError, match=match):
        ENC(**kwargs)


def test_no_segment_table():
    enc = tiny(type_vocab_size=0)
    assert enc.embeddings.segment is None
    with pytest.raises(DataError, match="type_vocab_size=0"):
        enc(torch.tensor([[1, 2]]), token_type_ids=torch.tensor([[0, 0]]))


def test_packing_round_trip_and_padding_outputs_are_zero():
    from reprlab.text.masks import Packing
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    x = torch.arange(18.0).view(2, 3, 3)
    packing = Packing.from_mask(mask)
    assert packing.pack(x).shape == (3, 3)
    assert torch.equal(packing.unpack(packing.pack(x)), x * mask[..., None])
    assert Packing.from_mask(torch.ones(2, 3)) is None
    with torch.no_grad():
        out = ENC(torch.tensor([[5, 6, 0], [7, 0, 0]]), mask)
    assert all(torch.all(h[mask == 0] == 0) for h in out.hidden_states)


@pytest.mark.parametrize("packed", [False, True])
def test_attention_gradcheck_float64(packed):
    from reprlab.text.layers import SelfAttention
    from reprlab.text.masks import Packing
    torch.manual_seed(0)
    config = EncoderConfig(vocab_size=10, hidden_size=8, num_layers=1, num_heads=2, intermediate_size=8,
                           max_position=8, hidden_dropout=0.0, attention_dropout=0.0)
    attn = SelfAttention(config).double()
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    bias = attention_bias(mask, None, batch=2, heads=2, length=3, dtype=torch.float64)
    packing = Packing.from_mask(mask) if packed else None
    x = torch.randn(5 if packed else 2, *(() if packed else (3,)), 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: attn(x, bias, False, packing)[0], (x,))


def test_shared_and_tied_weights_survive_reprlab_checkpoints(tmp_path):
    """save_module/load_module (the Trainer's format) keep ALBERT sharing and the tied MLM decoder."""
    from reprlab.text import MaskedLMHead
    from reprlab.train.checkpoint import load_module, save_module

    class WithHead(torch.nn.Module):
        def __init__(self, config):
            super().__init__()
            self.encoder = Encoder(config)
            self.head = MaskedLMHead(config, self.encoder.token_embedding)

    config = EncoderConfig.preset("tiny", sharing="all", embedding_size=16)
    torch.manual_seed(0)
    a = WithHead(config)
    save_module(a, tmp_path / "m.safetensors")
    torch.manual_seed(1)
    b = WithHead(config)
    load_module(b, tmp_path / "m.safetensors")
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert b.head.decoder.weight is b.encoder.token_embedding.weight
    assert b.encoder.layers[0].attention is b.encoder.layers[1].attention
