"""reprlab.text: the Transformer encoder family (BERT, RoBERTa, ALBERT) in one configurable model.

>>> from reprlab.text import Encoder, EncoderConfig, parameter_count
>>> parameter_count(EncoderConfig.preset("bert-base")).total
109482240
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprlab._lazy import lazy_exports

if TYPE_CHECKING:
    from reprlab.text.config import PRESETS, EncoderConfig
    from reprlab.text.encoder import Encoder, EncoderOutput
    from reprlab.text.heads import POOLINGS, ClassificationHead, MaskedLMHead, Pooler, Pooling, SentencePairHead, pool
    from reprlab.text.masks import attention_bias, causal_mask
    from reprlab.text.params import ParameterCount, parameter_count

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "config": ("PRESETS", "EncoderConfig"),
    "encoder": ("Encoder", "EncoderOutput"),
    "heads": ("POOLINGS", "ClassificationHead", "MaskedLMHead", "Pooler", "Pooling", "SentencePairHead", "pool"),
    "masks": ("attention_bias", "causal_mask"),
    "params": ("ParameterCount", "parameter_count"),
})
