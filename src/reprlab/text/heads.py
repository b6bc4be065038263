"""Heads on top of the encoder: pooler, masked-LM head, sentence-pair (NSP/SOP) head, classifier.

The masked-LM head gathers the masked positions *before* projecting to the vocabulary: with 15%
of tokens masked, the (V x E) output projection — most of a small BERT's training FLOPs — runs on
0.15 B T rows instead of B T.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.errors import DataError
from reprlab.text.config import EncoderConfig
from reprlab.text.layers import activation_fn

IGNORE_INDEX = -100  # label of positions that are not predicted (the PyTorch / HF convention)


class Pooler(nn.Module):
    """BERT's pooler: tanh(W h_[CLS] + b), the sequence representation used by NSP (BERT section 3.1)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))  # (B, T, H) -> (B, H)


class MaskedLMHead(nn.Module):
    """Masked-LM head: logits = LN(act(W h + b)) E^T + c at the masked positions only.

    BERT section 3.1, task #1. The decoder weight is *tied* to the token embedding table E (V x E),
    so for ALBERT the transform maps H -> E and the decoder works in the E-dim embedding space.

    Parameters
    ----------
    config : EncoderConfig
        The encoder's config (H, E, activation, eps).
    token_embedding : nn.Embedding
        The encoder's token table (``encoder.token_embedding``); shared, not copied.
    """

    def __init__(self, config: EncoderConfig, token_embedding: nn.Embedding):
        super().__init__()
        e = config.embedding_dim
        if tuple(token_embedding.weight.shape) != (config.vocab_size, e):
            raise DataError(f"token_embedding has shape {tuple(token_embedding.weight.shape)}; the MLM head "
                            f"ties to a ({config.vocab_size}, {e}) table (vocab_size, embedding size)")
        self.dense = nn.Linear(config.hidden_size, e)
        self.act = activation_fn(config.activation)
        self.norm = nn.LayerNorm(e, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(e, config.vocab_size, bias=False)
        self.decoder.weight = token_embedding.weight  # tied: the same Parameter object
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        nn.init.normal_(self.dense.weight, 0.0, config.initializer_range)
        nn.init.zeros_(self.dense.bias)

    def forward(self, hidden: torch.Tensor, masked_positions: torch.Tensor | None = None) -> torch.Tensor:
        """Vocabulary logits.

        Parameters
        ----------
        hidden : Tensor (B, T, H)
            Encoder output.
        masked_positions : BoolTensor (B, T), optional
            Where to predict. Rows are gathered first (row-major order, like ``hidden[mask]``).

        Returns
        -------
        Tensor
            (N, V) for the N masked positions, or (B, T, V) when ``masked_positions`` is None.
        """
        if masked_positions is not None:
            if masked_positions.shape != hidden.shape[:2]:
                raise DataError(f"masked_positions has shape {tuple(masked_positions.shape)}; expected "
                                f"{tuple(hidden.shape[:2])} (batch, seq_len)")
            hidden = hidden[masked_positions.bool()]  # (N, H)
        # the bias inside the matmul (addmm): a separate add was a pass over the (N, V) logits
        return F.linear(self.norm(self.act(self.dense(hidden))), self.decoder.weight, self.bias)  # (N, V) or (B, T, V)

    def loss(self, hidden: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy over positions whose label is not ``IGNORE_INDEX`` (-100).

        Returns ``(loss, logits)`` with logits (N, V) for the N predicted positions.
        """
        positions = labels != IGNORE_INDEX  # (B, T)
        logits = self(hidden, positions)  # (N, V)
        return F.cross_entropy(logits, labels[positions]), logits


class SentencePairHead(nn.Module):
    """Binary sentence-pair classifier on the pooled [CLS] vector.

    BERT's next-sentence prediction (NSP: is B the sentence after A?) and ALBERT's sentence-order
    prediction (SOP: are A and B swapped?) share this shape: logits = W pooled + b, W in R^{2 x H}.
    """

    def __init__(self, hidden_size: int, num_classes: int = 2):
        super().__init__()
        self.classifier = nn.Linear(hidden_size, num_classes)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.classifier(pooled)  # (B, H) -> (B, 2)


class ClassificationHead(nn.Module):
    """Generic sequence classifier: dropout -> [dense -> tanh -> dropout] -> linear.

    With ``hidden_layer=True`` it is RoBERTa's classification head (its own pooler on [CLS]);
    otherwise BERT's (a single linear layer on the pooled output).
    """

    def __init__(self, hidden_size: int, num_labels: int, *, dropout: float = 0.1, hidden_layer: bool = False):
        super().__init__()
        if num_labels < 1:
            raise DataError(f"ClassificationHead: num_labels={num_labels} must be >= 1")
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden_size, hidden_size) if hidden_layer else None
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dropout(features)  # (B, H)
        if self.dense is not None:
            x = self.dropout(torch.tanh(self.dense(x)))
        return self.out(x)  # (B, num_labels)


Pooling = Literal["cls", "mean", "max"]
POOLINGS: tuple[str, ...] = get_args(Pooling)


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor | None = None, how: str = "cls") -> torch.Tensor:
    """Sequence vectors (B, H) from hidden states (B, T, H): ``cls``, ``mean`` or ``max``.

    ``cls`` takes the first token; ``mean`` averages over real tokens only (``attention_mask`` 1), as
    sentence-transformers does: ``sum_t m_t h_t / max(1, sum_t m_t)``; ``max`` takes the
    element-wise maximum over real tokens (padding set to the dtype's lowest value first).
    """
    if how == "cls":
        return hidden[:, 0]
    if how == "mean":
        if attention_mask is None:
            return hidden.mean(1)
        w = attention_mask.to(hidden.dtype)[..., None]  # (B, T, 1)
        return (hidden * w).sum(1) / w.sum(1).clamp_min(1.0)
    if how == "max":
        if attention_mask is None:
            return hidden.amax(1)
        pad = ~attention_mask.bool()[..., None]  # (B, T, 1)
        return hidden.masked_fill(pad, torch.finfo(hidden.dtype).min).amax(1)  # (B, H)
    raise DataError(f"pool: how={how!r}; expected one of {', '.join(POOLINGS)}")
