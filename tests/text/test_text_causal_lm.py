"""Causal LM: causality, KV-cache generation equals recomputation, sampling filters, GPT-2 parity, bad input."""

from __future__ import annotations

import pytest
import torch

from reprlab.errors import ConfigError, DataError
from reprlab.text import Encoder, EncoderConfig, parameter_count
from reprlab.text.causal_lm import CausalLM, gpt_config
from reprlab.text.generation import generate, next_token, stream
from reprlab.text.kv_cache import KVCache


def model(**changes) -> CausalLM:
    torch.manual_seed(0)  # a large init makes the random model's predictions vary from step to step
    cfg = gpt_config("tiny", hidden_dropout=0.0, attention_dropout=0.0, initializer_range=0.3, **changes)
    return CausalLM(cfg).eval()


LM = model()
PROMPTS = [[5, 6, 7, 8, 9, 10, 11], [12], [13, 14, 15]]


def test_loss_at_a_position_never_depends_on_later_tokens():
    ids = torch.randint(0, 1000, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        base = LM(ids)
        for t in range(11):
            changed = ids.clone()
            changed[:, t + 1:] = torch.randint(0, 1000, (2, 11 - t), generator=torch.Generator().manual_seed(t))
            out = LM(changed)
            assert torch.equal(out[:, :t + 1], base[:, :t + 1]) or torch.allclose(out[:, :t + 1], base[:, :t + 1],
                                                                                   atol=1e-6)
            assert not torch.allclose(out[:, t + 1:], base[:, t + 1:], atol=1e-3)  # later ones do change


def test_loss_is_the_mean_next_token_cross_entropy():
    ids = torch.randint(0, 1000, (2, 6), generator=torch.Generator().manual_seed(1))
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    loss, count = LM.loss(ids, mask)
    with torch.no_grad():
        logp = LM(ids).log_softmax(-1)
    terms = [-logp[b, t, ids[b, t + 1]] for b in range(2) for t in range(5) if mask[b, t + 1]]
    assert int(count) == len(terms) == 8
    assert torch.allclose(loss, torch.stack(terms).mean(), atol=1e-5)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_cached_steps_give_the_logits_of_full_recomputation(norm):
    lm = model(norm=norm)
    ids = torch.randint(0, 1000, (3, 10), generator=torch.Generator().manual_seed(2))
    cache = KVCache.for_model(lm.config, 3, 10)
    pointers = [k.data_ptr() for k in cache.keys]
    with torch.no_grad():
        full = lm(ids)
        steps = [lm(ids[:, :4], cache=cache)]  # a 4-token prefill, then one token at a time
        steps += [lm(ids[:, t:t + 1], cache=cache) for t in range(4, 10)]
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)
    assert cache.length == 10 and [k.data_ptr() for k in cache.keys] == pointers  # written in place


def test_greedy_generation_with_cache_equals_recomputation_for_ragged_batches():
    cached = generate(LM, PROMPTS, 24, temperature=0)
    full = generate(LM, PROMPTS, 24, temperature=0, use_cache=False)
    assert torch.equal(cached.tokens, full.tokens)
    assert len(set(cached.tokens[0].tolist())) > 3  # not a degenerate repeat of one token
    for r, prompt in enumerate(PROMPTS):  # left padding: a row's tokens do not depend on the others
        assert torch.equal(generate(LM, [prompt], 24, temperature=0).tokens[0], cached.tokens[r])


def test_sampling_with_the_same_generator_gives_the_same_tokens_with_and_without_cache():
    kw = dict(temperature=0.9, top_k=40, top_p=0.95)
    a = generate(LM, PROMPTS, 20, generator=torch.Generator().manual_seed(5), **kw)
    b = generate(LM, PROMPTS, 20, generator=torch.Generator().manual_seed(5), use_cache=False, **kw)
    c = generate(LM, PROMPTS, 20, generator=torch.Generator().manual_seed(6), **kw)
    assert torch.equal(a.tokens, b.tokens) and not torch.equal(a.tokens, c.tokens)


def test_eos_ends_rows_and_pads_them():
    first = generate(LM, PROMPTS, 10, temperature=0).tokens
    eos = int(first[1, 2])  # row 1 produces this token at step 3
    out = generate(LM, PROMPTS, 10, temperature=0, eos_id=eos, pad_id=0)
    assert out.lengths[1] == 3 and out.as_lists()[1] == first[1, :3].tolist()
    assert (out.tokens[1, 3:] == 0).all()
    steps = list(stream(LM, [PROMPTS[1]], 10, temperature=0, eos_id=eos))
    assert len(steps) == 3 and bool(steps[-1][1].all())  # the stream stops once every row is done


def test_top_k_and_top_p_keep_exactly_the_documented_tokens():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log().expand(4000, 4)
    g = torch.Generator().manual_seed(0)
    nucleus = next_token(logits, top_p=0.7, generator=g)  # cumulative before each token: 0, .5, .8, .95
    assert set(nucleus.tolist()) == {0, 1}
    assert abs(float((nucleus == 0).float().mean()) - 0.5 / 0.8) < 0.03
    top2 = next_token(logits, top_k=2, generator=g)
    assert set(top2.tolist()) == {0, 1}
    assert torch.equal(next_token(logits, top_k=1, generator=g), torch.zeros(4000, dtype=torch.long))
    assert torch.equal(next_token(logits, temperature=0), torch.zeros(4000, dtype=torch.long))
    cold = next_token(logits, temperature=0.05, generator=g)  # p ∝ p^20: token 0 almost always
    assert float((cold == 0).float().mean()) > 0.99


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(top_p=0.0), ConfigError, "top_p"), (dict(top_p=1.5), ConfigError, "top_p"),
    (dict(top_k=0), ConfigError, "top_k"), (dict(temperature=-1.0), ConfigError, "temperature"),
    (dict(max_new_tokens=0), ConfigError, "max_new_tokens"),
    (dict(max_new_tokens=125), ConfigError, "lower max_new_tokens"),
    (dict(prompt=[[1] * 130]), ConfigError, "the prompt alone"),
    (dict(prompt=[[3], []]), DataError, "prompt 1 is empty"),
    (dict(prompt=[[3, 1000]]), DataError, "outside the vocabulary")])
def test_bad_generation_input_is_one_clear_error(kwargs, error, match):
    prompt = kwargs.pop("prompt", [[1, 2, 3, 4]])
    n = kwargs.pop("max_new_tokens", 5)
    with pytest.raises(error, match=match):
        generate(LM, prompt, n, **kwargs)


def test_prompt_forms_agree():
    ref = generate(LM, [[5, 6, 7]], 4, temperature=0).tokens
    for form in ([5, 6, 7], torch.tensor([5, 6, 7]), torch.tensor([[5, 6, 7]]), [torch.tensor([5, 6, 7])]):
        assert torch.equal(generate(LM, form, 4, temperature=0).tokens, ref)


def test_empty_prompt_starts_from_bos():
    assert torch.equal(generate(LM, [[]], 5, temperature=0, bos_id=3).tokens,
                       generate(LM, [[3]], 5, temperature=0).tokens)


def test_cache_needs_a_causal_model_and_causal_lm_needs_a_causal_config():
    enc = Encoder(EncoderConfig.preset("tiny"))
    with pytest.raises(ConfigError, match="causal"):
        enc(torch.tensor([[1, 2]]), cache=KVCache.for_model(enc.config, 1, 4))
    with pytest.raises(ConfigError, match="causal=false"):
        CausalLM(EncoderConfig.preset("tiny"))
    with pytest.raises(ConfigError, match="KVCache"):
        LM(torch.tensor([[1, 2, 3]]), cache=KVCache.for_model(LM.config, 1, 2))


def test_parameter_count_without_embedding_norm():
    cfg = gpt_config("tiny")
    assert parameter_count(cfg).total == sum(p.numel() for p in CausalLM(cfg).parameters())


def test_gpt2_export_matches_hf_logits_and_greedy_tokens(tmp_path):
    transformers = pytest.importorskip("transformers")
    LM.to_hf(tmp_path / "gpt2")
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "gpt2").eval()
    ids = torch.randint(0, 1000, (2, 9), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(hf(ids).logits, LM(ids), atol=1e-4)
        theirs = hf.generate(torch.tensor([PROMPTS[0]]), max_new_tokens=16, do_sample=False,
                             pad_token_id=0)[0, len(PROMPTS[0]):]
    assert torch.equal(theirs, generate(LM, [PROMPTS[0]], 16, temperature=0).tokens[0])
    back = CausalLM.from_hf(tmp_path / "gpt2")
    with torch.no_grad():
        assert torch.equal(back(ids), LM(ids))


def test_ragged_batches_are_left_padded_with_the_models_pad_id_exactly_as_hf_generate(tmp_path):
    transformers = pytest.importorskip("transformers")
    pad = 3
    lm = model(pad_token_id=pad)
    eos = int(generate(lm, [PROMPTS[1]], 4, temperature=0).tokens[0, 2])  # row 1 ends at its 3rd new token
    lm.to_hf(tmp_path / "gpt2", eos_id=eos)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "gpt2").eval()
    assert hf.generation_config.pad_token_id == pad
    longest = max(map(len, PROMPTS))
    ids = torch.tensor([[pad] * (longest - len(p)) + p for p in PROMPTS])  # HF's input: left padding, pad id
    attention = (ids != pad).long()
    with torch.no_grad():
        theirs = hf.generate(ids, attention_mask=attention, max_new_tokens=12, do_sample=False)[:, longest:]
    ours = generate(lm, PROMPTS, 12, temperature=0, eos_id=eos)  # pad id from the model's config
    assert torch.equal(ours.tokens[:, :theirs.shape[1]], theirs)
    assert ours.lengths[1] == 3 and (ours.tokens[1, 3:] == pad).all()  # finished rows: the pad id, as HF
    with pytest.raises(ConfigError, match="pad_id=1000"):
        generate(lm, PROMPTS, 2, pad_id=1000)


def test_gpt2_without_a_pad_token_pads_with_its_end_of_text_token(tmp_path):
    import json

    LM.to_hf(tmp_path / "gpt2", eos_id=7)
    config = json.loads((tmp_path / "gpt2" / "config.json").read_text())
    (tmp_path / "gpt2" / "config.json").write_text(json.dumps({**config, "pad_token_id": None}))  # as OpenAI's GPT-2
    assert CausalLM.from_hf(tmp_path / "gpt2").config.pad_token_id == 7


def test_gpt2_export_refuses_configs_gpt2_cannot_hold(tmp_path):
    with pytest.raises(ConfigError, match="positions"):
        CausalLM(gpt_config("tiny", positions="sinusoidal")).to_hf(tmp_path / "x")
    with pytest.raises(ConfigError, match="causal"):
        Encoder(gpt_config("tiny")).to_hf(tmp_path / "y")  # not as BERT either
