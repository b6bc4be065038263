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


def make(objective: str) -> torch.nn.Module:
    spec = OBJECTIVES[objective]
    enc = spec.encoder(EncoderConfig.preset("tiny", vocab_size=VOCAB), {"pad": PAD})
    torch.manual_seed(0)
    model = spec.model_class(PretrainModelConfig(encoder=enc, objective=objective, sentence_task=spec.sentence_task,
                                                 masking=MaskingConfig(), mask_token_id=4))
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
