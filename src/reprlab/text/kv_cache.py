"""``KVCache``: preallocated per-layer keys and values for incremental (autoregressive) decoding.

A causal model's keys and values at positions < t do not change when token t arrives, so
generation computes them once: step t projects only the new token and attends over the cached
keys (Ott et al. 2019, fairseq's incremental decoding; Radford et al. 2019, GPT-2). A step then
costs O(t) attention work instead of re-running the whole O(t^2) prefix.

Each layer owns two tensors of shape (B, A, T_max, d), allocated once on the model's device and
dtype and written in place at ``[length : length + t]``: no concatenation per step, so nothing is
reallocated on CUDA during decoding and the memory is known up front (2 L B T_max H values).
"""

from __future__ import annotations

import torch

from reprlab.errors import ConfigError


class KVCache:
    """Keys and values of every layer for up to ``max_length`` positions.

    Parameters
    ----------
    num_layers, batch_size, num_heads, head_size, max_length : int
        L, B, A, d and T_max.
    device, dtype :
        Where and how the tensors are allocated (the model's).

    Attributes
    ----------
    keys, values : list of Tensor
        One (B, A, T_max, d) tensor per layer; only ``[..., :length, :]`` is meaningful.
    length : int
        Positions already cached (the next token's index in the cache).

    Examples
    --------
    >>> cache = KVCache(2, 1, 4, 16, max_length=32)
    >>> k, v = cache.update(0, torch.ones(1, 4, 3, 16), torch.ones(1, 4, 3, 16))
    >>> k.shape, cache.length  # length advances once every layer has written (``advance``)
    (torch.Size([1, 4, 3, 16]), 0)
    """

    def __init__(self, num_layers: int, batch_size: int, num_heads: int, head_size: int, max_length: int, *,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32):
        if max_length < 1:
            raise ConfigError(f"KVCache: max_length={max_length} must be >= 1")
        shape = (batch_size, num_heads, max_length, head_size)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.max_length = max_length
        self.length = 0

    @classmethod
    def for_model(cls, config, batch_size: int, max_length: int, *, device: torch.device | str | None = None,
                  dtype: torch.dtype = torch.float32) -> KVCache:
        """A cache sized for an :class:`~reprlab.text.config.EncoderConfig`."""
        return cls(config.num_layers, batch_size, config.num_heads, config.head_size, max_length,
                   device=device, dtype=dtype)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new keys/values (B, A, t, d) of ``layer`` and return all cached ones (B, A, length + t, d)."""
        t = k.shape[2]
        end = self.length + t
        if end > self.max_length:
            raise ConfigError(f"KVCache: {end} positions do not fit the cache of {self.max_length}; "
                              "allocate it with a larger max_length")
        self.keys[layer][:, :, self.length:end] = k
        self.values[layer][:, :, self.length:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, t: int) -> None:
        """Mark ``t`` more positions as cached (called by the encoder after its last layer)."""
        self.length += t

    def reorder(self, index: torch.Tensor) -> None:
        """Keep rows ``index`` of the batch (beam search, dropping finished rows), in place."""
        for cached in (self.keys, self.values):
            for i, tensor in enumerate(cached):
                cached[i] = tensor.index_select(0, index)
