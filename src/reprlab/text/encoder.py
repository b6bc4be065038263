"""``Encoder``: the BERT / RoBERTa / ALBERT Transformer encoder; the variants are config fields.

Embeddings -> L blocks (self-attention + feed-forward) -> optional [CLS] pooler. Returns every
hidden state (the embedding output first, as HF transformers does) and, on request, the attention
probabilities. Padded batches run packed: row-wise layers see only real tokens (see
:class:`~reprlab.text.masks.Packing`), and padding positions come out as zeros.

References: Devlin et al. 2018 (BERT, https://arxiv.org/abs/1810.04805); Liu et al. 2019
(RoBERTa, https://arxiv.org/abs/1907.11692); Lan et al. 2019 (ALBERT, https://arxiv.org/abs/1909.11942).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reprlab.errors import ConfigError, DataError
from reprlab.text.config import EncoderConfig
from reprlab.text.heads import Pooler
from reprlab.text.kv_cache import KVCache
from reprlab.text.layers import Block, Embeddings, FeedForward, SelfAttention, init_weights
from reprlab.text.masks import Packing, additive_mask, attention_bias, causal_mask


def _and_mask(mask: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
    """A user mask (bool or additive) restricted to the causal pattern (T, T)."""
    if mask.dtype == torch.bool:
        return mask & causal
    return mask.masked_fill(~causal, float("-inf"))


@dataclass
class EncoderOutput:
    """What :meth:`Encoder.forward` returns.

    Attributes
    ----------
    last_hidden_state : Tensor
        (B, T, H), the output of the last block; zero at padding positions.
    hidden_states : tuple of Tensor
        L + 1 tensors (B, T, H): the embedding output, then each block's output (empty when
        ``forward`` was called with ``output_hidden_states=False``).
    pooled : Tensor or None
        (B, H), tanh(W h_[CLS] + b), when the config has a pooler.
    attentions : tuple of Tensor or None
        L tensors (B, A, T, T) of attention probabilities when ``output_attentions=True``.
    """

    last_hidden_state: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...]
    pooled: torch.Tensor | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class Encoder(nn.Module):
    """A Transformer encoder configured by :class:`EncoderConfig`.

    Parameters
    ----------
    config : EncoderConfig
        Sizes and variant switches (use ``EncoderConfig.preset("bert-base")`` etc.).

    Examples
    --------
    >>> enc = Encoder(EncoderConfig.preset("tiny"))
    >>> out = enc(torch.tensor([[2, 5, 7, 0]]), attention_mask=torch.tensor([[1, 1, 1, 0]]))
    >>> out.last_hidden_state.shape
    torch.Size([1, 4, 64])
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.embeddings = Embeddings(config)
        attention = [SelfAttention(config) for _ in range(config.attention_copies)]
        ffn = [FeedForward(config) for _ in range(config.ffn_copies)]
        self.layers = nn.ModuleList(
            Block(attention[i if len(attention) > 1 else 0], ffn[i if len(ffn) > 1 else 0])
            for i in range(config.num_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.norm == "pre" else None
        self.pooler = Pooler(config.hidden_size) if config.pooler else None
        self.apply(lambda m: init_weights(m, config.initializer_range))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None, output_attentions: bool = False,
                cache: KVCache | None = None, output_hidden_states: bool = True) -> EncoderOutput:
        """Encode a batch of token ids.

        Parameters
        ----------
        input_ids : LongTensor (B, T)
        attention_mask : Tensor (B, T), optional
            1 for tokens, 0 for padding (keys that nobody may attend to).
        token_type_ids : LongTensor (B, T), optional
            Segment ids (0 = sentence A, 1 = sentence B); default all 0.
        position_ids : LongTensor (B, T), optional
            Override the positions (default 0..T-1, or RoBERTa's padding-aware ids).
        attn_mask : Tensor (T, T), (B, T, T) or (B, A, T, T), optional
            Extra mask indexed [query, key]: bool with **True = may attend**, or an additive float
            bias. Combined with ``attention_mask``; see :mod:`reprlab.text.masks`.
        output_attentions : bool
            Also return the attention probabilities (uses the explicit softmax path).
        cache : KVCache, optional
            Incremental decoding (causal models): ``input_ids`` (B, T) are the *new* positions
            ``cache.length ..``; their keys/values are appended to the cache and each attends to all
            cached positions and the new ones up to itself. ``attention_mask`` then covers every
            position so far, (B, cache.length + T); ``position_ids`` default to ``cache.length + t``.
            ``hidden_states`` hold only the new positions.
        output_hidden_states : bool
            Return every layer's hidden state (default). ``False`` returns only the last
            (``hidden_states`` is then empty), which spares unpacking L padded copies when a caller
            reads the last layer or the pooler alone (``encode``, fine-tuning with the last layer).

        Raises
        ------
        DataError
            Sequences longer than the position table, ids outside the vocabulary, bad mask shapes.
        """
        if cache is not None:
            return self._forward_cached(input_ids, attention_mask, token_type_ids, position_ids, cache)
        x = self.embeddings(input_ids, token_type_ids, position_ids)  # (B, T, H)
        b, t, _ = x.shape
        if self.config.causal:
            causal = causal_mask(t, x.device)  # (T, T)
            attn_mask = causal if attn_mask is None else _and_mask(attn_mask, causal)
        bias = attention_bias(attention_mask, attn_mask, batch=b, heads=self.config.num_heads, length=t,
                              dtype=x.dtype)  # broadcastable to (B, A, T, T) or None
        packing = Packing.from_mask(attention_mask)
        if packing is not None:
            x = packing.pack(x)  # (N, H): real tokens only through every row-wise layer
        hidden, attentions = [x], []
        for block in self.layers:
            x, weights = block(x, bias, output_attentions, packing)
            if output_hidden_states:
                hidden.append(x)
            attentions.append(weights)
        if not output_hidden_states:
            hidden = [x]
        if self.final_norm is not None:
            hidden[-1] = self.final_norm(x)
        if packing is not None:
            hidden = [packing.unpack(h) for h in hidden]  # (B, T, H), zeros at padding
        x = hidden[-1]
        pooled = self.pooler(x) if self.pooler is not None else None
        return EncoderOutput(last_hidden_state=x, hidden_states=tuple(hidden) if output_hidden_states else (),
                             pooled=pooled,
                             attentions=tuple(attentions) if output_attentions else None)

    def _forward_cached(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None,
                        token_type_ids: torch.Tensor | None, position_ids: torch.Tensor | None,
                        cache: KVCache) -> EncoderOutput:
        """One incremental step: the new positions attend to the cache and causally to each other."""
        if not self.config.causal:
            raise ConfigError("Encoder: a KV cache needs a causal model (EncoderConfig.causal=true); a "
                              "bidirectional encoder's earlier states change when a token is added")
        b, t = input_ids.shape
        start = cache.length
        if position_ids is None:
            position_ids = torch.arange(start, start + t, device=input_ids.device).expand(b, t)
        x = self.embeddings(input_ids, token_type_ids, position_ids)  # (B, T, H)
        if attention_mask is not None and attention_mask.shape != (b, start + t):
            raise DataError(f"attention_mask has shape {tuple(attention_mask.shape)}; with a KV cache it "
                            f"covers every position so far: ({b}, {start + t})")
        if t == 1:  # one new query may see every cached key: only padding needs a mask (decoding steps)
            bias = None if attention_mask is None else additive_mask(attention_mask.bool()[:, None, None, :], x.dtype)
        else:
            keys = torch.arange(start + t, device=x.device)  # (S,)
            allowed = keys[None, :] <= (start + torch.arange(t, device=x.device))[:, None]  # (T, S) causal
            allowed = allowed[None, None]  # (1, 1, T, S)
            if attention_mask is not None:
                allowed = allowed & attention_mask.bool()[:, None, None, :]  # (B, 1, T, S)
            bias = additive_mask(allowed, x.dtype)
        hidden = [x]
        for layer, block in enumerate(self.layers):
            x, _ = block(x, bias, cache=cache, layer=layer)
            hidden.append(x)
        cache.advance(t)
        if self.final_norm is not None:
            hidden[-1] = self.final_norm(x)
        return EncoderOutput(last_hidden_state=hidden[-1], hidden_states=tuple(hidden))

    @property
    def token_embedding(self) -> nn.Embedding:
        """The (V, E) token table; the MLM decoder ties its weight to this."""
        return self.embeddings.token

    def num_parameters(self) -> int:
        """Distinct trainable tensors' elements (a shared ALBERT layer counts once)."""
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------ HF interop
    @classmethod
    def from_hf(cls, path: str | Path, *, strict: bool = True) -> Encoder:
        """Load a HF BERT / RoBERTa / ALBERT checkpoint directory; see :func:`reprlab.text.interop.from_hf`."""
        from reprlab.text.interop import from_hf

        return from_hf(path, strict=strict)

    def to_hf(self, path: str | Path, *, tokenizer: Any = None) -> Path:
        """Write a directory HF ``AutoModel.from_pretrained`` (and, given ``tokenizer``,
        ``AutoTokenizer.from_pretrained``) reads; see :func:`reprlab.text.interop.to_hf`."""
        from reprlab.text.interop import to_hf

        return to_hf(self, path, tokenizer=tokenizer)
