"""``BPETokenizer``: apply learned BPE merges, classic (``</w>`` end-of-word symbol) or byte-level.

* classic (Sennrich et al., 2016, https://arxiv.org/abs/1508.07909): whitespace-split words, each
  spelled as characters followed by the end-of-word symbol ``"</w>"``; decoding joins the pieces
  and turns ``"</w>"`` back into a space.
* byte-level (GPT-2, Radford et al., 2019; RoBERTa): GPT-2's regular expression splits the text,
  each UTF-8 byte is one base symbol, so no text is ever unknown; decoding maps the byte symbols
  back to bytes.

A saved directory holds ``vocab.json`` and ``merges.txt`` in the layout of HF's BPE models
(``tokenizers.ByteLevelBPETokenizer(vocab, merges)`` reads a byte-level one) plus
``tokenizer_config.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from reprlab.errors import DataError, MissingDataError
from reprlab.io import atomic_write, write_json
from reprlab.tokenizers.models import BPE
from reprlab.tokenizers.pre_tokenizers import ByteLevel, WhitespaceSplit, byte_decode
from reprlab.tokenizers.tokenizer import Tokenizer

CONFIG_FILE = "tokenizer_config.json"


class _BPEDecoder:
    def __init__(self, end_of_word: str | None, byte_level: bool):
        self.end_of_word, self.byte_level = end_of_word, byte_level

    def decode(self, tokens: Sequence[str]) -> str:
        if self.byte_level:
            return byte_decode("".join(tokens))
        text = "".join(tokens)
        if self.end_of_word:
            text = text.replace(self.end_of_word, " ")
        return text.strip()


class BPETokenizer(Tokenizer):
    """Byte-pair-encoding tokenizer.

    Parameters
    ----------
    vocab : dict
        token -> id.
    merges : list of (str, str)
        Learned merges, highest priority first.
    byte_level : bool
        GPT-2 byte-level pre-tokenization and decoding (no end-of-word symbol).
    end_of_word : str
        End-of-word symbol for classic BPE.
    add_prefix_space : bool
        Byte-level only: treat the first word like the others (RoBERTa's option).
    special_tokens : sequence of str
        Tokens matched literally in raw text.
    merge_counts : list of int, optional
        The pair count of each merge when it was learned (set by the trainer).
    """

    def __init__(self, vocab: dict[str, int], merges: Sequence[tuple[str, str]], *, byte_level: bool = False,
                 end_of_word: str = "</w>", add_prefix_space: bool = False, unk_token: str | None = None,
                 special_tokens: Sequence[str] = (), merge_counts: Sequence[int] | None = None):
        eow = None if byte_level else end_of_word
        self.merges = [tuple(m) for m in merges]
        self.merge_counts = list(merge_counts) if merge_counts is not None else None
        self.byte_level = byte_level
        self.parameters = dict(byte_level=byte_level, end_of_word=end_of_word,
                               add_prefix_space=add_prefix_space, unk_token=unk_token,
                               special_tokens=list(special_tokens))
        super().__init__(BPE(vocab, self.merges, end_of_word=eow, unk_token=unk_token),
                         pre_tokenizer=ByteLevel(add_prefix_space) if byte_level else WhitespaceSplit(),
                         decoder=_BPEDecoder(eow, byte_level), special_tokens=special_tokens)

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, {self.parameters})"

    @property
    def merges_with_counts(self) -> list[tuple[str, str, int | None]]:
        """``(left, right, count)`` per merge in learned order (count ``None`` if not trained here)."""
        counts = self.merge_counts or [None] * len(self.merges)
        return [(a, b, c) for (a, b), c in zip(self.merges, counts)]

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``vocab.json``, ``merges.txt`` and ``tokenizer_config.json`` atomically."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        with atomic_write(d / "vocab.json") as f:
            json.dump(self.vocab, f, ensure_ascii=False)
        with atomic_write(d / "merges.txt") as f:
            f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in self.merges))
        write_json(d / CONFIG_FILE, {"reprlab_kind": "bpe", **self.parameters,
                                     "merge_counts": self.merge_counts})
        return d

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> BPETokenizer:
        """Load a directory written by :meth:`save_pretrained`."""
        d = Path(directory)
        for name in ("vocab.json", "merges.txt"):
            if not (d / name).is_file():
                raise MissingDataError(f"{d}: no {name}; pass a directory written by "
                                       "`reprlab tokenizer train --kind bpe`")
        try:
            vocab = json.loads((d / "vocab.json").read_text(encoding="utf-8"))
            cfg = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8")) if (d / CONFIG_FILE).is_file() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{d}: unreadable vocab.json/{CONFIG_FILE} ({e}); re-train or fix the file") from None
        merges = []
        for lineno, line in enumerate((d / "merges.txt").read_text(encoding="utf-8").splitlines(), 1):
            if not line or line.startswith("#version"):
                continue
            parts = line.split(" ")
            if len(parts) != 2:
                raise DataError(f"{d / 'merges.txt'}:{lineno}: expected 'left right', got {line!r}")
            merges.append((parts[0], parts[1]))
        cfg.pop("reprlab_kind", None)
        counts = cfg.pop("merge_counts", None)
        return cls(vocab, merges, merge_counts=counts, **cfg)
