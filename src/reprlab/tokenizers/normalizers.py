"""Normalizers: turn raw text into the text a model's vocabulary is written in, tracking offsets.

BERT's normalizer (Devlin et al., 2019, https://arxiv.org/abs/1810.04805, ``BasicTokenizer``; and
the ``BertNormalizer`` of HF tokenizers) applies, in this order:

1. clean text: drop NUL, U+FFFD and control characters, map whitespace to ``" "``;
2. CJK ideographs become ``" c "`` so each one is a word of its own;
3. strip accents (default: when lower-casing): NFD, then drop non-spacing marks;
4. lower-case, character by character (no final-sigma context, as Rust's ``char::to_lowercase``).

Which characters are "control", "whitespace", "non-spacing marks", their decompositions and their
lower case are HF's, for every code point (:mod:`reprlab.tokenizers.unicode`), not Python's.

Every step but one acts on one input character at a time, so the output of character ``c`` is a
fixed string ``f(c)`` (possibly empty or longer than one). :class:`BertNormalizer` caches ``f`` in
a per-instance table and returns, with the normalized text, the index of the source character of
every normalized character (``alignment``), from which token offsets into the original text follow.
The exception is NFD's canonical reordering of a run of combining marks, which HF applies to the
whole text: it can only change the result when a kept mark (a spacing one such as U+1D165, or one
newer than HF's mark table) is moved, so texts holding such a character take an exact replay of
HF's steps and alignment rules (:meth:`BertNormalizer._normalize_exact`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reprlab.tokenizers.unicode import (
    bert_unchanged,
    combining_class,
    in_ranges,
    is_bert_whitespace,
    is_chinese_char,
    is_control,
    is_nonspacing_mark,
    is_reorder_sensitive,
    lowercase,
    nfd,
    reorder_sensitive_pattern,
    surrogate_error,
)

# ASCII characters whose output differs from ``str.lower`` of themselves: controls (removed) and
# tab/newline/carriage return (become spaces). Everything else in ASCII maps 1:1.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ASCII_SPACES = str.maketrans("\t\n\r", "   ")


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
        """The normalized form ``f(ch)`` of one character (cached).

        When stripping accents, reorder-sensitive characters are never cached, so that every text
        holding one reaches the cache-miss branch of :meth:`normalize`, which then re-normalizes
        their runs exactly; other texts pay nothing for the check.
        """
        out = self._table.get(ord(ch))
        if out is None:
            out = self._compute(ch)
            if not (self.strips_accents and is_reorder_sensitive(ch)):
                self._table[ord(ch)] = out
        return out

    def _compute(self, ch: str) -> str:
        if in_ranges(bert_unchanged(), ch):
            return ch
        if "\ud800" <= ch <= "\udfff":
            raise surrogate_error(ch)
        if self.clean_text:
            if is_control(ch):  # NUL and U+FFFD included
                return ""
            if is_bert_whitespace(ch):
                return " "
        out = ch
        if self.strips_accents:  # NFD also maps CJK compatibility ideographs to unified ones
            out = "".join(c for c in nfd(ch) if not is_nonspacing_mark(c))
        if self.lowercase:
            out = "".join(map(lowercase, out))
        if self.handle_chinese_chars and is_chinese_char(ch):
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
        reorder = False
        for i, ch in enumerate(text):
            mapped = table.get(ord(ch))
            if mapped is None:  # first sight of ch, or a reorder-sensitive character (never cached)
                mapped = self.char(ch)
                reorder = reorder or (self.strips_accents and is_reorder_sensitive(ch))
            pieces.append(mapped)
            if len(mapped) == 1:
                alignment.append(i)
            else:
                identity = False
                alignment.extend([i] * len(mapped))
        normalized = "".join(pieces)
        if reorder:
            return self._splice_exact(text, pieces, normalized, alignment)
        return normalized, (None if identity else alignment)

    def _run_boundary(self, ch: str) -> bool:
        """True if ``ch`` starts a new run for NFD's reordering (it is kept and begins with a starter)."""
        if self.clean_text and is_control(ch):
            return False  # removed before NFD, so the marks around it meet
        return combining_class(nfd(ch)[0]) == 0

    def _splice_exact(self, text: str, pieces: list[str], normalized: str,
                      alignment: list[int]) -> tuple[str, list[int]]:
        """Re-normalize, exactly, only the runs of marks around reorder-sensitive characters.

        ``pieces[i]`` is ``f(text[i])``, ``normalized`` and ``alignment`` their per-character
        result. Canonical reordering never crosses a starter, so each sensitive character's span,
        from the starter before it to the next starter, is replaced by :meth:`_normalize_exact`
        of that span; the rest keeps its per-character output.
        """
        out: list[str] = []
        aligned: list[int] = []
        done = position = 0  # source index and normalized position reached
        for m in reorder_sensitive_pattern().finditer(text):
            at = m.start()
            if at < done:
                continue  # inside the span just replaced
            start, end = at, at + 1
            while start > done and not self._run_boundary(text[start]):
                start -= 1
            while end < len(text) and not self._run_boundary(text[end]):
                end += 1
            span_start = position + sum(map(len, pieces[done:start]))
            span_end = span_start + sum(map(len, pieces[start:end]))
            span_text, span_alignment = self._normalize_exact(text[start:end])
            out += [normalized[position:span_start], span_text]
            aligned += alignment[position:span_start]
            aligned += [start + a for a in span_alignment]
            done, position = end, span_end
        out.append(normalized[position:])
        aligned += alignment[position:]
        return "".join(out), aligned

    def _normalize_exact(self, text: str) -> tuple[str, list[int]]:
        """HF's steps on the whole text, with NFD's canonical reordering and HF's alignment rules.

        HF's ``NormalizedString.transform`` takes a stream of ``(char, change)``: ``change == 0``
        replaces the next character of the current text and inherits its alignment, ``1`` inserts a
        character aligned like the last replaced one. NFD emits each decomposition as ``(first, 0)``
        then ``(rest, 1)`` and sorts every run of non-starters by combining class, the changes
        travelling with the characters; so a mark moved forward takes its new position's source.
        """
        stage: list[tuple[str, int]] = []  # after clean_text and CJK spacing: (character, source index)
        for i, ch in enumerate(text):
            if self.clean_text:
                if is_control(ch):
                    continue
                if is_bert_whitespace(ch):
                    ch = " "
            if self.handle_chinese_chars and is_chinese_char(ch):
                stage += [(" ", i), (ch, i), (" ", i)]
            else:
                stage.append((ch, i))
        items = [(c, k > 0) for ch, _ in stage for k, c in enumerate(nfd(ch))]  # (char, inserted)
        start = 0
        while start < len(items):  # canonical ordering: stable sort of each run of non-starters
            if combining_class(items[start][0]) == 0:
                start += 1
                continue
            end = start
            while end < len(items) and combining_class(items[end][0]) > 0:
                end += 1
            items[start:end] = sorted(items[start:end], key=lambda item: combining_class(item[0]))
            start = end
        pieces: list[str] = []
        alignment: list[int] = []
        consumed = -1
        for c, inserted in items:
            if not inserted:
                consumed += 1
            if is_nonspacing_mark(c):
                continue
            out = lowercase(c) if self.lowercase else c
            pieces.append(out)
            alignment += [stage[consumed][1]] * len(out)
        return "".join(pieces), alignment

    def __call__(self, text: str) -> str:
        """The normalized text alone (no alignment is built)."""
        if text.isascii() and self.clean_text and not _ASCII_CONTROL.search(text):
            out = text.translate(_ASCII_SPACES)
            return out.lower() if self.lowercase else out
        table = self._table
        try:
            return "".join([table[ord(ch)] for ch in text])
        except KeyError:  # unseen or reorder-sensitive characters: the full path
            return self.normalize(text)[0]
