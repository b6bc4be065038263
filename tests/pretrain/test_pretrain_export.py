"""to_hf: transformers' BertForPreTraining/BertForMaskedLM/RobertaForMaskedLM/AlbertFor* give our logits."""

from __future__ import annotations

import os

import pytest
import torch

from reprlab.errors import ConfigError
from reprlab.pretrain.masking import MaskingConfig
from reprlab.pretrain.objectives import OBJECTIVES, PretrainModelConfig
from reprlab.pretrain.pretrained import to_hf
from reprlab.text import EncoderConfig

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")
PAD, VOCAB = 0, 211


def make(objective: str, vocab: int = VOCAB, pad: int = PAD, mask: int = 4) -> torch.nn.Module:
    spec = OBJECTIVES[objective]
    enc = spec.encoder(EncoderConfig.preset("tiny", vocab_size=vocab, pad_token_id=pad), {"pad": pad})
    torch.manual_seed(0)
    model = spec.model_class(PretrainModelConfig(encoder=enc, objective=objective, sentence_task=spec.sentence_task,
                                                 masking=MaskingConfig(), mask_token_id=mask))
    with torch.no_grad():  # move every tensor off its initial value (LayerNorm 1/0, zero biases)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (3, 21), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 15:] = 0
    mask[2, 9:] = 0
    ids[mask == 0] = PAD
    types = (torch.arange(21)[None] >= 6).long() * mask
    return ids, mask, types


@pytest.mark.parametrize("objective,architecture", [
    ("bert", "BertForPreTraining"), ("bert", "BertForMaskedLM"), ("roberta", "RobertaForMaskedLM"),
    ("albert", "AlbertForPreTraining"), ("albert", "AlbertForMaskedLM")])
def test_exported_logits_match_transformers(tmp_path, objective, architecture):
    ours = make(objective)
    out = to_hf(ours, tmp_path / "hf", architecture)
    hf = getattr(transformers, architecture).from_pretrained(out).eval()
    ids, mask, types = batch()
    if objective == "roberta":
        types = torch.zeros_like(types)
    with torch.no_grad():
        enc = ours.encoder(ids, mask, types if ours.config.encoder.type_vocab_size > 1 else None)
        logits = ours.mlm(enc.last_hidden_state)  # (B, T, V) at every position
        pair = ours.pair(enc.pooled) if ours.pair is not None else None
        ref = hf(input_ids=ids, attention_mask=mask, token_type_ids=types)
    keep = mask.bool()
    ref_logits = ref.logits if hasattr(ref, "logits") else ref.prediction_logits
    assert float((logits - ref_logits)[keep].abs().max()) <= 1e-5
    if architecture.endswith("ForPreTraining"):
        ref_pair = ref.seq_relationship_logits if objective == "bert" else ref.sop_logits
        assert float((pair - ref_pair).abs().max()) <= 1e-5
    assert hf.config.architectures == [architecture]


def test_architecture_must_fit_the_model(tmp_path):
    with pytest.raises(ConfigError, match="exports as RobertaForMaskedLM"):
        to_hf(make("roberta"), tmp_path / "x", "BertForPreTraining")


@pytest.mark.parametrize("objective", ["bert", "roberta"])
def test_export_with_its_tokenizer_is_a_complete_hf_model(tmp_path, objective):
    """Issue 20.3: the exported directory holds tokenizer.json; AutoTokenizer + AutoModelForMaskedLM
    load it as it is, give reprlab's ids (pairs too) and, on HF's own padded batch, our logits."""
    from reprlab.pretrain.corpus import iter_corpus
    from reprlab.tokenizers import train_bpe, train_wordpiece
    from reprlab.tokenizers.bpe import ROBERTA_SPECIAL_TOKENS

    lines = [s for d in list(iter_corpus(["kjv-sample"]))[:4] for s in d]
    tok = (train_wordpiece(lines, 300, method="frequency") if objective == "bert"
           else train_bpe(lines, 400, byte_level=True, special_tokens=ROBERTA_SPECIAL_TOKENS))
    pad, mask = (tok.vocab[t] for t in (("[PAD]", "[MASK]") if objective == "bert" else ("<pad>", "<mask>")))
    ours = make(objective, tok.vocab_size, pad, mask)
    out = to_hf(ours, tmp_path / "hf", tokenizer=tok)
    assert (out / "tokenizer.json").is_file()
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(out))
    assert hf_tok.model_max_length == ours.config.encoder.max_length == 128  # RoBERTa: 130 positions - 2
    texts = ["In the beginning God créated the heaven", "and the earth 🤗"]
    for text in texts:
        assert hf_tok(text)["input_ids"] == tok.encode(text).ids
    assert hf_tok(*texts)["input_ids"] == tok.encode(*texts).ids
    hf = transformers.AutoModelForMaskedLM.from_pretrained(str(out)).eval()
    theirs = hf_tok(texts, padding=True, return_tensors="pt")
    batch = tok.encode_batch(texts, padding=True, return_tensors="pt")
    assert batch.input_ids.tolist() == theirs["input_ids"].tolist()
    with torch.no_grad():
        enc = ours.encoder(batch.input_ids, batch.attention_mask)
        logits = ours.mlm(enc.last_hidden_state)
        ref = hf(**theirs).logits
    keep = batch.attention_mask.bool()
    assert float((logits - ref)[keep].abs().max()) <= 1e-5


def test_ernie_task_embedding_is_folded_into_the_export(tmp_path):
    """ERNIE 2.0's task vector reaches HF: BertForMaskedLM gives the run's MLM logits (the MLM's vector on)."""
    from reprlab.pretrain.multitask import MultiTaskModelConfig

    spec = OBJECTIVES["ernie"]
    enc = spec.encoder(EncoderConfig.preset("tiny", vocab_size=VOCAB, pad_token_id=PAD), {"pad": PAD})
    torch.manual_seed(0)
    ours = spec.model_class(MultiTaskModelConfig(
        encoder=enc, objective="ernie", sentence_task="none", masking=MaskingConfig(), mask_token_id=4,
        tasks=["capitalization", "mlm", "sentence_distance"], task_embedding=True))
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        ours.task_vectors.weight.mul_(20)  # large enough that dropping it would show
    ours.eval()
    out = to_hf(ours, tmp_path / "hf")
    hf = transformers.BertForMaskedLM.from_pretrained(out).eval()
    ids, mask, types = batch()
    with torch.no_grad():
        logits = ours.mlm(ours.encoder(ids, mask, types).last_hidden_state)  # outside as_task: the MLM's vector
        with ours.as_task("mlm"):
            assert torch.equal(ours.mlm(ours.encoder(ids, mask, types).last_hidden_state), logits)
        with ours.as_task("capitalization"):  # another task's vector: other logits, so the vector matters
            other = ours.mlm(ours.encoder(ids, mask, types).last_hidden_state)
        ref = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    keep = mask.bool()
    assert float((logits - ref)[keep].abs().max()) <= 1e-5
    assert float((other - ref)[keep].abs().max()) > 1e-2
