"""XLNet permutation masks and two-stream attention: hand-derived masks, a brute-force definition,
HF's perm_mask convention checked on HF XLNet itself, and one pass against an explicit loop."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.errors import ConfigError, DataError
from reprlab.pretrain.permutation import (
    from_hf_masks,
    permutation_masks,
    sample_orders,
    to_hf_masks,
)
from reprlab.text import Encoder, EncoderConfig
from reprlab.text.two_stream import TwoStreamEncoder

SEED_ORDER = torch.tensor([2, 1, 3, 0])  # [x3, x2, x4, x1] of the seed, 0-based positions


def test_seed_order_masks_equal_the_hand_derived_matrices():
    m = permutation_masks(SEED_ORDER)
    # row = query position (x1..x4), column = key position; x3 is first, x1 last
    assert m.content.int().tolist() == [[1, 1, 1, 1],   # x1 sees everything
                                        [0, 1, 1, 0],   # x2 sees x3 and itself
                                        [0, 0, 1, 0],   # x3 sees itself only
                                        [0, 1, 1, 1]]   # x4 sees x3, x2, itself
    assert m.query.int().tolist() == [[0, 1, 1, 1],
                                      [0, 0, 1, 0],
                                      [0, 0, 0, 0],     # x3 is predicted from nothing
                                      [0, 1, 1, 0]]
    assert m.targets.all()


def test_seed_order_partial_prediction_masks():
    """num_predict=2: x3, x2 are context (see each other, no target); x4 then x1 are predicted."""
    m = permutation_masks(SEED_ORDER, num_predict=2)
    assert m.targets.tolist() == [True, False, False, True]
    assert m.content.int().tolist() == [[1, 1, 1, 1], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 1]]
    assert m.query.int().tolist() == [[0, 1, 1, 1], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0]]


def brute_force(order: list[int], num_predict: int | None):
    """The definition, one pair at a time: rank r(j) = index of j in the order; context ranks < c."""
    t = len(order)
    rank = {pos: r for r, pos in enumerate(order)}
    c = 0 if num_predict is None else t - num_predict
    content = [[False] * t for _ in range(t)]
    query = [[False] * t for _ in range(t)]
    for i in range(t):
        for j in range(t):
            if rank[i] < c:  # a context token: sees the whole context, in both streams
                content[i][j] = query[i][j] = rank[j] < c
            else:  # a target: the context, and targets up to (content) / before (query) itself
                content[i][j] = rank[j] < c or rank[j] <= rank[i]
                query[i][j] = rank[j] < c or rank[j] < rank[i]
    return content, query, [rank[i] >= c for i in range(t)]


@st.composite
def orders(draw):
    t = draw(st.integers(1, 10))
    order = draw(st.permutations(list(range(t))))
    k = draw(st.one_of(st.none(), st.integers(1, max(1, t - 1)))) if t > 1 else None
    return order, k


@settings(max_examples=80, deadline=None)
@given(orders())
def test_masks_follow_the_order_exactly(case):
    order, k = case
    m = permutation_masks(torch.tensor(order), k)
    content, query, targets = brute_force(order, k)
    assert m.content.tolist() == content and m.query.tolist() == query and m.targets.tolist() == targets
    t = len(order)
    eye = torch.eye(t, dtype=torch.bool)
    assert not (m.query & eye)[m.targets].any()  # a target never sees its own content in the query stream
    assert torch.equal(m.content, m.query | eye)
    # the targets' visible sets grow along the order by exactly one token per step
    tgt = [p for p in order if m.targets[p]]
    sizes = [int(m.query[p].sum()) for p in tgt]
    assert sizes == list(range(sizes[0], sizes[0] + len(tgt)))
    for a, b in zip(tgt, tgt[1:]):
        assert torch.equal(m.query[b], m.query[a] | (torch.arange(t) == a))
    # HF round trip
    perm, mapping = to_hf_masks(m)
    assert perm.shape == (1, t, t) and mapping.shape == (1, int(m.targets.sum()), t)
    back = from_hf_masks(perm, mapping)
    for x, y in zip(back, m):
        assert torch.equal(x[0], y)


def test_batched_orders_are_permutations_and_masks_stack():
    g = torch.Generator().manual_seed(0)
    orders_ = sample_orders(5, 7, generator=g)
    assert torch.equal(orders_.sort(-1).values, torch.arange(7).expand(5, 7))
    batch = permutation_masks(orders_, num_predict=2)
    for b in range(5):
        alone = permutation_masks(orders_[b], num_predict=2)
        assert all(torch.equal(x[b], y) for x, y in zip(batch, alone))
    assert torch.equal(batch.targets.sum(-1), torch.full((5,), 2))
    counts = torch.tensor([1, 2, 3, 4, 6])  # one count per row
    ragged = permutation_masks(orders_, num_predict=counts)
    for b in range(5):
        alone = permutation_masks(orders_[b], num_predict=int(counts[b]))
        assert all(torch.equal(x[b], y) for x, y in zip(ragged, alone))
    with pytest.raises(ConfigError, match="one count"):
        permutation_masks(orders_, num_predict=torch.tensor([1, 2, 3, 4, 7]))


@pytest.mark.parametrize("order, match", [
    (torch.tensor([0, 0, 1]), "not a permutation"), (torch.tensor([0, 1, 3]), "not a permutation"),
    (torch.tensor([[0, 1], [1, 1]]), "row 1"), (torch.tensor([0.0, 1.0]), "dtype"),
    (torch.zeros(0, dtype=torch.long), "shape")])
def test_bad_orders_name_the_problem(order, match):
    with pytest.raises(DataError, match=match):
        permutation_masks(order)


@pytest.mark.parametrize("k", [0, 4, 5, -1, 2.5])
def test_num_predict_must_leave_context(k):
    with pytest.raises(ConfigError, match="num_predict"):
        permutation_masks(SEED_ORDER, num_predict=k)


def test_hf_masks_need_equal_target_counts():
    m = permutation_masks(torch.tensor([[0, 1, 2], [2, 1, 0]]), num_predict=1)
    mixed = m._replace(targets=torch.tensor([[True, True, False], [False, False, True]]))
    with pytest.raises(DataError, match="same num_predict"):
        to_hf_masks(mixed)


# ------------------------------------------------------------------------------------ two-stream
def tiny_encoder(norm: str = "post") -> Encoder:
    torch.manual_seed(0)
    cfg = EncoderConfig.preset("tiny", norm=norm, hidden_dropout=0.0, attention_dropout=0.0, initializer_range=0.3,
                               pooler=False)
    return Encoder(cfg).eval()


def attention_by_hand(attn, q_in: torch.Tensor, kv_in: torch.Tensor) -> torch.Tensor:
    """softmax(q K^T / sqrt(d)) V over an explicit list of keys, head by head; zero for no keys."""
    h = q_in.shape[-1]
    w, b = attn.qkv.weight, attn.qkv.bias
    q = q_in @ w[:h].T + b[:h]
    if kv_in.shape[0] == 0:
        return attn.out(torch.zeros(h))
    k = kv_in @ w[h:2 * h].T + b[h:2 * h]
    v = kv_in @ w[2 * h:].T + b[2 * h:]
    a, d = attn.num_heads, attn.head_size
    heads = []
    for i in range(a):
        s = slice(i * d, (i + 1) * d)
        p = (k[:, s] @ q[s] / math.sqrt(d)).softmax(0)
        heads.append(p @ v[:, s])
    return attn.out(torch.cat(heads))


def query_stream_by_hand(model: TwoStreamEncoder, ids: torch.Tensor, order: list[int]) -> torch.Tensor:
    """Predict the targets one at a time in the order, with the content stream run causally over the
    permuted sequence and the query of z_t attending to h_{z_<t} in an explicit loop per layer."""
    enc = model.encoder
    t = len(order)
    perm = torch.tensor(order)
    # content stream: a causal pass over x_{z_1..z_T} at their original positions, layer by layer
    causal = Encoder(enc.config.replace(causal=True)).eval()
    causal.load_state_dict(enc.state_dict())
    # hidden_states[m] (m < L) is the input of layer m, in order positions: (1, T, H)
    states = causal(ids[:, perm], position_ids=perm[None]).hidden_states
    out = torch.zeros(t, enc.config.hidden_size)
    for step, target in enumerate(order):
        g = enc.embeddings.combine(model.query_vector[None, None], None, torch.tensor([[target]]))[0, 0]
        for m, block in enumerate(enc.layers):
            h_prev = states[m][0, :step]  # h^(m-1) of z_<t, (step, H)
            att = block.attention
            if att.pre_norm:
                g = g + attention_by_hand(att, att.norm(g), att.norm(h_prev))
            else:
                g = att.norm(g + attention_by_hand(att, g, h_prev))
            g = block.ffn(g)
        out[target] = enc.final_norm(g) if enc.final_norm is not None else g
    return out


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_two_stream_one_pass_equals_explicit_loop(norm):
    torch.manual_seed(1)
    model = TwoStreamEncoder(tiny_encoder(norm)).eval()
    ids = torch.randint(5, 1000, (1, 7))
    order = torch.randperm(7).tolist()
    m = permutation_masks(torch.tensor(order))
    with torch.no_grad():
        one_pass = model(ids, m.content, m.query)
        loop = query_stream_by_hand(model, ids, order)
        # the content stream is the causal pass over the permuted sequence
        causal = Encoder(model.encoder.config.replace(causal=True)).eval()
        causal.load_state_dict(model.encoder.state_dict())
        perm = torch.tensor(order)
        content = causal(ids[:, perm], position_ids=perm[None]).last_hidden_state[0]
    assert torch.allclose(one_pass.query[0], loop, atol=1e-5)
    assert torch.allclose(one_pass.content[0, perm], content, atol=1e-5)


def dependence(run, ids: torch.Tensor, vocab: int) -> torch.Tensor:
    """dep[i, j]: output row i changes when the token at position j is replaced."""
    with torch.no_grad():
        base = run(ids)
        t = ids.shape[1]
        dep = torch.zeros(base.shape[0], t, dtype=torch.bool)
        for j in range(t):
            changed = ids.clone()
            changed[0, j] = (changed[0, j] + 7) % vocab
            dep[:, j] = (run(changed) - base).abs().amax(-1) > 1e-6
    return dep


def test_two_stream_query_depends_on_exactly_the_visible_tokens():
    torch.manual_seed(2)
    model = TwoStreamEncoder(tiny_encoder()).eval()
    order = torch.tensor([4, 1, 5, 0, 2, 3])
    m = permutation_masks(order, num_predict=3)
    ids = torch.randint(5, 1000, (1, 6))
    dep = dependence(lambda x: model(x, m.content, m.query).query[0], ids, 1000)
    assert torch.equal(dep[m.targets], m.query[m.targets])


def test_masks_of_an_order_of_another_length_are_refused():
    model = TwoStreamEncoder(tiny_encoder()).eval()
    m = permutation_masks(torch.tensor([2, 0, 1]))
    with pytest.raises(DataError, match=r"content_mask has shape \(3, 3\) but input_ids is 1 x 4"):
        model(torch.tensor([[5, 6, 7, 8]]), m.content, m.query)
    four = permutation_masks(torch.tensor([2, 0, 1, 3]))
    with pytest.raises(DataError, match="query_mask"):
        model(torch.tensor([[5, 6, 7, 8]]), four.content, m.query)


def test_hf_xlnet_reads_our_masks_the_same_way():
    """HF XLNetLMHeadModel given to_hf_masks(...): each target's logits depend on exactly the
    positions our query mask lets it see (HF's perm_mask means the opposite of ours)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(3)
    cfg = transformers.XLNetConfig(vocab_size=50, d_model=32, n_layer=2, n_head=2, d_inner=64, dropout=0.0,
                                   mem_len=None)
    hf = transformers.XLNetLMHeadModel(cfg).eval()
    order = torch.tensor([[4, 1, 5, 0, 2, 3]])
    m = permutation_masks(order, num_predict=3)
    perm_mask, mapping = to_hf_masks(m)
    ids = torch.randint(0, 50, (1, 6))
    dep = dependence(lambda x: hf(x, perm_mask=perm_mask, target_mapping=mapping).logits[0], ids, 50)
    targets = m.targets[0].nonzero().squeeze(1)  # target_mapping lists them in position order
    assert torch.equal(dep, m.query[0, targets])
    # and the content stream (no target_mapping): position i depends on exactly content[i]
    dep_h = dependence(lambda x: hf.transformer(x, perm_mask=perm_mask).last_hidden_state[0], ids, 50)
    assert torch.equal(dep_h, m.content[0])
