"""``TwoStreamEncoder``: XLNet's two-stream self-attention over the layers of an :class:`Encoder`.

Yang et al. 2019 (XLNet, https://arxiv.org/abs/1906.08237), section 2.3, eq. 4. Every layer m
updates two representations of each position with the *same* weights:

    h_{z_t}^(m) = Block(Q = h_{z_t}^(m-1), KV = h_{z_<=t}^(m-1))     content stream (sees x_{z_t})
    g_{z_t}^(m) = Block(Q = g_{z_t}^(m-1), KV = h_{z_<t}^(m-1))      query stream (knows z_t only)

The query stream starts from one learned vector w plus the position embedding of z_t,
g^(0) = Emb(w, pos z_t), so the prediction of x_{z_t} knows *where* it is predicting but not
*what* is there; the masks say who sees whom (see :func:`reprlab.pretrain.permutation.permutation_masks`).
The content stream is an ordinary masked encoder pass, so after pretraining the wrapped
``encoder`` is used alone, like any BERT-style encoder.

Out of scope here: Transformer-XL's relative positional encodings and segment recurrence (memory);
positions are the encoder's absolute ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from reprlab.errors import DataError
from reprlab.text.encoder import Encoder
from reprlab.text.layers import Block
from reprlab.text.masks import attention_bias


@dataclass
class TwoStreamOutput:
    """Last-layer states of both streams, (B, T, H) each."""

    content: torch.Tensor
    query: torch.Tensor


class TwoStreamEncoder(nn.Module):
    """The query stream on top of a (shared, not copied) :class:`Encoder`.

    Parameters
    ----------
    encoder : Encoder
        Its blocks serve both streams; must not be causal (the masks carry the order).

    Attributes
    ----------
    query_vector : Parameter (E,)
        w, the learned input of the query stream (N(0, initializer_range^2)).
    """

    def __init__(self, encoder: Encoder):
        super().__init__()
        self.encoder = encoder
        c = encoder.config
        self.query_vector = nn.Parameter(torch.randn(c.embedding_dim) * c.initializer_range)

    def forward(self, input_ids: torch.Tensor, content_mask: torch.Tensor, query_mask: torch.Tensor,
                attention_mask: torch.Tensor | None = None, token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None) -> TwoStreamOutput:
        """Run both streams.

        Parameters
        ----------
        input_ids : LongTensor (B, T)
        content_mask, query_mask : BoolTensor (T, T) or (B, T, T)
            True = may attend, indexed [query position, key position].
        attention_mask : Tensor (B, T), optional
            1 for tokens, 0 for padding (blocked as keys in both streams).
        token_type_ids, position_ids : LongTensor (B, T), optional

        Returns
        -------
        TwoStreamOutput
            ``content`` and ``query`` (B, T, H). A query that may attend to nothing (the first token
            of a full order) gets a zero attention vector in every layer.

        Raises
        ------
        DataError
            A mask that is not (T, T) or (B, T, T) for the T tokens of ``input_ids`` (an order of
            another length).
        """
        enc, c = self.encoder, self.encoder.config
        emb = enc.embeddings
        emb.check_inputs(input_ids, token_type_ids)
        if position_ids is None:
            position_ids = emb.position_ids(input_ids)
        b, t = input_ids.shape
        for name, m in (("content_mask", content_mask), ("query_mask", query_mask)):
            if m.dim() not in (2, 3) or m.shape[-2:] != (t, t) or (m.dim() == 3 and m.shape[0] not in (1, b)):
                raise DataError(f"{name} has shape {tuple(m.shape)} but input_ids is {b} x {t}: expected (T, T) or "
                                f"(B, T, T) with T={t}; build the masks from an order of the block's length "
                                "(permutation_masks(order) with order a permutation of 0..T-1)")
        h = emb.combine(emb.token(input_ids), token_type_ids, position_ids)  # (B, T, H)
        w = self.query_vector.expand(b, t, -1)  # (B, T, E)
        g = emb.combine(w, token_type_ids, position_ids)  # (B, T, H)
        content_bias = attention_bias(attention_mask, content_mask, batch=b, heads=c.num_heads, length=t, dtype=h.dtype)
        query_bias = attention_bias(attention_mask, query_mask, batch=b, heads=c.num_heads, length=t, dtype=h.dtype)
        visible = query_mask if query_mask.dim() == 3 else query_mask[None].expand(b, t, t)  # (B, T, T)
        if attention_mask is not None:
            visible = visible & attention_mask.bool()[:, None, :]
        rows = visible.any(-1)  # (B, T): queries with at least one key
        for block in enc.layers:  # an nn.ModuleList: its items are typed as plain Modules
            h, g = cast(Block, block).forward_two_stream(h, g, content_bias, query_bias, rows)
        if enc.final_norm is not None:
            h, g = enc.final_norm(h), enc.final_norm(g)
        return TwoStreamOutput(content=h, query=g)
