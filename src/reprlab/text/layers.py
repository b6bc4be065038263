"""Building blocks of the encoder: embeddings, self-attention, feed-forward, and the block.

Each block takes the whole :class:`~reprlab.text.config.EncoderConfig`. Shapes: B batch, T sequence
length, H hidden size, E embedding size, A heads, d = H / A head size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.errors import DataError
from reprlab.text.config import EncoderConfig
from reprlab.text.kv_cache import KVCache
from reprlab.text.masks import Packing


def activation_fn(name: str) -> nn.Module:
    """The module for an :data:`~reprlab.text.config.ACTIVATIONS` name."""
    return {"gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "relu": nn.ReLU()}[name]


def sinusoidal_table(positions: int, dim: int) -> torch.Tensor:
    """Fixed position encodings of Vaswani et al. (2017), eq. in section 3.5.

    PE[p, 2i] = sin(p / 10000^(2i/dim)),  PE[p, 2i+1] = cos(p / 10000^(2i/dim)).
    """
    pos = torch.arange(positions, dtype=torch.float64)[:, None]  # (P, 1)
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)  # (dim/2,)
    table = torch.zeros(positions, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)
    return table.float()  # (P, dim)


class Embeddings(nn.Module):
    """Token + segment + position embeddings, summed, LayerNorm, dropout; then E -> H if factorized.

    BERT section 3 ("Input/Output Representations"); ALBERT section 3.1 (factorized embedding
    parameterization: V x E + E x H parameters instead of V x H).
    """

    sinusoid: torch.Tensor  # buffer (P, E), registered when positions="sinusoidal"

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        e = config.embedding_dim
        self.token = nn.Embedding(config.vocab_size, e, padding_idx=config.pad_token_id)
        self.segment = nn.Embedding(config.type_vocab_size, e) if config.type_vocab_size else None
        self.position: nn.Embedding | None
        if config.positions == "learned":
            self.position = nn.Embedding(config.max_position, e)
        else:
            self.position = None
            self.register_buffer("sinusoid", sinusoidal_table(config.max_position, e), persistent=False)
        self.norm = nn.LayerNorm(e, eps=config.layer_norm_eps) if config.embedding_norm else None
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.projection = nn.Linear(e, config.hidden_size) if e != config.hidden_size else None

    def position_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Position ids (B, T): 0..T-1, or RoBERTa's scheme when ``position_offset`` > 0.

        RoBERTa numbers real tokens ``offset, offset+1, ...`` and gives padding ``offset - 1``
        (= the padding id), computed from ``input_ids != pad_token_id``.
        """
        b, t = input_ids.shape
        offset = self.config.position_offset
        if offset == 0:
            return torch.arange(t, device=input_ids.device).expand(b, t)  # (B, T)
        real = (input_ids != self.config.pad_token_id).long()  # (B, T)
        return torch.cumsum(real, dim=1) * real + (offset - 1)  # (B, T)

    def check_inputs(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None) -> None:
        """Raise :class:`DataError` for ids the tables cannot look up."""
        c = self.config
        if input_ids.dim() != 2:
            raise DataError(f"input_ids has shape {tuple(input_ids.shape)}; expected (batch, seq_len)")
        if input_ids.shape[1] > c.max_length:
            raise DataError(f"sequence length {input_ids.shape[1]} exceeds the model's maximum {c.max_length} "
                            f"(max_position={c.max_position}, position_offset={c.position_offset}); truncate "
                            "or split the text into chunks")
        if input_ids.numel():
            lo, hi = int(input_ids.min()), int(input_ids.max())
            if lo < 0 or hi >= c.vocab_size:
                raise DataError(f"token id {hi if hi >= c.vocab_size else lo} is outside the vocabulary "
                                f"[0, {c.vocab_size}); was the text tokenized with another vocabulary?")
        if token_type_ids is not None:
            if self.segment is None:
                raise DataError("token_type_ids given but the model has no segment embedding (type_vocab_size=0)")
            if token_type_ids.numel() and (int(token_type_ids.min()) < 0
                                           or int(token_type_ids.max()) >= c.type_vocab_size):
                raise DataError(f"token_type_ids must lie in [0, {c.type_vocab_size}) (type_vocab_size)")

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Embed ids (B, T) into hidden vectors (B, T, H)."""
        self.check_inputs(input_ids, token_type_ids)
        if position_ids is None:
            position_ids = self.position_ids(input_ids)
        elif position_ids.numel() and not 0 <= int(position_ids.min()) <= int(position_ids.max()) < self.config.max_position:
            raise DataError(f"position ids span [{int(position_ids.min())}, {int(position_ids.max())}]; the position "
                            f"table has rows [0, {self.config.max_position}) (max_position)")
        return self.combine(self.token(input_ids), token_type_ids, position_ids)

    def combine(self, x: torch.Tensor, token_type_ids: torch.Tensor | None, position_ids: torch.Tensor) -> torch.Tensor:
        """Add positions (and segments) to token vectors x (B, T, E); LayerNorm, dropout, E -> H."""
        if self.position is not None:
            x = x + self.position(position_ids)
        else:
            x = x + self.sinusoid[position_ids]
        if self.segment is not None:
            x = x + (self.segment(token_type_ids) if token_type_ids is not None else self.segment.weight[0])
        if self.norm is not None:
            x = self.norm(x)
        x = self.dropout(x)  # (B, T, E)
        return x if self.projection is None else self.projection(x)  # (B, T, H)


class SelfAttention(nn.Module):
    """Multi-head self-attention sub-layer with its residual and LayerNorm.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + M) V per head (Vaswani et al. 2017, eq. 1),
    computed by ``F.scaled_dot_product_attention``. Q, K, V come from one fused (H, 3H) projection.
    Post-norm (BERT): LN(x + Dropout(W_o Attn(x))); pre-norm: x + Dropout(W_o Attn(LN(x))).
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        h = config.hidden_size
        self.num_heads, self.head_size, self.pre_norm = config.num_heads, config.head_size, config.norm == "pre"
        self.qkv = nn.Linear(h, 3 * h)  # rows: [W_q; W_k; W_v]
        self.out = nn.Linear(h, h)
        self.norm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        self.attention_dropout = config.attention_dropout
        self.dropout = nn.Dropout(config.hidden_dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n H) -> (n, B, A, T, d): the fused projections' output as per-head tensors."""
        b, t, nh = x.shape
        n = nh // (self.num_heads * self.head_size)
        return x.view(b, t, n, self.num_heads, self.head_size).permute(2, 0, 3, 1, 4)

    def core(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None,
             need_weights: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """softmax(Q K^T / sqrt(d) + M) V for q (B, A, Tq, d), k, v (B, A, Tk, d) -> (B, Tq, H)."""
        p = self.attention_dropout if self.training else 0.0
        if need_weights:  # explicit softmax so the probabilities can be returned
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, A, Tq, Tk)
            if bias is not None:
                scores = scores + bias
            weights = scores.softmax(-1)  # (B, A, Tq, Tk)
            y = F.dropout(weights, p, self.training) @ v  # (B, A, Tq, d)
        else:
            weights = None
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)  # (B, A, Tq, d)
        b, a, t, d = y.shape
        return y.transpose(1, 2).reshape(b, t, a * d), weights  # (B, Tq, H)

    def attend(self, x: torch.Tensor, bias: torch.Tensor | None, need_weights: bool,
               packing: Packing | None = None, cache: KVCache | None = None,
               layer: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        qkv = self.qkv(x)  # (B, T, 3H), or (N, 3H) when packed
        if packing is not None:
            qkv = packing.unpack(qkv)  # (B, T, 3H), zeros at padding (masked keys anyway)
        q, k, v = self.split_heads(qkv)  # (B, A, T, d) each
        if cache is not None:  # incremental decoding: attend over every cached position too
            k, v = cache.update(layer, k, v)  # (B, A, S, d), S = cached + T
        y, weights = self.core(q, k, v, bias, need_weights)  # (B, T, H)
        if packing is not None:
            y = packing.pack(y)  # (N, H)
        return self.out(y), weights

    def attend_from(self, g: torch.Tensor, h: torch.Tensor, bias: torch.Tensor | None,
                    rows: torch.Tensor | None = None) -> torch.Tensor:
        """Queries from ``g`` (B, T, H), keys and values from ``h`` (B, S, H), with the same weights.

        XLNet's query stream (Yang et al. 2019, eq. 4): g attends to the content stream h. ``rows``
        (B, T) bool marks the queries that may attend to at least one key; the others get a zero
        attention vector (an empty sum) instead of a uniform average over blocked keys.
        """
        hidden = self.num_heads * self.head_size
        w_q, w_kv = self.qkv.weight.split([hidden, 2 * hidden])
        b_q, b_kv = self.qkv.bias.split([hidden, 2 * hidden])
        (q,) = self.split_heads(F.linear(g, w_q, b_q))  # (B, A, T, d)
        k, v = self.split_heads(F.linear(h, w_kv, b_kv))  # (B, A, S, d)
        y = self.core(q, k, v, bias, False)[0]  # (B, T, H)
        if rows is not None:
            y = y * rows[..., None].to(y.dtype)
        return self.out(y)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None, need_weights: bool = False,
                packing: Packing | None = None, cache: KVCache | None = None,
                layer: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x`` is (B, T, H), or (N, H) real-token rows when ``packing`` is given.

        With a ``cache``, ``x`` holds only the new positions; their keys/values are written into
        slot ``layer`` of the cache and the queries attend over all cached positions.
        """
        if self.pre_norm:
            y, weights = self.attend(self.norm(x), bias, need_weights, packing, cache, layer)
            return x + self.dropout(y), weights
        y, weights = self.attend(x, bias, need_weights, packing, cache, layer)
        return self.norm(x + self.dropout(y)), weights  # same shape as x

    def forward_query(self, g: torch.Tensor, h: torch.Tensor, bias: torch.Tensor | None,
                      rows: torch.Tensor | None = None) -> torch.Tensor:
        """The query-stream sub-layer: residual and LayerNorm around :meth:`attend_from` (pre or post norm)."""
        if self.pre_norm:
            return g + self.dropout(self.attend_from(self.norm(g), self.norm(h), bias, rows))
        return self.norm(g + self.dropout(self.attend_from(g, h, bias, rows)))


class FeedForward(nn.Module):
    """Position-wise feed-forward sub-layer: W_2 act(W_1 x + b_1) + b_2, with residual and LayerNorm."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        h, i = config.hidden_size, config.intermediate_size
        self.pre_norm = config.norm == "pre"
        self.dense_in = nn.Linear(h, i)
        self.act = activation_fn(config.activation)
        self.dense_out = nn.Linear(i, h)
        self.norm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            return x + self.dropout(self.dense_out(self.act(self.dense_in(self.norm(x)))))
        return self.norm(x + self.dropout(self.dense_out(self.act(self.dense_in(x)))))  # (B, T, H) or (N, H)


class Block(nn.Module):
    """One Transformer layer: self-attention then feed-forward.

    The two sub-layers are passed in, so ALBERT's cross-layer sharing is the same module object
    in several blocks (``Encoder`` builds them; ``parameters()`` counts a shared tensor once).
    """

    def __init__(self, attention: SelfAttention, ffn: FeedForward):
        super().__init__()
        self.attention, self.ffn = attention, ffn

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None, need_weights: bool = False,
                packing: Packing | None = None, cache: KVCache | None = None,
                layer: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, weights = self.attention(x, bias, need_weights, packing, cache, layer)
        return self.ffn(x), weights  # like x, (B, A, T, T) or None

    def forward_two_stream(self, h: torch.Tensor, g: torch.Tensor, content_bias: torch.Tensor | None,
                           query_bias: torch.Tensor | None,
                           query_rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """XLNet's two-stream layer: both streams use this block's weights; g attends to h (eq. 4)."""
        g = self.ffn(self.attention.forward_query(g, h, query_bias, query_rows))  # (B, T, H), from the input h
        h = self.ffn(self.attention(h, content_bias)[0])  # (B, T, H)
        return h, g


def init_weights(module: nn.Module, std: float) -> None:
    """BERT's initialisation: N(0, std^2) weights, zero biases, LayerNorm 1/0, zero padding row."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, 0.0, std)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
