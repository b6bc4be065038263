"""``CausalLM``: a GPT-style language model on the same ``Encoder`` blocks, with a tied output layer.

GPT (Radford et al. 2018) and GPT-2 (Radford et al. 2019, "Language Models are Unsupervised
Multitask Learners") factorize the probability of a text left to right,

    log p(x) = sum_t log p(x_t | x_<t),   p(x_t | x_<t) = softmax(h_{t-1} E^T)[x_t],

where h_{t-1} is the last layer's state at position t - 1 under a causal mask (query t attends to
keys <= t) and E is the token embedding table (the output layer is tied to it). GPT-2's block is
pre-norm (x + f(LN(x))) with a final LayerNorm, has no LayerNorm on the embeddings and uses the
tanh GELU; :func:`gpt_config` sets exactly these switches on any encoder size, so
``CausalLM(gpt_config(...))`` exports to HF ``GPT2LMHeadModel`` (see :mod:`reprlab.text.gpt2`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.errors import ConfigError
from reprlab.text.config import EncoderConfig
from reprlab.text.encoder import Encoder
from reprlab.text.heads import IGNORE_INDEX
from reprlab.text.kv_cache import KVCache

#: The fields that turn a BERT-shaped :class:`EncoderConfig` into GPT-2's architecture.
GPT2_SWITCHES: dict[str, Any] = dict(causal=True, norm="pre", embedding_norm=False, type_vocab_size=0, pooler=False,
                                     activation="gelu_tanh", layer_norm_eps=1e-5, position_offset=0)


def gpt_config(config: EncoderConfig | str = "bert-mini", **overrides: Any) -> EncoderConfig:
    """GPT-2's architecture at the size of ``config`` (an :class:`EncoderConfig` or a preset name).

    >>> c = gpt_config("bert-mini", vocab_size=8000)
    >>> (c.causal, c.norm, c.embedding_norm, c.num_layers, c.hidden_size)
    (True, 'pre', False, 4, 256)
    """
    base = EncoderConfig.preset(config) if isinstance(config, str) else config
    return base.replace(**{**GPT2_SWITCHES, **overrides})


class CausalLM(nn.Module):
    """A left-to-right language model: causal :class:`Encoder` + output layer tied to the token table.

    Parameters
    ----------
    config : EncoderConfig
        Must have ``causal=True`` (use :func:`gpt_config`) and no factorized embedding.

    Examples
    --------
    >>> model = CausalLM(gpt_config("tiny"))
    >>> model(torch.tensor([[5, 6, 7]])).shape
    torch.Size([1, 3, 1000])
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        if not config.causal:
            raise ConfigError("CausalLM: EncoderConfig.causal=false would let position t see the token it "
                              "predicts; build the config with gpt_config(...) or set causal=true")
        if config.embedding_dim != config.hidden_size:
            raise ConfigError(f"CausalLM: embedding_size={config.embedding_size} != hidden_size={config.hidden_size}; "
                              "the tied output layer needs E = H (embedding_size=None)")
        self.config = config
        self.encoder = Encoder(config)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits h E^T for hidden states (..., H) -> (..., V)."""
        return F.linear(hidden, self.encoder.token_embedding.weight)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, cache: KVCache | None = None,
                last_only: bool = False) -> torch.Tensor:
        """Next-token logits (B, T, V) at every input position, or (B, 1, V) at the last with ``last_only``.

        See :meth:`Encoder.forward` for ``cache``. Generation asks for ``last_only``: the (V x H)
        output layer then runs on one row per sequence.
        """
        hidden = self.encoder(input_ids, attention_mask, position_ids=position_ids, cache=cache).last_hidden_state
        return self.logits(hidden[:, -1:] if last_only else hidden)

    def loss(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
             labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean next-token cross-entropy and the number of predicted tokens.

        Position t predicts ``labels[t + 1]`` (default ``input_ids`` with padding ignored);
        labels equal to -100 are not predicted. Returns ``(loss, count)``.
        """
        if labels is None:
            labels = input_ids if attention_mask is None else input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
        hidden = self.encoder(input_ids, attention_mask).last_hidden_state[:, :-1]  # (B, T-1, H)
        targets = labels[:, 1:]  # (B, T-1)
        keep = targets != IGNORE_INDEX
        logits = self.logits(hidden[keep])  # (N, V): the output layer runs on predicted rows only
        count = keep.sum()
        return F.cross_entropy(logits.float(), targets[keep], reduction="sum") / count.clamp_min(1), count

    # ------------------------------------------------------------------ HF interop (GPT-2)
    @classmethod
    def from_hf(cls, path: str | Path) -> CausalLM:
        """Load a HF ``GPT2LMHeadModel`` directory; see :func:`reprlab.text.gpt2.from_hf_gpt2`."""
        from reprlab.text.gpt2 import from_hf_gpt2

        return from_hf_gpt2(path)

    def to_hf(self, path: str | Path, *, bos_id: int | None = None, eos_id: int | None = None) -> Path:
        """Write a directory HF ``GPT2LMHeadModel.from_pretrained`` reads; see :func:`reprlab.text.gpt2.to_hf_gpt2`."""
        from reprlab.text.gpt2 import to_hf_gpt2

        return to_hf_gpt2(self, path, bos_id=bos_id, eos_id=eos_id)
