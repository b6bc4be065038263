"""reprlab.pretrain: corpus shards, BERT/RoBERTa/ALBERT instances and masking, pretraining runs.

Names are imported lazily (PEP 562) so that ``reprlab --help`` and the tokenizer worker processes
of ``prepare`` do not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "NAMED_CORPORA": "corpus", "iter_corpus": "corpus", "write_corpus_text": "corpus",
    "PrepareConfig": "shards", "PrepareResult": "shards", "prepare_shards": "shards", "ShardSet": "shards",
    "ShardWriter": "shards", "EncodedDocument": "shards", "encode_document": "shards", "vocab_hash": "shards",
    "special_token_ids": "shards",
}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'reprlab.pretrain' has no attribute {name!r}")
    return getattr(importlib.import_module(f"reprlab.pretrain.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
