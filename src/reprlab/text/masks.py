"""Attention masks: one convention for padding, causal, permutation and any other mask.

Convention (the same as ``torch.nn.functional.scaled_dot_product_attention``):

- ``attention_mask`` — shape (B, T), 1/True for a real token and 0/False for padding. Padding is
  removed from the *keys*: no position attends to a pad token. Pad positions still get (ignored)
  outputs.
- ``attn_mask`` — an extra mask indexed ``[..., query, key]`` of shape (T, T), (B, T, T) or
  (B, heads, T, T). Boolean: **True = may attend**, False = blocked. Floating point: an additive
  bias on the attention scores (0 = attend, -inf or a large negative number = blocked).
  A causal LM passes ``torch.ones(T, T, dtype=bool).tril()``; XLNet passes its permutation masks.

Both are combined into one additive bias (B or 1, heads or 1, T or 1, T) with the dtype's most
negative finite value for blocked pairs, so a query that may attend to nothing gets a uniform
distribution (as in HF transformers) instead of NaN.
"""

from __future__ import annotations

import torch

from reprlab.errors import DataError


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Boolean (True = attend) -> additive 0 / most-negative; float masks are cast unchanged."""
    if mask.dtype == torch.bool:
        zero = torch.zeros((), dtype=dtype, device=mask.device)
        return torch.where(mask, zero, torch.finfo(dtype).min)
    if not mask.is_floating_point():
        raise DataError(f"attn_mask has dtype {mask.dtype}; pass a bool mask (True = may attend) "
                        "or a float additive mask (0 = attend, -inf = blocked)")
    return mask.to(dtype).clamp_min(torch.finfo(dtype).min)  # -inf -> finite: no NaN rows


def attention_bias(attention_mask: torch.Tensor | None, attn_mask: torch.Tensor | None, *,
                   batch: int, heads: int, length: int, dtype: torch.dtype) -> torch.Tensor | None:
    """Combine a padding mask and an arbitrary mask into one additive bias for SDPA.

    Parameters
    ----------
    attention_mask : Tensor or None
        Shape (B, T), 1 = token, 0 = padding. ``None`` or all ones means no padding.
    attn_mask : Tensor or None
        Shape (T, T), (B, T, T) or (B, heads, T, T); bool (True = may attend) or additive float.
    batch, heads, length : int
        B, number of heads and T, used to check shapes.
    dtype : torch.dtype
        dtype of the attention scores.

    Returns
    -------
    Tensor or None
        Additive bias broadcastable to (B, heads, T, T), or ``None`` when nothing is masked.

    Raises
    ------
    DataError
        When a mask has a shape other than the ones listed.
    """
    bias = None
    if attention_mask is not None:
        if attention_mask.shape != (batch, length):
            raise DataError(f"attention_mask has shape {tuple(attention_mask.shape)}; expected (batch, seq_len) "
                            f"= ({batch}, {length}) with 1 for tokens and 0 for padding")
        keep = attention_mask.bool()
        if not bool(keep.all()):
            bias = additive_mask(keep[:, None, None, :], dtype)  # (B, 1, 1, T)
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            extra = attn_mask[None, None]  # (1, 1, T, T)
        elif attn_mask.dim() == 3:
            extra = attn_mask[:, None]  # (B, 1, T, T)
        elif attn_mask.dim() == 4:
            extra = attn_mask
        else:
            extra = None
        if extra is None or not (extra.shape[-2:] == (length, length)
                                 and extra.shape[0] in (1, batch) and extra.shape[1] in (1, heads)):
            raise DataError(f"attn_mask has shape {tuple(attn_mask.shape)}; expected (T, T), (B, T, T) or "
                            f"(B, heads, T, T) with T={length}, B={batch}, heads={heads}")
        extra = additive_mask(extra, dtype)
        bias = extra if bias is None else (bias + extra).clamp_min(torch.finfo(dtype).min)
    return bias


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) boolean lower-triangular mask: query t may attend to keys 0..t."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()  # (T, T)


class Packing:
    """The real-token rows of a padded batch: run row-wise layers on N tokens instead of B x T.

    Everything in a Transformer block except the attention core acts on each position alone
    (projections, feed-forward, LayerNorm, dropout, residuals), so the encoder keeps the hidden
    states *packed* as (N, H) and unpacks to (B, T, ...) only around ``scaled_dot_product_attention``
    ("padding removal", as in NVIDIA FasterTransformer's Effective Transformer). With lengths spread
    over [3T/4, T] this skips about 12% of the matrix products. Padding rows come back as zeros.

    Parameters
    ----------
    attention_mask : Tensor (B, T)
        1 for tokens, 0 for padding.
    """

    def __init__(self, attention_mask: torch.Tensor):
        self.batch, self.length = attention_mask.shape
        self.index = attention_mask.reshape(-1).nonzero().squeeze(1)  # (N,) flat b * T + t

    @classmethod
    def from_mask(cls, attention_mask: torch.Tensor | None) -> Packing | None:
        """A packing when ``attention_mask`` has padding, else ``None`` (nothing to skip)."""
        if attention_mask is None or bool(attention_mask.bool().all()):
            return None
        return cls(attention_mask.bool())

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, ...) -> (N, ...): the rows of real tokens, in row-major order."""
        return x.reshape(self.batch * self.length, *x.shape[2:]).index_select(0, self.index)

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """(N, ...) -> (B, T, ...) with zeros at padding."""
        full = x.new_zeros(self.batch * self.length, *x.shape[1:]).index_copy(0, self.index, x)
        return full.view(self.batch, self.length, *x.shape[1:])
