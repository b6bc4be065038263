"""HF tokenizers' own Unicode classification, so that every code point is tokenized as HF does.

HF's Rust crate does not use the Unicode tables of the Python that calls it. Its BERT normalizer and
pre-tokenizer classify with the ``unicode_categories`` crate (an old Unicode version), decompose with
``unicode-normalization-alignments`` (another), lower-case with Rust's ``char::to_lowercase`` and
split with ``char::is_whitespace`` (the Rust compiler's version); its byte-level pre-tokenizer runs
GPT-2's regular expression in Oniguruma. Python's ``unicodedata`` and the ``regex`` module each
carry yet another version. ``scripts/gen_unicode_tables.py`` probes the installed HF over every code
point and writes what it does into :mod:`reprlab.tokenizers._unicode_data`; this module answers
questions from those tables and builds the splitting patterns from them.

With tokenizers 0.23.3, against Python 3.11 (``unicodedata`` 14.0) and ``regex`` 2026.11:

* unassigned code points (``Cn``, 829,834 of them, e.g. U+0378, U+3040, U+FFFF) are not control
  characters for HF: they stay in the text (and become ``[UNK]``), where Python's category ``C*``
  would delete them; 13 format characters newer than HF's tables (U+0890, U+13430, ...) stay too;
* 384 non-spacing marks newer than HF's tables (U+08D4, U+1E000, ...) are not stripped as accents,
  and U+1734 (``Mn`` in older Unicode, ``Mc`` now) is; NFD does not decompose U+11938, and 98 newer
  combining marks (U+07FD, U+1183A, U+1E130, ...) are starters, so NFD does not reorder them;
* punctuation: 104 punctuation characters newer than HF's tables (U+0A76, U+2E44, ...) are word
  characters for HF, while U+166D and U+111C9, punctuation in old Unicode, are isolated;
* ``char::to_lowercase`` knows 55 capitals (U+1C89, U+A7CB, ...) that Python 3.11 calls unassigned;
* Oniguruma's ``\\p{L}`` has 17,144 fewer letters and ``\\p{N}`` 336 fewer numbers than ``regex``'s.

Lookups use :func:`bisect.bisect_right` on flattened half-open ranges; the patterns are compiled for
the standard ``re`` module from explicit character classes (bitmaps, faster than ``regex``'s
``\\p{..}``), with astral characters matched through stand-ins (:class:`UnicodePattern`). Strings
with lone surrogates cannot be given to HF at all (a Rust ``str`` cannot hold them);
:func:`check_text` refuses them with a clear error instead.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from reprlab.errors import DataError
from reprlab.tokenizers import _unicode_data as _tables

Ranges = tuple[int, ...]  # flattened half-open (start, end, start, end, ...)

# CJK Unified Ideographs blocks as in Google's BERT ``_is_chinese_char`` and HF's ``is_chinese_char``
# (fixed code point ranges in their code, not a Unicode property).
CJK_RANGES: Ranges = (0x3400, 0x4DC0, 0x4E00, 0xA000, 0xF900, 0xFB00, 0x20000, 0x2A6E0, 0x2A700, 0x2B820,
                      0x2B920, 0x2CEB0, 0x2F800, 0x2FA20)
TOKENIZERS_VERSION = _tables.TOKENIZERS_VERSION
WHITESPACE_RANGES: Ranges = _tables.SPLIT_WHITESPACE  # Rust char::is_whitespace
_SURROGATE = re.compile("[\ud800-\udfff]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def in_ranges(ranges: Ranges, ch: str) -> bool:
    """True if the code point of ``ch`` lies in one of the half-open ``ranges``."""
    return bisect_right(ranges, ord(ch)) & 1 == 1


def is_control(ch: str) -> bool:
    """Removed by BERT's ``clean_text``: NUL, U+FFFD and HF's ``is_other()`` except ``\\t\\n\\r``."""
    return in_ranges(_tables.BERT_CONTROL, ch)


def is_bert_whitespace(ch: str) -> bool:
    """Mapped to ``" "`` by BERT's ``clean_text`` (``char::is_whitespace`` that is not control)."""
    return in_ranges(_tables.BERT_WHITESPACE, ch)


def is_whitespace(ch: str) -> bool:
    """Rust ``char::is_whitespace``: what BERT's pre-tokenizer and ``WhitespaceSplit`` split on."""
    return in_ranges(_tables.SPLIT_WHITESPACE, ch)


def is_punctuation(ch: str) -> bool:
    """Isolated by BERT's pre-tokenizer: ASCII punctuation or HF's ``is_punctuation()``."""
    return in_ranges(_tables.BERT_PUNCTUATION, ch)


def is_chinese_char(ch: str) -> bool:
    """A CJK Unified Ideograph: BERT surrounds it with spaces so that it is a word of its own."""
    return in_ranges(CJK_RANGES, ch)


def is_nonspacing_mark(ch: str) -> bool:
    """Dropped by BERT's accent stripping (HF's ``is_mark_nonspacing()``) after NFD."""
    return in_ranges(_tables.NONSPACING_MARK, ch)


def combining_class(ch: str) -> int:
    """Canonical combining class in HF's NFD tables (0 for starters)."""
    return _tables.COMBINING_CLASS.get(ord(ch), 0)


def nfd(ch: str) -> str:
    """Canonical decomposition of one character with HF's tables (Hangul syllables by algorithm)."""
    cp = ord(ch)
    if 0xAC00 <= cp <= 0xD7A3:  # Unicode ch. 3.12: L V (T)
        s = cp - 0xAC00
        trail = s % 28
        return chr(0x1100 + s // 588) + chr(0x1161 + (s % 588) // 28) + (chr(0x11A7 + trail) if trail else "")
    return _tables.NFD_MAP.get(cp, ch)


def lowercase(ch: str) -> str:
    """Rust ``char::to_lowercase`` of one character (no final-sigma context, as HF)."""
    return _tables.LOWER_MAP.get(ord(ch), ch)


def surrogate_error(ch: str, index: int | None = None) -> DataError:
    """The error for a lone surrogate ``ch`` (at character ``index`` of the text, if known)."""
    where = f" at character {index}" if index is not None else ""
    return DataError(f"the text holds a lone surrogate U+{ord(ch):04X}{where}, which is not a Unicode "
                     "character (HF tokenizers refuses it too); decode the input with errors='replace' "
                     "or join surrogate pairs with .encode('utf-16', 'surrogatepass').decode('utf-16')")


def check_text(text: str) -> None:
    """Refuse a string with a lone surrogate: HF cannot take it (a Rust string is valid UTF-8).

    Raises
    ------
    DataError
        Naming the first surrogate's code point and position.
    """
    if not text.isascii():
        m = _SURROGATE.search(text)
        if m is not None:
            raise surrogate_error(m.group(), m.start())


def char_class(ranges: Ranges, *, bmp: bool) -> str:
    """The body of a ``re`` character class for ``ranges`` (only the BMP part if ``bmp``)."""
    out = []
    for a, b in zip(ranges[::2], ranges[1::2]):
        if bmp:
            if a > 0xFFFF:
                break
            b = min(b, 0x10000)
        last = b - 1
        out.append(re.escape(chr(a)) + ("" if last == a else "-" + re.escape(chr(last))))
    return "".join(out)


def onig_class(ranges: Ranges) -> str:
    """The body of an Oniguruma character class (HF's ``Regex``) for ``ranges``, as ``\\x{..}`` escapes."""
    return "".join(f"\\x{{{a:X}}}" + ("" if b - 1 == a else f"-\\x{{{b - 1:X}}}")
                   for a, b in zip(ranges[::2], ranges[1::2]))


@dataclass(frozen=True)
class UnicodePattern:
    """A splitting pattern over HF's character classes; astral characters go through BMP stand-ins.

    ``re`` stores the Basic Multilingual Plane part of a character class as a bitmap but checks
    astral ranges one by one after every bitmap miss, which made the full classes twice as slow as
    ``regex`` on text with emoji. So ``pattern`` holds only the BMP part, and in a text with astral
    characters each one is first replaced by a BMP character of the same class (``stand_in``);
    the lengths stay equal, so the spans index the original text.
    """

    pattern: re.Pattern
    stand_in: Callable[[re.Match], str]

    def _target(self, text: str) -> str:
        if text.isascii() or _ASTRAL.search(text) is None:
            return text
        return _ASTRAL.sub(self.stand_in, text)

    def findall(self, text: str) -> list[str]:
        """The matched substrings of ``text``."""
        target = self._target(text)
        if target is text:
            return self.pattern.findall(text)
        return [text[m.start():m.end()] for m in self.pattern.finditer(target)]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` of every match in ``text``."""
        return [m.span() for m in self.pattern.finditer(self._target(text))]


def _compile(template: str, stand_in: Callable[[str], str], **classes: Ranges) -> UnicodePattern:
    """``template`` with ``{name}`` replaced by the BMP class body of each named range set."""
    pattern = re.compile(template.format(**{k: char_class(v, bmp=True) for k, v in classes.items()}))
    return UnicodePattern(pattern, lambda m: stand_in(m.group()))


def _no_astral(ranges: Ranges) -> Ranges:
    assert not ranges or ranges[-1] <= 0x10000, "an astral character in a class with no stand-in"
    return ranges


@cache
def bert_word_pattern() -> UnicodePattern:
    """BERT's pre-tokenizer: runs of non-space non-punctuation characters, or one punctuation character."""
    return _compile("[^{ws}{p}]+|[{p}]", lambda ch: "!" if is_punctuation(ch) else "a",
                    ws=_no_astral(_tables.SPLIT_WHITESPACE), p=_tables.BERT_PUNCTUATION)


@cache
def whitespace_word_pattern() -> UnicodePattern:
    """Runs of characters that are not ``char::is_whitespace``."""
    return _compile("[^{ws}]+", lambda ch: "a", ws=_no_astral(_tables.SPLIT_WHITESPACE))


def _gpt2_stand_in(ch: str) -> str:
    # "a", "1" and "!" are a letter, a number and neither; none can complete a contraction ('s ...)
    return "a" if in_ranges(_tables.BYTE_LETTER, ch) else "1" if in_ranges(_tables.BYTE_NUMBER, ch) else "!"


@cache
def gpt2_pattern() -> UnicodePattern:
    """GPT-2's pre-tokenization pattern with HF's (Oniguruma's) ``\\p{L}``, ``\\p{N}`` and ``\\s``."""
    return _compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[{L}]+| ?[{N}]+| ?[^{s}{L}{N}]+|[{s}]+(?![^{s}])|[{s}]+",
                    _gpt2_stand_in, L=_tables.BYTE_LETTER, N=_tables.BYTE_NUMBER, s=_no_astral(_tables.BYTE_SPACE))


@cache
def bert_unchanged() -> Ranges:
    """Characters that every setting of BERT's normalizer leaves as they are (most of Unicode).

    The complement of control, whitespace, CJK ideographs, non-spacing marks, Hangul syllables,
    surrogates and every character with a decomposition or a lower case.
    """
    covered = [(c, c + 1) for c in (*_tables.NFD_MAP, *_tables.LOWER_MAP)]
    for table in (_tables.BERT_CONTROL, _tables.BERT_WHITESPACE, _tables.NONSPACING_MARK, CJK_RANGES,
                  (0xAC00, 0xD7A4, 0xD800, 0xE000)):
        covered += zip(table[::2], table[1::2])
    out: list[int] = []
    position = 0
    for a, b in sorted(covered):
        if a > position:
            out += [position, a]
        position = max(position, b)
    return tuple(out + [position, 0x110000]) if position < 0x110000 else tuple(out)


def is_reorder_sensitive(ch: str) -> bool:
    """A character whose decomposition holds a non-starter that accent stripping keeps.

    Only around those can NFD's canonical reordering of a whole text (which HF applies) differ from
    decomposing character by character: the marks it moves are otherwise all removed.
    """
    return in_ranges(_tables.REORDER_SENSITIVE, ch)


@cache
def reorder_sensitive_pattern() -> re.Pattern:
    """Matches the characters of :func:`is_reorder_sensitive`."""
    return re.compile("[" + char_class(_tables.REORDER_SENSITIVE, bmp=False) + "]")
