"""Normalizers: turn raw text into the text a model's vocabulary is written in, tracking offsets.

BERT's normalizer (Devlin et al., 2019, https://arxiv.org/abs/1810.04805, ``BasicTokenizer``; and
the ``BertNormalizer`` of HF tokenizers) applies, per character of the input:

1. clean text: drop NUL, U+FFFD and control characters (Unicode category ``C*`` except
   ``\\t \\n \\r``), map every Unicode ``White_Space`` character to ``" "``;
2. CJK ideographs become ``" c "`` so each one is a word of its own;
3. strip accents (default: when lower-casing): Unicode NFD, then drop non-spacing marks (``Mn``);
4. lower-case, character by character (full Unicode mapping, no final-sigma context, as Rust's
   ``char::to_lowercase``).

Every step acts on one input character at a time, so the output of character ``c`` is a fixed
string ``f(c)`` (possibly empty or longer than one). :class:`BertNormalizer` caches ``f`` in a
per-instance table and returns, with the normalized text, the index of the source character of
every normalized character (``alignment``), from which token offsets into the original text follow.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Rust ``char::is_whitespace`` (the Unicode White_Space property); HF's BERT code also counts \t\n\r.
WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
              "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_WHITESPACE_SET = frozenset(WHITESPACE)

# CJK Unified Ideographs blocks as in Google's BERT ``_is_chinese_char`` (and HF ``is_chinese_char``).
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
CJK_CLASS = "".join(f"{chr(a)}-{chr(b)}" for a, b in _CJK_RANGES)

# ASCII characters whose output differs from ``str.lower`` of themselves: controls (removed) and
# tab/newline/carriage return (become spaces). Everything else in ASCII maps 1:1.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ASCII_SPACES = str.maketrans("\t\n\r", "   ")


def is_cjk(ch: str) -> bool:
    """True for a CJK Unified Ideograph (the ranges BERT splits one per token)."""
    cp = ord(ch)
    return any(a <= cp <= b for a, b in _CJK_RANGES)


def is_control(ch: str) -> bool:
    """Unicode category ``C*`` (Cc, Cf, Cs, Co, Cn), except tab, newline and carriage return."""
    return ch not in "\t\n\r" and unicodedata.category(ch)[0] == "C"


@dataclass
class BertNormalizer:
    """BERT text normalization with character alignment (see the module docstring for the steps).

    Parameters
    ----------
    lowercase : bool
        Lower-case every character (``True`` for uncased vocabularies).
    strip_accents : bool or None
        NFD + drop ``Mn``; ``None`` means "same as ``lowercase``" (BERT's convention).
    clean_text : bool
        Remove control characters and map all whitespace to ``" "``.
    handle_chinese_chars : bool
        Surround CJK ideographs with spaces.
    """

    lowercase: bool = True
    strip_accents: bool | None = None
    clean_text: bool = True
    handle_chinese_chars: bool = True
    _table: dict[int, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def strips_accents(self) -> bool:
        return self.lowercase if self.strip_accents is None else self.strip_accents

    def char(self, ch: str) -> str:
        """The normalized form ``f(ch)`` of one character (cached)."""
        out = self._table.get(ord(ch))
        if out is None:
            out = self._table[ord(ch)] = self._compute(ch)
        return out

    def _compute(self, ch: str) -> str:
        if self.clean_text:
            if ch == "\0" or ch == "\ufffd" or is_control(ch):
                return ""
            if ch in _WHITESPACE_SET:
                return " "
        out = ch
        if self.strips_accents:  # NFD also maps CJK compatibility ideographs to unified ones
            out = "".join(c for c in unicodedata.normalize("NFD", out) if unicodedata.category(c) != "Mn")
        if self.lowercase:
            out = "".join(c.lower() for c in out)
        if self.handle_chinese_chars and is_cjk(ch):
            return f" {out} "
        return out

    def normalize(self, text: str) -> tuple[str, list[int] | None]:
        """Normalize ``text``.

        Returns
        -------
        normalized : str
        alignment : list of int or None
            ``alignment[j]`` is the index in ``text`` of the character that produced normalized
            character ``j``; ``None`` means the identity (every character mapped to one character).
        """
        if text.isascii() and self.clean_text:
            if not _ASCII_CONTROL.search(text):
                out = text.translate(_ASCII_SPACES)
                return (out.lower() if self.lowercase else out), None
        table = self._table
        pieces: list[str] = []
        alignment: list[int] = []
        identity = True
        for i, ch in enumerate(text):
            out = table.get(ord(ch))
            if out is None:
                out = self.char(ch)
            pieces.append(out)
            if len(out) == 1:
                alignment.append(i)
            else:
                identity = False
                alignment.extend([i] * len(out))
        return "".join(pieces), (None if identity else alignment)

    def __call__(self, text: str) -> str:
        return self.normalize(text)[0]
