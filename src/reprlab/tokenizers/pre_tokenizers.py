"""Pre-tokenizers: split normalized text into words, each with its span in the normalized text.

* :class:`BertPreTokenizer` — BERT's ``BasicTokenizer`` split: whitespace separates words and is
  dropped; every punctuation character (ASCII punctuation ``!-/ :-@ [-` {-~`` and Unicode ``P*``)
  is a word of its own.
* :class:`WhitespaceSplit` — runs of non-whitespace (classic Sennrich BPE on pre-split words).
* :class:`ByteLevel` — GPT-2's regular expression, then every UTF-8 byte of a word is written as
  one printable character (Radford et al., 2019, "Language Models are Unsupervised Multitask
  Learners", the ``bytes_to_unicode`` table), so any text is covered by 256 base symbols.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import regex

from reprlab.tokenizers.normalizers import WHITESPACE

Span = tuple[int, int]

_WS = regex.escape(WHITESPACE)
# ASCII punctuation by BERT's definition (includes $ + < = > ^ ` | ~, which Unicode files as S*).
_PUNCT = r"\p{P}!-/:-@\[-`{-~"
BERT_WORD = regex.compile(rf"[^{_WS}{_PUNCT}]+|[{_PUNCT}]")
WHITESPACE_WORD = regex.compile(rf"[^{_WS}]+")
GPT2_PATTERN = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


@dataclass(frozen=True)
class BertPreTokenizer:
    """Split on whitespace (removed) and punctuation (kept, one character per word)."""

    def split(self, text: str) -> list[tuple[str, int, int]]:
        """``(word, start, end)`` for every word of ``text`` (spans index ``text``)."""
        return [(m.group(), m.start(), m.end()) for m in BERT_WORD.finditer(text)]

    def words(self, text: str) -> list[str]:
        return BERT_WORD.findall(text)


@dataclass(frozen=True)
class WhitespaceSplit:
    """Split on whitespace only."""

    def split(self, text: str) -> list[tuple[str, int, int]]:
        return [(m.group(), m.start(), m.end()) for m in WHITESPACE_WORD.finditer(text)]

    def words(self, text: str) -> list[str]:
        return WHITESPACE_WORD.findall(text)


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (printable Latin-1 bytes map to themselves)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@dataclass(frozen=True)
class ByteLevel:
    """GPT-2 byte-level split: regex words, then bytes written as printable characters.

    Parameters
    ----------
    add_prefix_space : bool
        Prepend a space to the text so the first word is treated like every other one.
    """

    add_prefix_space: bool = False

    def _pieces(self, text: str) -> Iterator[tuple[str, int, int, tuple[int, ...]]]:
        shift = 0
        if self.add_prefix_space and not text.startswith(" "):
            text, shift = " " + text, 1
        table = latin1_to_gpt2()
        for m in GPT2_PATTERN.finditer(text):
            word = m.group().encode("utf-8").decode("latin-1").translate(table)
            # character (of ``text``) of every byte symbol, so piece spans map back to characters
            chars = tuple(max(m.start() + i - shift, 0) for i, ch in enumerate(m.group())
                          for _ in range(len(ch.encode("utf-8"))))
            yield word, max(m.start() - shift, 0), m.end() - shift, chars

    def split(self, text: str) -> list[tuple[str, int, int, tuple[int, ...]]]:
        """``(byte-word, start, end, char_of_byte)``; spans are character offsets into ``text``."""
        return list(self._pieces(text))

    def words(self, text: str) -> list[str]:
        if self.add_prefix_space and not text.startswith(" "):
            text = " " + text
        table = latin1_to_gpt2()
        return [w.encode("utf-8").decode("latin-1").translate(table) for w in GPT2_PATTERN.findall(text)]


@lru_cache(maxsize=1)
def latin1_to_gpt2() -> dict[int, str]:
    """``str.translate`` table: a byte read as Latin-1 -> its GPT-2 printable character."""
    return {b: c for b, c in bytes_to_unicode().items()}


def byte_decode(tokens_text: str) -> str:
    """Invert :func:`bytes_to_unicode` on a string of byte characters (invalid UTF-8 -> U+FFFD)."""
    inverse = {c: b for b, c in bytes_to_unicode().items()}
    return bytes(inverse[c] for c in tokens_text if c in inverse).decode("utf-8", errors="replace")
