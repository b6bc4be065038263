"""reprlab.tokenizers: BERT WordPiece and BPE tokenizers, their trainers, HF-compatible files.

Pipeline nouns follow HF tokenizers: ``normalizer -> pre_tokenizer -> model -> post_processor ->
decoder`` (:class:`Tokenizer`), returning :class:`Encoding` objects. Trainers are functions:
:func:`train_bpe` (classic or byte-level) and :func:`train_wordpiece` (``method="frequency"`` or
``"likelihood"``). See docs/tokenizers.md.

Names are imported lazily (PEP 562) so that ``reprlab --help``, which imports this package's
``cli`` module, does not pay for the Unicode tables or ``numpy``.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "BPETokenizer": "bpe", "ROBERTA_SPECIAL_TOKENS": "bpe", "BatchEncoding": "encoding", "Encoding": "encoding",
    "UnigramScore": "evaluation",
    "unigram_log_likelihood": "evaluation", "load_tokenizer": "loading", "BPE": "models",
    "WordPiece": "models", "read_vocab": "models", "BertNormalizer": "normalizers",
    "BertPreTokenizer": "pre_tokenizers", "ByteLevel": "pre_tokenizers", "WhitespaceSplit": "pre_tokenizers",
    "TemplateProcessing": "tokenizer", "Tokenizer": "tokenizer", "WordPieceDecoder": "tokenizer",
    "count_words": "trainers", "train_bpe": "trainers", "train_wordpiece": "trainers",
    "WordPieceTokenizer": "wordpiece",
}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'reprlab.tokenizers' has no attribute {name!r}")
    return getattr(importlib.import_module(f"reprlab.tokenizers.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
