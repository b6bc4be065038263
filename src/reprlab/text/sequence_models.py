"""Three ways to mix information across positions, behind one interface, for a fair comparison.

Vaswani et al. (2017, section 4, table 1) argue for self-attention over recurrence and
convolution by three costs per layer: computation, the number of *sequential* operations
(O(1) for attention and convolution, O(n) for an RNN: an RNN cannot be parallelised over
positions), and the *maximum path length* between two positions (O(1) for attention, O(n) for an
RNN, O(n / k) for a stack of kernel-k convolutions — and a causal stack of L layers sees only
``1 + L (k - 1)`` positions at all). The models here make the comparison measurable:

- :class:`TransformerSequenceEncoder`: reprlab's :class:`~reprlab.text.Encoder` (learned positions);
- :class:`LSTMSequenceEncoder`: Hochreiter & Schmidhuber (1997), unidirectional;
- :class:`ConvSequenceEncoder`: causal 1-D convolutions with residual connections (position t sees
  t - R + 1 .. t).

Each maps token ids (B, T) and a padding mask to hidden states (B, T, W). :func:`build_sequence_model`
sizes the width W so that every kind has about the same number of parameters;
:class:`SequenceClassifier` adds a readout and a linear head and trains through the shared Trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.errors import ConfigError
from reprlab.text.config import EncoderConfig
from reprlab.text.encoder import Encoder
from reprlab.train import LossOutput, Objective

SequenceKind = Literal["transformer", "lstm", "cnn"]
SEQUENCE_KINDS: tuple[str, ...] = ("transformer", "lstm", "cnn")
Readout = Literal["last", "mean", "max", "first"]


@dataclass
class SequenceModelConfig:
    """One sequence encoder; ``width`` is the hidden size (Transformer H, LSTM units, CNN channels)."""

    kind: SequenceKind = "transformer"
    vocab_size: int = 32
    max_length: int = 128  # Transformer position table
    embedding_dim: int = 64  # token embedding E (the same for every kind)
    width: int = 64
    layers: int = 2
    heads: int = 4  # Transformer
    ffn_ratio: int = 2  # Transformer feed-forward width = ffn_ratio * width
    kernel: int = 5  # CNN
    dropout: float = 0.0

    def receptive_field(self) -> int | None:
        """Positions a causal CNN output sees, ``1 + layers (kernel - 1)``; None for the others (all)."""
        return 1 + self.layers * (self.kernel - 1) if self.kind == "cnn" else None


class SequenceEncoder(nn.Module):
    """The interface: ``forward(ids (B, T), mask (B, T)) -> (B, T, hidden_size)``, and the token table."""

    hidden_size: int

    @property
    def token_table(self) -> nn.Embedding:  # pragma: no cover - every kind overrides it
        raise NotImplementedError


class TransformerSequenceEncoder(SequenceEncoder):
    """:class:`~reprlab.text.Encoder` (post-norm BERT block, learned positions, no pooler, no segments)."""

    def __init__(self, c: SequenceModelConfig):
        super().__init__()
        if c.width % c.heads:
            raise ConfigError(f"width={c.width} must be divisible by heads={c.heads}")
        self.hidden_size = c.width
        self.encoder = Encoder(EncoderConfig(
            vocab_size=c.vocab_size, hidden_size=c.width, num_layers=c.layers, num_heads=c.heads,
            intermediate_size=c.ffn_ratio * c.width, max_position=c.max_length, type_vocab_size=0,
            embedding_size=c.embedding_dim, hidden_dropout=c.dropout, attention_dropout=c.dropout, pooler=False))

    @property
    def token_table(self) -> nn.Embedding:
        return self.encoder.token_embedding

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(ids, mask).last_hidden_state  # (B, T, W)


class LSTMSequenceEncoder(SequenceEncoder):
    """Token embedding -> unidirectional LSTM of ``layers`` layers (``width`` units)."""

    def __init__(self, c: SequenceModelConfig):
        super().__init__()
        self.hidden_size = c.width
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(c.embedding_dim, c.width, num_layers=c.layers, batch_first=True,
                            dropout=c.dropout if c.layers > 1 else 0.0)

    @property
    def token_table(self) -> nn.Embedding:
        return self.embedding

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embedding(ids))  # (B, T, W); right padding comes after every real token
        return out


class ConvSequenceEncoder(SequenceEncoder):
    """Token embedding -> ``layers`` causal Conv1d(kernel) + ReLU blocks with residual connections."""

    def __init__(self, c: SequenceModelConfig):
        super().__init__()
        self.hidden_size = c.width
        self.kernel = c.kernel
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(c.embedding_dim if i == 0 else c.width, c.width, c.kernel)
                                   for i in range(c.layers))
        self.dropout = nn.Dropout(c.dropout)

    @property
    def token_table(self) -> nn.Embedding:
        return self.embedding

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids).transpose(1, 2)  # (B, E, T)
        for i, conv in enumerate(self.convs):
            y = self.dropout(F.relu(conv(F.pad(x, (self.kernel - 1, 0)))))  # causal: left padding only
            x = y if i == 0 and y.shape[1] != x.shape[1] else x + y  # (B, W, T)
        return x.transpose(1, 2)  # (B, T, W)


_ENCODERS = {"transformer": TransformerSequenceEncoder, "lstm": LSTMSequenceEncoder, "cnn": ConvSequenceEncoder}


def sequence_encoder(c: SequenceModelConfig) -> SequenceEncoder:
    """The encoder of ``c.kind``."""
    if c.kind not in _ENCODERS:
        raise ConfigError(f"kind={c.kind!r}: choose one of {', '.join(SEQUENCE_KINDS)}")
    return _ENCODERS[c.kind](c)


def body_parameters(encoder: SequenceEncoder) -> int:
    """Parameters outside the token-embedding table (which is the same V x E for every kind)."""
    return sum(p.numel() for p in encoder.parameters()) - encoder.token_table.weight.numel()


def build_sequence_model(c: SequenceModelConfig, *, parameter_budget: int | None = None,
                         num_classes: int = 2) -> tuple[SequenceModelConfig, SequenceEncoder]:
    """The encoder of ``c``; with ``parameter_budget``, the width whose body parameters (encoder
    without the token table, plus a ``num_classes`` head) come closest to it.

    Widths are searched in steps of ``heads`` for the Transformer and of 1 otherwise.
    """
    from dataclasses import replace

    if parameter_budget is None:
        return c, sequence_encoder(c)
    step = c.heads if c.kind == "transformer" else 1
    best = None
    for width in range(step, 1025, step):
        cand = replace(c, width=width)
        try:
            n = body_parameters(sequence_encoder(cand)) + width * num_classes + num_classes
        except ConfigError:  # e.g. a Transformer narrower than its token embedding
            continue
        if best is None or abs(n - parameter_budget) < best[0]:
            best = (abs(n - parameter_budget), cand)
        if n > parameter_budget:
            break
    if best is None:
        raise ConfigError(f"parameter_budget={parameter_budget}: no {c.kind} width fits")
    return best[1], sequence_encoder(best[1])


class SequenceClassifier(Objective):
    """Cross-entropy of ``head(readout(encoder(ids)))`` for a batch ``(ids (B, T), labels (B,))``.

    Padding is id 0. Readouts: ``last`` (hidden state of the last real token — where a causal model
    has seen everything), ``mean`` / ``max`` over real tokens, ``first`` (the first position).
    """

    def __init__(self, encoder: SequenceEncoder, num_classes: int, readout: Readout = "last", config: Any = None):
        super().__init__()
        if readout not in ("last", "mean", "max", "first"):
            raise ConfigError(f"readout={readout!r}: choose last, mean, max or first")
        self.encoder, self.readout = encoder, readout
        self.head = nn.Linear(encoder.hidden_size, num_classes)
        self.config = config

    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids != 0  # (B, T)
        h = self.encoder(ids, mask.long())  # (B, T, W)
        if self.readout == "last":
            z = h[torch.arange(len(h), device=h.device), mask.sum(1).clamp_min(1) - 1]
        elif self.readout == "first":
            z = h[:, 0]
        elif self.readout == "mean":
            z = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        else:
            z = h.masked_fill(~mask[..., None], float("-inf")).amax(1)
        return self.head(z)  # (B, classes)

    def forward(self, batch: Any) -> LossOutput:
        ids, labels = batch[0], batch[1]
        logits = self.logits(ids)
        loss = F.cross_entropy(logits, labels)
        return LossOutput(loss, {"acc": (logits.argmax(1) == labels).float().mean()}, num_items=len(labels))


@torch.no_grad()
def predict(model: SequenceClassifier, ids: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Predicted classes (N,) in eval mode, batch by batch on the model's device."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        return torch.cat([model.logits(ids[i:i + batch_size].to(device)).argmax(1).cpu()
                          for i in range(0, len(ids), batch_size)])
    finally:
        model.train(was)


__all__ = ["SequenceKind", "SEQUENCE_KINDS", "Readout", "SequenceModelConfig", "SequenceEncoder", "TransformerSequenceEncoder",
           "LSTMSequenceEncoder", "ConvSequenceEncoder", "sequence_encoder", "body_parameters",
           "build_sequence_model", "SequenceClassifier", "predict"]
