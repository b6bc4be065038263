"""Tokenizer directories HF loads as they are: ``tokenizer.json`` and transformers' config files.

``save_pretrained`` of :class:`~reprlab.tokenizers.WordPieceTokenizer` and
:class:`~reprlab.tokenizers.BPETokenizer` writes, beside their ``vocab.txt`` or
``vocab.json`` + ``merges.txt``:

* ``tokenizer.json`` — the serialization of HF ``tokenizers`` (``Tokenizer.from_file`` reads it):
  the whole pipeline, so HF gives the same ids;
* ``tokenizer_config.json`` — what ``transformers.AutoTokenizer.from_pretrained(dir)`` needs: the
  tokenizer class, the special tokens, ``model_max_length`` (plus reprlab's own settings);
* ``special_tokens_map.json`` — the special tokens again, for transformers 4.x.

A model export (``Encoder.to_hf``, pretraining runs) calls ``tokenizer.save_pretrained(model_dir)``
so that the model directory is complete.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reprlab.io import atomic_write, write_json

TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


def added_tokens(vocab: dict[str, int], special: Sequence[str], literal: Sequence[str] = ()) -> list[dict]:
    """HF ``added_tokens``: ``special`` (skipped by decode) and ``literal`` tokens, matched in raw text."""
    entries = {t: True for t in literal if t in vocab} | {t: True for t in special if t in vocab}
    return [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": t in special} for t in sorted(entries, key=vocab.__getitem__)]


def tokenizer_json(model: dict, *, normalizer: dict | None = None, pre_tokenizer: dict | None = None,
                   post_processor: dict | None = None, decoder: dict | None = None,
                   added: Sequence[dict] = ()) -> dict:
    """A complete ``tokenizer.json`` object (format version 1.0, no truncation or padding)."""
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": list(added),
            "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": post_processor,
            "decoder": decoder, "model": model}


def ordered_vocab(vocab: dict[str, int]) -> dict[str, int]:
    return dict(sorted(vocab.items(), key=lambda kv: kv[1]))


def write_hf_files(directory: Path, tokenizer: dict, config: dict[str, Any],
                   model_max_length: int | None) -> None:
    """Write ``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json`` atomically.

    ``config`` holds the transformers keys (``tokenizer_class``, special tokens, ...) and reprlab's.
    """
    with atomic_write(directory / TOKENIZER_FILE) as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=2)
        f.write("\n")
    config = dict(config)
    if model_max_length is not None:
        config["model_max_length"] = int(model_max_length)
    write_json(directory / CONFIG_FILE, config)
    write_json(directory / SPECIAL_TOKENS_FILE, {k: config[k] for k in SPECIAL_TOKEN_KEYS if config.get(k)})
