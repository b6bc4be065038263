"""Load any tokenizer directory this package writes (WordPiece or BPE), by its config's kind."""

from __future__ import annotations

import json
from pathlib import Path

from reprlab.errors import DataError, MissingDataError
from reprlab.tokenizers.bpe import BPETokenizer
from reprlab.tokenizers.tokenizer import Tokenizer
from reprlab.tokenizers.wordpiece import WordPieceTokenizer


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """A :class:`WordPieceTokenizer` (``vocab.txt``) or :class:`BPETokenizer` (``merges.txt``) from ``directory``."""
    d = Path(directory)
    if not d.is_dir():
        raise MissingDataError(f"{d}: no such tokenizer directory; train one with `reprlab tokenizer train`")
    kind = None
    cfg = d / "tokenizer_config.json"
    if cfg.is_file():
        try:
            kind = json.loads(cfg.read_text(encoding="utf-8")).get("reprlab_kind")
        except json.JSONDecodeError as e:
            raise DataError(f"{cfg}: invalid JSON ({e.msg}); fix or delete the file") from None
    if kind == "bpe" or (kind is None and (d / "merges.txt").is_file()):
        return BPETokenizer.from_pretrained(d)
    return WordPieceTokenizer.from_pretrained(d)
