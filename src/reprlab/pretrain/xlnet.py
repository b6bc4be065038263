"""XLNet permutation-LM pretraining: ``reprlab pretrain run --objective xlnet``.

Yang et al. 2019 (https://arxiv.org/abs/1906.08237), eq. 5 with partial prediction: per sequence a
random factorization order z, and the last 1/K of it (K = ``partial_prediction_k``, 6 by default
as in the paper's ablation; at least one token) is predicted from the query stream of the
two-stream encoder (:class:`~reprlab.text.TwoStreamEncoder`):

    L = - sum_{t > c} log softmax(head(g_{z_t}))[x_{z_t}] / (number of targets)

Special tokens ([CLS], [SEP]) and padding come first in every order, so they are always context
and never predicted, as in XLNet's ``_local_perm``. Orders are a keyed hash of (seed, instance,
step) like the MLM objectives' dynamic masks, so a resumed run draws the orders the uninterrupted
run would have; evaluation uses fixed orders (seed, instance) so two evaluations agree exactly.
The head is the MLM head (dense, activation, LayerNorm, decoder tied to the token table) on the
query stream, so MLM and PLM runs of one size differ only in the objective. Relative positions and
Transformer-XL memory are not implemented (absolute positions; see docs/pretrain.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from reprlab.errors import ConfigError
from reprlab.pretrain.batches import PretrainBatch
from reprlab.pretrain.evaluate import evaluate_tokens
from reprlab.pretrain.masking import combine_keys, keyed_uniform
from reprlab.pretrain.objectives import ObjectiveSpec, PretrainModelConfig, register_objective
from reprlab.pretrain.permutation import PermutationMasks, permutation_masks
from reprlab.text import Encoder, EncoderConfig, MaskedLMHead, TwoStreamEncoder
from reprlab.train import LossOutput, Objective

_ORDER_STREAM = 11  # keyed_uniform stream of the orders (masking uses others)


def xlnet_encoder(config: EncoderConfig, special_ids: dict[str, int | None]) -> EncoderConfig:
    """One segment and no pooler: the encoder of a single-stream PLM."""
    return config.replace(type_vocab_size=1, pooler=False)


class PermutationLMObjective(Objective):
    """XLNet's permutation language model with partial prediction (for the Trainer).

    Parameters
    ----------
    config : PretrainModelConfig
        ``partial_prediction_k`` is K.

    Attributes
    ----------
    two_stream : TwoStreamEncoder
        Holds the encoder and the query stream's learned vector.
    encoder : Encoder
        ``two_stream.encoder``: the content stream, used alone for probing and fine-tuning.
    lm_head : MaskedLMHead
        On the query stream's last layer, decoder tied to the token table.
    """

    config: PretrainModelConfig
    masking_step: torch.Tensor

    def __init__(self, config: PretrainModelConfig):
        super().__init__()
        if config.partial_prediction_k < 1:
            raise ConfigError(f"partial_prediction_k={config.partial_prediction_k}: must be >= 1 (predict 1/K of "
                              "every sequence; XLNet uses 6 or 7)")
        self.config = config
        self.two_stream = TwoStreamEncoder(Encoder(config.encoder))
        self.lm_head = MaskedLMHead(config.encoder, self.encoder.token_embedding)
        self.register_buffer("masking_step", torch.zeros((), dtype=torch.long))

    @property
    def encoder(self) -> Encoder:
        return self.two_stream.encoder

    def on_step_end(self, step: int) -> None:
        self.masking_step.fill_(step)

    def masks(self, batch: PretrainBatch) -> PermutationMasks:
        """The batch's orders (keyed, special tokens first) and their two-stream masks; targets exclude specials."""
        seed = self.config.masking.seed
        keys = combine_keys(seed, batch.keys, self.masking_step.to(batch.keys.device)) if self.training \
            else combine_keys(seed, batch.keys)
        t = batch.input_ids.shape[1]
        u = keyed_uniform(keys, _ORDER_STREAM, t)  # (B, T) in [0, 1)
        special = batch.special_tokens_mask.bool()  # specials and padding
        order = u.masked_fill(special, -1.0).argsort(-1)  # (B, T): specials first, then a random order
        text = (~special).sum(1)  # (B,)
        k = self.config.partial_prediction_k
        num_predict = (text.float() / k).round().long().clamp(min=1, max=t - 1)
        m = permutation_masks(order, num_predict)
        return m._replace(targets=m.targets & ~special)

    def forward(self, batch: PretrainBatch) -> LossOutput:
        m = self.masks(batch)
        out = self.two_stream(batch.input_ids, m.content, m.query, batch.attention_mask)
        logits = self.lm_head(out.query, m.targets)  # (N, V) at the targets only
        y = batch.input_ids[m.targets]
        n = y.numel()
        ce = F.cross_entropy(logits.float(), y, reduction="sum")
        loss = ce / max(n, 1)
        acc = (logits.detach().argmax(-1) == y).sum().float() / max(n, 1)
        return LossOutput(loss, {"plm_loss": loss.detach(), "plm_acc": acc}, num_items=batch.num_tokens)


def evaluate_permutation(objective: PermutationLMObjective, dataset: Dataset, *, batch_size: int = 64,
                         pad_id: int = 0, unigram: np.ndarray | None = None) -> dict[str, Any]:
    """Held-out ``plm_loss``, ``plm_ppl``, ``plm_acc`` on fixed orders (and the unigram baseline)."""

    def predict(batch: PretrainBatch) -> tuple[torch.Tensor, torch.Tensor]:
        m = objective.masks(batch)
        out = objective.two_stream(batch.input_ids, m.content, m.query, batch.attention_mask)
        return objective.lm_head(out.query, m.targets), batch.input_ids[m.targets]

    return evaluate_tokens(objective, dataset, predict, prefix="plm", batch_size=batch_size, pad_id=pad_id,
                           unigram=unigram)


register_objective(ObjectiveSpec("xlnet", PermutationLMObjective, "full-sentences", "none", "dynamic",
                                 xlnet_encoder, (), masked_lm=False, evaluate=evaluate_permutation))
