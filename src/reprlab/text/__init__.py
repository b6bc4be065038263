"""reprlab.text: the Transformer encoder family (BERT, RoBERTa, ALBERT) in one configurable model.

>>> from reprlab.text import Encoder, EncoderConfig, parameter_count
>>> parameter_count(EncoderConfig.preset("bert-base")).total
109482240
"""

from reprlab.text.config import PRESETS, EncoderConfig
from reprlab.text.encoder import Encoder, EncoderOutput
from reprlab.text.heads import POOLINGS, ClassificationHead, MaskedLMHead, Pooler, Pooling, SentencePairHead, pool
from reprlab.text.masks import attention_bias, causal_mask
from reprlab.text.params import ParameterCount, parameter_count

__all__ = [
    "PRESETS", "EncoderConfig", "Encoder", "EncoderOutput", "ClassificationHead", "MaskedLMHead", "Pooler",
    "SentencePairHead", "pool", "Pooling", "POOLINGS", "attention_bias", "causal_mask", "ParameterCount", "parameter_count",
]
