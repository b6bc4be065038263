"""reprlab.text: the Transformer encoder family (BERT, RoBERTa, ALBERT, GPT-2's causal LM, XLNet's
two streams) in one configurable model, plus KV-cache generation.

>>> from reprlab.text import Encoder, EncoderConfig, parameter_count
>>> parameter_count(EncoderConfig.preset("bert-base")).total
109482240
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprlab._lazy import lazy_exports

if TYPE_CHECKING:
    from reprlab.text.causal_lm import CausalLM, gpt_config
    from reprlab.text.config import PRESETS, EncoderConfig
    from reprlab.text.encoder import Encoder, EncoderOutput
    from reprlab.text.generation import Generation, generate, next_token, stream
    from reprlab.text.heads import POOLINGS, ClassificationHead, MaskedLMHead, Pooler, Pooling, SentencePairHead, pool
    from reprlab.text.kv_cache import KVCache
    from reprlab.text.layers import sinusoidal_table
    from reprlab.text.masks import attention_bias, causal_mask
    from reprlab.text.params import ParameterCount, parameter_count
    from reprlab.text.runs import (
        AttentionResult,
        AttentionRunConfig,
        WhyAttentionResult,
        WhyAttentionRunConfig,
        run_attention,
        run_why_attention,
    )
    from reprlab.text.two_stream import TwoStreamEncoder, TwoStreamOutput

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "causal_lm": ("CausalLM", "gpt_config"),
    "config": ("PRESETS", "EncoderConfig"),
    "encoder": ("Encoder", "EncoderOutput"),
    "generation": ("Generation", "generate", "next_token", "stream"),
    "heads": ("POOLINGS", "ClassificationHead", "MaskedLMHead", "Pooler", "Pooling", "SentencePairHead", "pool"),
    "kv_cache": ("KVCache",),
    "layers": ("sinusoidal_table",),
    "masks": ("attention_bias", "causal_mask"),
    "params": ("ParameterCount", "parameter_count"),
    "runs": ("AttentionRunConfig", "AttentionResult", "run_attention", "WhyAttentionRunConfig", "WhyAttentionResult",
             "run_why_attention"),
    "two_stream": ("TwoStreamEncoder", "TwoStreamOutput"),
})
