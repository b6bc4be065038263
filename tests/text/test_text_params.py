"""parameter_count: formula == Encoder's numel == HF transformers, for presets and random configs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.text import PRESETS, Encoder, EncoderConfig, parameter_count


def numel(config: EncoderConfig) -> int:
    with torch.device("meta"):  # no memory, no init: just shapes
        return Encoder(config).num_parameters()


def test_bert_base_total_and_terms():
    count = parameter_count(EncoderConfig.preset("bert-base"))
    assert count.total == 109_482_240
    d = count.as_dict()
    # embeddings: V*H + S*H + P*H + 2H
    assert d["token embeddings"] + d["segment embeddings"] + d["position embeddings"] + d["embedding LayerNorm"] \
        == 30522 * 768 + 2 * 768 + 512 * 768 + 2 * 768 == 23_837_184
    per_layer = 4 * (768 * 768 + 768) + 2 * 768 + (768 * 3072 + 3072) + (3072 * 768 + 768) + 2 * 768
    assert per_layer == 7_087_872
    assert sum(v for k, v in d.items() if k.startswith("layer ")) == 12 * per_layer
    assert d["pooler"] == 768 * 768 + 768
    assert "total" in count.table() and "109,482,240" in count.table()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_formula_equals_numel(name):
    config = EncoderConfig.preset(name)
    assert parameter_count(config).total == numel(config)


@settings(max_examples=40, deadline=None)
@given(layers=st.integers(1, 4), heads=st.integers(1, 4), head_size=st.sampled_from([2, 4, 8]),
       ffn=st.integers(1, 40), vocab=st.integers(2, 60), emb=st.one_of(st.none(), st.integers(1, 8)),
       segments=st.integers(0, 3), positions=st.sampled_from(["learned", "sinusoidal"]),
       sharing=st.sampled_from(["none", "all", "attention", "ffn"]), norm=st.sampled_from(["post", "pre"]),
       pooler=st.booleans())
def test_random_configs_formula_equals_numel(layers, heads, head_size, ffn, vocab, emb, segments, positions,
                                             sharing, norm, pooler):
    hidden = heads * head_size
    if emb is not None:
        emb = min(emb * 2, hidden)  # even (sinusoidal) and <= H
    config = EncoderConfig(vocab_size=vocab, hidden_size=hidden, num_layers=layers, num_heads=heads,
                           intermediate_size=ffn, max_position=16, type_vocab_size=segments, embedding_size=emb,
                           positions=positions, sharing=sharing, norm=norm, pooler=pooler)
    assert parameter_count(config).total == numel(config)


def test_sharing_counts_one_copy():
    base = parameter_count(EncoderConfig.preset("bert-base"))
    shared = parameter_count(EncoderConfig.preset("bert-base", sharing="all"))
    per_layer = 7_087_872
    assert base.total - shared.total == 11 * per_layer


@pytest.mark.parametrize("name,hf_class,hf_kwargs", [
    ("bert-base", "BertModel", {}),
    ("bert-large", "BertModel", dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                     intermediate_size=4096)),
    ("roberta-base", "RobertaModel", dict(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
                                          pad_token_id=1)),
    ("albert-base", "AlbertModel", dict(hidden_size=768, num_attention_heads=12, intermediate_size=3072)),
    ("albert-large", "AlbertModel", dict(hidden_size=1024, num_attention_heads=16, intermediate_size=4096,
                                         num_hidden_layers=24)),
])
def test_presets_match_hf_parameter_counts(name, hf_class, hf_kwargs):
    transformers = pytest.importorskip("transformers")
    cls = getattr(transformers, hf_class)
    with torch.device("meta"):
        hf = cls(cls.config_class(**hf_kwargs))
    assert parameter_count(EncoderConfig.preset(name)).total == sum(p.numel() for p in hf.parameters())


def test_published_sizes():
    """ALBERT paper Table 1 (12M / 18M parameters) and Turc et al. sizes (about 4.4M for bert-tiny)."""
    assert round(parameter_count(EncoderConfig.preset("albert-base")).total / 1e6) == 12
    assert round(parameter_count(EncoderConfig.preset("albert-large")).total / 1e6) == 18
    assert round(parameter_count(EncoderConfig.preset("bert-tiny")).total / 1e5) == 44
    assert round(parameter_count(EncoderConfig.preset("bert-large")).total / 1e6) == 335
