"""EncoderConfig: presets, validation messages, (de)serialisation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.errors import ConfigError
from reprlab.text import PRESETS, EncoderConfig


def test_presets_follow_the_papers():
    small = EncoderConfig.preset("bert-small")
    assert (small.num_layers, small.hidden_size, small.num_heads, small.intermediate_size) == (4, 512, 8, 2048)
    assert EncoderConfig.preset("bert-tiny").num_heads == 2
    assert EncoderConfig.preset("bert-medium").num_layers == 8
    large = EncoderConfig.preset("bert-large")
    assert (large.num_layers, large.hidden_size, large.num_heads) == (24, 1024, 16)
    rob = EncoderConfig.preset("roberta-base")
    assert (rob.vocab_size, rob.position_offset, rob.max_length, rob.type_vocab_size) == (50265, 2, 512, 1)
    alb = EncoderConfig.preset("albert-base")
    assert (alb.embedding_dim, alb.sharing, alb.attention_copies, alb.ffn_copies) == (128, "all", 1, 1)
    assert EncoderConfig.preset("albert-xlarge").hidden_size == 2048
    assert EncoderConfig() == EncoderConfig.preset("bert-base")


def test_preset_overrides_and_round_trip():
    c = EncoderConfig.preset("tiny", sharing="attention", norm="pre")
    assert (c.sharing, c.norm, c.attention_copies, c.ffn_copies) == ("attention", "pre", 1, 2)
    assert EncoderConfig.from_dict(c.to_dict()) == c


@pytest.mark.parametrize("changes,match", [
    (dict(hidden_size=100, num_heads=12), r"hidden_size=100 is not divisible by num_heads=12"),
    (dict(hidden_size=-4), r"hidden_size=-4: must be a positive integer"),
    (dict(num_layers=0), r"num_layers=0: must be a positive integer"),
    (dict(embedding_size=1024, sharing="all"), r"embedding_size=1024 > hidden_size=768"),
    (dict(type_vocab_size=-1), r"type_vocab_size=-1: must be a non-negative"),
    (dict(activation="swish"), r"activation='swish': choose one of"),
    (dict(sharing="some"), r"sharing='some'"),
    (dict(hidden_dropout=1.0), r"hidden_dropout=1.0: a dropout rate"),
    (dict(position_offset=512), r"position_offset=512 leaves no positions"),
    (dict(pad_token_id=30522), r"pad_token_id=30522 >= vocab_size"),
])
def test_inconsistent_configs_name_the_field(changes, match):
    with pytest.raises(ConfigError, match=match):
        EncoderConfig(**changes)


def test_unknown_preset_and_field():
    with pytest.raises(ConfigError, match=r"unknown encoder preset 'bert-huge'; choose one of"):
        EncoderConfig.preset("bert-huge")
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['hidden'\]"):
        EncoderConfig.from_dict({"hidden": 3})


@settings(max_examples=50, deadline=None)
@given(hidden=st.integers(1, 256), heads=st.integers(1, 16))
def test_divisibility_rule(hidden, heads):
    if hidden % heads:
        with pytest.raises(ConfigError, match="not divisible"):
            EncoderConfig(hidden_size=hidden, num_heads=heads, positions="learned")
    else:
        assert EncoderConfig(hidden_size=hidden, num_heads=heads).head_size == hidden // heads


def test_all_presets_valid():
    for name in PRESETS:
        assert EncoderConfig.preset(name).head_size >= 64 or name == "tiny"
