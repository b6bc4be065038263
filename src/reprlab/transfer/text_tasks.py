"""Task models on a text encoder: sequence / pair classification, tagging, multiple choice.

One :class:`TextTaskModel` serves both transfer modes: its forward pass is
``encoder -> per-layer pooled window vectors -> layer combination -> chunk aggregation -> head``.
In feature extraction the first two stages run once over the data and are cached
(:meth:`TextTaskModel.window_features`), and only the rest (:meth:`TextTaskModel.head_logits`) is
trained; in fine-tuning everything runs on every step.

* layers (``layer``): ``last``; ``N`` (an index into the L + 1 hidden states, 0 = embeddings,
  negative from the top); ``concat-last-K`` (the last K layers concatenated, Devlin et al. 2018,
  table 7: 96.1 dev F1 on CoNLL-03 vs 96.4 fine-tuned); ``mix`` (ELMo's scalar mix, Peters et al.
  2018, eq. 1: ``gamma * sum_j softmax(s)_j h_j``, learned);
* pooling: ``cls``, ``pooler`` (BERT's tanh(W h_[CLS] + b), last layer only), ``mean`` or ``max``
  over real tokens (:func:`reprlab.text.pool`); the scalar mix is applied to the pooled vectors of
  each layer, which equals mixing before pooling for ``cls`` and ``mean``;
* heads: ``linear`` or ``mlp`` (one hidden tanh layer). With ``pooler`` pooling and a linear head
  the sequence classifier is HF's ``BertForSequenceClassification`` (dropout, ``classifier``);
  the tagger ``BertForTokenClassification``; multiple choice ``BertForMultipleChoice``.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.errors import ConfigError, DataError
from reprlab.text import Encoder, Pooler, pool

TaskName = Literal["seq-cls", "pair-cls", "token-cls", "multiple-choice"]
TASKS: tuple[str, ...] = get_args(TaskName)
TextPooling = Literal["cls", "pooler", "mean", "max"]
TEXT_POOLINGS: tuple[str, ...] = get_args(TextPooling)
HeadName = Literal["linear", "mlp"]
HEADS: tuple[str, ...] = get_args(HeadName)
_CONCAT = re.compile(r"^concat-last-(\d+)$")


def layer_indices(layer: str, num_layers: int) -> list[int]:
    """Hidden-state indices (0 = embedding output, L = last block) that ``layer`` names."""
    n = num_layers + 1
    if layer == "last":
        return [num_layers]
    if layer == "mix":
        return list(range(n))
    m = _CONCAT.match(layer)
    if m:
        k = int(m.group(1))
        if not 1 <= k <= n:
            raise ConfigError(f"layer={layer!r}: the encoder has {n} hidden states (embeddings + {num_layers} "
                              f"layers); choose concat-last-1..{n}")
        return list(range(n - k, n))
    try:
        i = int(layer)
    except ValueError:
        raise ConfigError(f"layer={layer!r}: expected last, mix, concat-last-K or a layer index "
                          f"(0 = embeddings .. {num_layers}, negative from the top)") from None
    if not -n <= i < n:
        raise ConfigError(f"layer={layer}: the encoder has hidden states 0..{num_layers} (or -{n}..-1)")
    return [i % n]


class ScalarMix(nn.Module):
    """ELMo's learned layer mix: ``gamma * sum_j softmax(s)_j x_j`` over the layer axis.

    Peters et al. 2018, "Deep contextualized word representations", https://arxiv.org/abs/1802.05365, eq. 1.
    Starts at the uniform mix (``s = 0``, ``gamma = 1``), i.e. the mean of the layers.
    """

    def __init__(self, num_layers: int):
        super().__init__()
        self.scalars = nn.Parameter(torch.zeros(num_layers))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.scalars.softmax(0)  # (L',)
        return self.gamma * torch.einsum("...lh,l->...h", x, w)  # (..., L', H) -> (..., H)


class ChunkAggregator(nn.Module):
    """Window vectors (B, K, H) + mask (B, K) -> document vectors (B, H): mean, max, attention or LSTM.

    ``attention`` scores each window with a learned vector (``softmax_k(w . v_k)``, masked) and
    averages; ``lstm`` runs a bidirectional LSTM (H/2 per direction) over the windows in order and
    mean-pools its outputs over real windows.
    """

    def __init__(self, how: str, hidden_size: int):
        super().__init__()
        self.how = how
        self.score = nn.Linear(hidden_size, 1) if how == "attention" else None
        self.lstm = (nn.LSTM(hidden_size, max(1, hidden_size // 2), batch_first=True, bidirectional=True)
                     if how == "lstm" else None)
        self.proj = nn.Linear(2 * max(1, hidden_size // 2), hidden_size) if how == "lstm" and hidden_size % 2 else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.to(x.dtype)[..., None]  # (B, K, 1)
        if x.shape[1] == 1:
            return x[:, 0]
        if self.how == "mean":
            return (x * m).sum(1) / m.sum(1).clamp_min(1.0)
        if self.how == "max":
            return x.masked_fill(m == 0, torch.finfo(x.dtype).min).amax(1)
        if self.score is not None:
            s = self.score(x).squeeze(-1).masked_fill(~mask.bool(), float("-inf"))  # (B, K)
            return torch.einsum("bk,bkh->bh", s.softmax(1), x)
        assert self.lstm is not None
        lengths = mask.sum(1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y, _ = nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])
        if self.proj is not None:
            y = self.proj(y)
        return (y * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, H)


class TextTaskModel(nn.Module):
    """An encoder with a task head; see the module docstring for the stages.

    Parameters
    ----------
    encoder : Encoder
    task : seq-cls | pair-cls | token-cls | multiple-choice
    num_labels : classes (ignored by multiple choice, which scores each choice)
    pooling, layer, head : see the module docstring
    aggregate : how chunk windows are combined (``--long-text chunks``)
    head_hidden : width of the ``mlp`` head's hidden layer (default H)
    dropout : before the head (BERT's classifier dropout, 0.1)
    """

    def __init__(self, encoder: Encoder, task: str, num_labels: int, *, pooling: str = "pooler",
                 layer: str = "last", head: str = "linear", aggregate: str = "mean", head_hidden: int | None = None,
                 dropout: float = 0.1):
        super().__init__()
        if task not in TASKS:
            raise ConfigError(f"task={task!r}: choose one of {', '.join(TASKS)}")
        if pooling not in TEXT_POOLINGS:
            raise ConfigError(f"pooling={pooling!r}: choose one of {', '.join(TEXT_POOLINGS)}")
        if head not in HEADS:
            raise ConfigError(f"head={head!r}: choose one of {', '.join(HEADS)}")
        if task != "multiple-choice" and num_labels < 2:
            raise DataError(f"{task}: {num_labels} label(s) in the training data; a classifier needs at least 2")
        h = encoder.config.hidden_size
        self.encoder, self.task, self.pooling, self.layer = encoder, task, pooling, layer
        self.layers = layer_indices(layer, encoder.config.num_layers)
        if pooling == "pooler":
            if self.layers != [encoder.config.num_layers]:
                raise ConfigError(f"pooling='pooler' reads the last layer only; with layer={layer!r} use cls, mean or max")
            if encoder.pooler is None:  # a fresh pooler (BERT's layout), trained with the head
                encoder.pooler = Pooler(h)
                encoder.config = encoder.config.replace(pooler=True)
                nn.init.normal_(encoder.pooler.dense.weight, 0.0, encoder.config.initializer_range)
                nn.init.zeros_(encoder.pooler.dense.bias)
        self.mix = ScalarMix(len(self.layers)) if layer == "mix" else None
        width = h * (len(self.layers) if self.mix is None else 1)
        self.aggregator = ChunkAggregator(aggregate, width)
        self.dropout = nn.Dropout(dropout)
        out = 1 if task == "multiple-choice" else num_labels
        self.hidden = nn.Linear(width, head_hidden or width) if head == "mlp" else None
        self.classifier = nn.Linear(head_hidden or width if head == "mlp" else width, out)
        for lin in (self.hidden, self.classifier):
            if lin is not None:
                nn.init.normal_(lin.weight, 0.0, encoder.config.initializer_range)
                nn.init.zeros_(lin.bias)
        self.num_labels = num_labels

    # ------------------------------------------------------------------ stage 1: frozen part
    def window_features(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Pooled vectors of the chosen layers per window (B, K, L', H), or per token (B, T, L', H) for tagging.

        Windows absent from ``window_mask`` come out as zeros.
        """
        ids, mask, types = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
        b, k, t = ids.shape
        real = batch["window_mask"].reshape(-1)  # (B K,)
        flat_ids, flat_mask = ids.reshape(b * k, t)[real], mask.reshape(b * k, t)[real]
        flat_types = types.reshape(b * k, t)[real] if self.encoder.embeddings.segment is not None else None
        last = self.encoder.config.num_layers
        out = self.encoder(flat_ids, flat_mask, flat_types, output_hidden_states=self.layers != [last])
        layer = lambda i: out.last_hidden_state if i == last else out.hidden_states[i]  # noqa: E731
        if self.task == "token-cls":
            states = torch.stack([layer(i) for i in self.layers], 2)  # (N, T, L', H)
            if "pieces_at" not in batch:
                if k != 1:
                    raise DataError("token-cls reads one window per example (or pieces_at for chunks)")
                return states  # (B, T, L', H)
            full = states.new_zeros(b * k, *states.shape[1:])
            full[real] = states
            flat = full.view(b, k * t, *states.shape[2:])  # (B, K T, L', H)
            at = batch["pieces_at"]  # (B, M): each piece read where its owner window holds it
            return flat.gather(1, at[:, :, None, None].expand(-1, -1, *states.shape[2:]))  # (B, M, L', H)
        if self.pooling == "pooler":
            vecs = out.pooled[:, None]  # (N, 1, H)
        else:
            vecs = torch.stack([pool(layer(i), flat_mask, self.pooling) for i in self.layers], 1)
        full = vecs.new_zeros(b * k, *vecs.shape[1:])
        full[real] = vecs
        return full.view(b, k, *vecs.shape[1:])  # (B, K, L', H)

    # ------------------------------------------------------------------ stage 2: trained part
    def head_logits(self, features: torch.Tensor, window_mask: torch.Tensor) -> torch.Tensor:
        """Logits from :meth:`window_features`: (B, C) sequence, (B, T, C) tagging, (B, K) multiple choice."""
        x = self.mix(features) if self.mix is not None else features.flatten(-2)  # (B, K or T, D)
        if self.task in ("seq-cls", "pair-cls"):
            x = self.aggregator(x, window_mask)  # (B, D)
        x = self.dropout(x)
        if self.hidden is not None:
            x = self.dropout(torch.tanh(self.hidden(x)))
        logits = self.classifier(x)
        if self.task == "multiple-choice":  # (B, K): absent choices (fewer than the batch's K) never win
            return logits.squeeze(-1).masked_fill(~window_mask.bool(), float("-inf"))
        return logits

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head_logits(self.window_features(batch), batch["window_mask"])


def task_loss(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy over labelled positions (``-100`` ignored) and the accuracy there."""
    flat, y = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    keep = y != -100
    if not bool(keep.any()):
        raise DataError("a batch without any labelled position; check the tags / labels")
    loss = F.cross_entropy(flat[keep], y[keep])
    return loss, (flat[keep].argmax(-1) == y[keep]).float().mean()


__all__ = ["TaskName", "TASKS", "TextPooling", "TEXT_POOLINGS", "HeadName", "HEADS", "layer_indices", "ScalarMix",
           "ChunkAggregator", "TextTaskModel", "task_loss"]
