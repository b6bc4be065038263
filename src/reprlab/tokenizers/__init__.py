"""reprlab.tokenizers: BERT WordPiece and BPE tokenizers, their trainers, HF-compatible files.

Pipeline nouns follow HF tokenizers: ``normalizer -> pre_tokenizer -> model -> post_processor ->
decoder`` (:class:`Tokenizer`), returning :class:`Encoding` objects. Trainers are functions:
:func:`train_bpe` (classic or byte-level) and :func:`train_wordpiece` (``method="frequency"`` or
``"likelihood"``). See docs/tokenizers.md.

Names are imported lazily (PEP 562) so that ``reprlab --help``, which imports this package's
``cli`` module, does not pay for the Unicode tables or ``numpy``.
"""

from __future__ import annotations

from reprlab._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "bpe": ("BPETokenizer", "ROBERTA_SPECIAL_TOKENS"),
    "encoding": ("BatchEncoding", "Encoding"),
    "evaluation": ("UnigramScore", "unigram_log_likelihood"),
    "loading": ("load_tokenizer",),
    "models": ("BPE", "WordPiece", "read_vocab"),
    "normalizers": ("BertNormalizer",),
    "pre_tokenizers": ("BertPreTokenizer", "ByteLevel", "WhitespaceSplit"),
    "tokenizer": ("TemplateProcessing", "Tokenizer", "WordPieceDecoder"),
    "trainers": ("count_words", "train_bpe", "train_wordpiece"),
    "wordpiece": ("WordPieceTokenizer",),
})
