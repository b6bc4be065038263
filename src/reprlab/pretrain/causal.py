"""GPT-style causal language-model pretraining: ``reprlab pretrain run --objective causal``.

Radford et al. 2018/2019 (GPT, GPT-2): maximize sum_t log p(x_t | x_<t) on contiguous text. The
instances are FULL-SENTENCES blocks laid out for a causal model: an end-of-text token first (the
"start" every generation can condition on), documents joined by the end-of-text token, no
[CLS]/[SEP], no masking, padding only in the last block. Every position predicts the next token,
so the loss covers all T - 1 positions of a block (an MLM at 15% predicts 0.15 T).

Held-out evaluation (:func:`evaluate_causal`) reports the token-weighted next-token loss and its
perplexity exp(loss), next-token accuracy, and the unigram baseline on the same targets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from reprlab.errors import DataError
from reprlab.pretrain.batches import Layout, PretrainBatch
from reprlab.pretrain.evaluate import evaluate_tokens
from reprlab.pretrain.masking import IGNORE_INDEX
from reprlab.pretrain.objectives import ObjectiveSpec, PretrainModelConfig, register_objective
from reprlab.text import CausalLM, Encoder, EncoderConfig
from reprlab.text.causal_lm import GPT2_SWITCHES
from reprlab.train import LossOutput, Objective


def end_of_text_id(special_ids: dict[str, int | None]) -> int:
    """The end-of-text token (``eos``, else ``sep``) that joins documents; :class:`DataError` if none."""
    for role in ("eos", "sep"):
        if special_ids.get(role) is not None:
            return int(special_ids[role])  # type: ignore[arg-type]
    raise DataError("the tokenizer has no end-of-text token (<|endoftext|>, </s> or [SEP]); causal LM blocks "
                    "join documents with one: train the tokenizer with --special-tokens '<|endoftext|>'")


def causal_layout(special_ids: dict[str, int | None]) -> Layout:
    """``<eot> doc <eot> doc ...``: end-of-text first and between documents, nothing at the end."""
    eot = end_of_text_id(special_ids)
    pad = special_ids.get("pad")
    return Layout(cls=eot, sep=None, pad=int(pad) if pad is not None else eot, doc_sep=eot)


def gpt_encoder(config: EncoderConfig, special_ids: dict[str, int | None]) -> EncoderConfig:
    """GPT-2's architecture at the preset's size (:data:`~reprlab.text.causal_lm.GPT2_SWITCHES`)."""
    return config.replace(**GPT2_SWITCHES)


class CausalLMObjective(Objective):
    """Next-token prediction on a causal encoder with a tied output layer (for the Trainer).

    Parameters
    ----------
    config : PretrainModelConfig
        ``config.encoder`` must be causal (``gpt_encoder`` makes it so for ``--objective causal``).

    Attributes
    ----------
    lm : CausalLM
    encoder : Encoder
        ``lm.encoder`` (what probing and fine-tuning use).
    """

    config: PretrainModelConfig

    def __init__(self, config: PretrainModelConfig):
        super().__init__()
        self.config = config
        self.lm = CausalLM(config.encoder)

    @property
    def encoder(self) -> Encoder:
        return self.lm.encoder

    def forward(self, batch: PretrainBatch) -> LossOutput:
        loss, count = self.lm.loss(batch.input_ids, batch.attention_mask)
        return LossOutput(loss, {"lm_loss": loss.detach(), "lm_tokens": count.detach().float()},
                          num_items=batch.num_tokens)


def evaluate_causal(objective: CausalLMObjective, dataset: Dataset, *, batch_size: int = 64, pad_id: int = 0,
                    unigram: np.ndarray | None = None) -> dict[str, Any]:
    """Held-out next-token ``lm_loss``, ``lm_ppl`` = exp(loss), ``lm_acc`` (and the unigram baseline)."""
    lm = objective.lm

    def predict(batch: PretrainBatch) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = lm.encoder(batch.input_ids, batch.attention_mask).last_hidden_state[:, :-1]  # (B, T-1, H)
        targets = batch.input_ids[:, 1:].masked_fill(batch.attention_mask[:, 1:] == 0, IGNORE_INDEX)
        keep = targets != IGNORE_INDEX
        return lm.logits(hidden[keep]), targets[keep]

    return evaluate_tokens(objective, dataset, predict, prefix="lm", batch_size=batch_size, pad_id=pad_id,
                           unigram=unigram)


register_objective(ObjectiveSpec("causal", CausalLMObjective, "full-sentences", "none", "dynamic", gpt_encoder,
                                 ("GPT2LMHeadModel",), masked_lm=False, layout=causal_layout,
                                 evaluate=evaluate_causal))
