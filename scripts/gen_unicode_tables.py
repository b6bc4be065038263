"""Probe the installed HF ``tokenizers`` over every code point and write its Unicode classification.

HF's Rust crate does not use the Unicode tables of the Python that calls it: its BERT normalizer and
pre-tokenizer classify characters with the ``unicode_categories`` crate (``is_other``,
``is_mark_nonspacing``, ``is_punctuation``; an old Unicode version), decompose with
``unicode-normalization-alignments`` (another old version), lower-case with Rust's
``char::to_lowercase`` and split with ``char::is_whitespace`` (the Rust compiler's Unicode version),
and its byte-level pre-tokenizer matches GPT-2's regular expression with Oniguruma's ``\\p{L}`` and
``\\p{N}``. Python's ``unicodedata`` and the ``regex`` module each have yet another version. So the
only reliable source is HF itself: this script feeds every code point (except surrogates, which a
Rust string cannot hold) through HF's own components, many per call, and records what comes out.

Output: ``src/reprlab/tokenizers/_unicode_data.py`` (plain literals, no pickle), read by
:mod:`reprlab.tokenizers.unicode`. Re-run after upgrading ``tokenizers``; the parity tests in
``tests/tokenizers/test_tokenizers_unicode.py`` fail when the tables no longer match.

Run: ``python scripts/gen_unicode_tables.py`` (about 40 s).
"""

from __future__ import annotations

import sys
import time
import unicodedata
from pathlib import Path

import tokenizers
from tokenizers import normalizers, pre_tokenizers

OUT = Path(__file__).resolve().parents[1] / "src/reprlab/tokenizers/_unicode_data.py"
CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
CHUNK = 16384


def normalized_each(normalizer, make=str, sep: str = "\x01", points=CODE_POINTS) -> dict[int, str]:
    """``normalizer(make(c))`` for every code point, many per call, split at ``sep``.

    ``sep`` must come out of the normalizer unchanged and never be produced by another character;
    ``\\x01`` does for NFD/NFKC/lowercase, ``|`` for the BERT normalizer (which removes ``\\x01``).
    """
    out: dict[int, str] = {}
    whole = points
    points = [c for c in points if chr(c) != sep]
    for i in range(0, len(points), CHUNK):
        chunk = points[i:i + CHUNK]
        parts = normalizer.normalize_str(sep.join(make(chr(c)) for c in chunk)).split(sep)
        assert len(parts) == len(chunk), "separator produced or removed by the normalizer"
        out.update(zip(chunk, parts))
    if len(points) < len(whole):
        out[ord(sep)] = normalizer.normalize_str(make(sep))
    return out


def ranges(points) -> tuple[int, ...]:
    """Sorted code points as flattened half-open ranges ``(start0, end0, start1, end1, ...)``."""
    flat: list[int] = []
    for c in sorted(points):
        if flat and flat[-1] == c:
            flat[-1] = c + 1
        else:
            flat += [c, c + 1]
    return tuple(flat)


def bert_classes() -> dict[str, object]:
    bert = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    clean = normalized_each(normalizers.BertNormalizer(**{**bert, "clean_text": True}), sep="|")
    control = {c for c, s in clean.items() if s == ""}
    whitespace = {c for c, s in clean.items() if s == " "}
    changed = control | whitespace
    assert all(s == chr(c) for c, s in clean.items() if c not in changed)
    strip = normalized_each(normalizers.BertNormalizer(**{**bert, "strip_accents": True}), sep="|")
    lower = normalized_each(normalizers.Lowercase())
    nfd = normalized_each(normalizers.NFD())

    # Pre-tokenizer: "a" + c + "a" ... isolates c (punctuation), drops it (whitespace) or keeps one word.
    punctuation, split_ws = set(), set()
    pre = pre_tokenizers.BertPreTokenizer()
    for i in range(0, len(CODE_POINTS), CHUNK):
        chunk = CODE_POINTS[i:i + CHUNK]
        spans = {}
        for _, (s, e) in pre.pre_tokenize_str("".join("a" + chr(c) for c in chunk) + "a"):
            spans.update((k, (s, e)) for k in range(s, e))
        for j, c in enumerate(chunk):
            at = 2 * j + 1
            if at not in spans:
                split_ws.add(c)
            elif spans[at] == (at, at + 1):
                punctuation.add(c)
    # char::is_whitespace; clean_text removes the control characters among them (\x0b \x0c \x85) first
    assert whitespace <= split_ws and split_ws - whitespace <= control
    # strip_accents is NFD, then drop the non-spacing marks: the marks are the NFD-stable characters
    # it removes, and every character's output must follow from its NFD and that set.
    marks = {c for c, s in strip.items() if s == "" and nfd[c] == chr(c)}
    bad = [hex(c) for c, s in strip.items() if s != "".join(x for x in nfd[c] if ord(x) not in marks)]
    assert not bad, f"strip_accents is not NFD minus marks for {bad[:5]}"
    return dict(control=control, whitespace=whitespace, punctuation=punctuation, split_ws=split_ws,
                nfd=nfd, marks=marks, lower=lower)


def combining_classes() -> dict[int, int]:
    """Canonical combining class of every non-starter of HF's NFD (among NFD-stable characters).

    ``NFD("a" + U+0345 + c)`` moves ``c`` before U+0345 (class 240) iff 0 < ccc(c) < 240, and
    ``NFD("a" + c + U+0334)`` moves U+0334 (class 1) before ``c`` iff ccc(c) > 1. The value is
    Python's (combining classes never change once assigned) and is checked against HF's ordering
    with one reference mark per class value.
    """
    nfd = normalizers.NFD()
    same = normalized_each(nfd)
    stable = [c for c in CODE_POINTS if c != 1 and same[c] == chr(c)]
    before = normalized_each(nfd, lambda ch: "a\u0345" + ch)
    after = normalized_each(nfd, lambda ch: "a" + ch + "\u0334")
    ccc = {c: unicodedata.combining(chr(c)) for c in stable
           if before[c] != "a\u0345" + chr(c) or after[c] != "a" + chr(c) + "\u0334"}
    unknown = [hex(c) for c, v in ccc.items() if v == 0]
    assert not unknown, f"Python's unicodedata {unicodedata.unidata_version} lacks HF non-starters {unknown[:5]}"
    refs = {}
    for c, v in sorted(ccc.items()):
        refs.setdefault(v, c)
    for v, r in refs.items():  # c moves before r iff ccc(c) < ccc(r)
        probe = normalized_each(nfd, lambda ch, r=r: "a" + chr(r) + ch, points=sorted(ccc))
        for c, k in ccc.items():
            moved = probe[c] != "a" + chr(r) + chr(c)
            assert moved == (k < v), (hex(c), k, hex(r), v)
    return ccc


def byte_level_classes() -> dict[str, set[int]]:
    """Oniguruma's ``\\p{L}``, ``\\p{N}`` and ``\\s`` as HF's ByteLevel pre-tokenizer applies them.

    In ``"\\n" + lead + c`` the piece starting at ``lead`` spans ``c`` too iff ``c`` is in the class
    that ``lead`` starts (``a``: `` ?\\p{L}+``, ``1``: `` ?\\p{N}+``, ``!``: `` ?[^\\s\\p{L}\\p{N}]+``).
    """
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    classes = {}
    for name, lead in (("letter", "a"), ("number", "1"), ("other", "!")):
        found = set()
        for i in range(0, len(CODE_POINTS), CHUNK):
            chunk = CODE_POINTS[i:i + CHUNK]
            ends = {s: e for _, (s, e) in pre.pre_tokenize_str("".join("\n" + lead + chr(c) for c in chunk))}
            found.update(c for j, c in enumerate(chunk) if ends.get(3 * j + 1) == 3 * j + 3)
        classes[name] = found
    classes["space"] = set(CODE_POINTS) - classes["letter"] - classes["number"] - classes["other"]
    return classes


def mapping(table: dict[int, str]) -> dict[int, str]:
    return {c: s for c, s in sorted(table.items()) if s != chr(c)}


def _wrap(items: list[str], width: int = 96) -> str:
    lines, line = [], ""
    for item in items:
        if line and len(line) + len(item) + 1 > width:
            lines.append(line.rstrip())
            line = ""
        line += item + ", "
    lines.append(line.rstrip())
    return "\n    ".join(lines)


def literal_ranges(name: str, points, comment: str) -> str:
    return f"# {comment}\n{name} = (\n    {_wrap([f'0x{x:X}' for x in ranges(points)])}\n)\n"


def literal_map(name: str, table: dict, comment: str) -> str:
    return f"# {comment}\n{name} = {{\n    {_wrap([f'0x{c:X}: {ascii(v)}' for c, v in table.items()])}\n}}\n"


def hangul_nfd(c: int) -> str:
    """The algorithmic canonical decomposition of a precomposed Hangul syllable (Unicode ch. 3.12)."""
    s = c - 0xAC00
    lead, vowel, trail = 0x1100 + s // 588, 0x1161 + (s % 588) // 28, 0x11A7 + s % 28
    return chr(lead) + chr(vowel) + (chr(trail) if trail != 0x11A7 else "")


def main() -> None:
    t0 = time.perf_counter()
    bert = bert_classes()
    ccc = combining_classes()
    byte = byte_level_classes()
    hangul = range(0xAC00, 0xD7A4)
    assert all(bert["nfd"][c] == hangul_nfd(c) for c in hangul), "HF decomposes Hangul differently"
    nfd_map = {c: s for c, s in mapping(bert["nfd"]).items() if c not in hangul}
    # Only around these can canonical reordering of the whole text change what accent stripping
    # keeps: the non-starters it keeps, and the characters that decompose into one of them.
    kept = {c for c in ccc if c not in bert["marks"]}
    sensitive = kept | {c for c, d in nfd_map.items() if any(ord(x) in kept for x in d)}
    parts = [
        f'"""HF tokenizers {tokenizers.__version__}: Unicode classification of its BERT normalizer and\n'
        "pre-tokenizer and of its byte-level pre-tokenizer, probed over every code point.\n\n"
        "Generated by scripts/gen_unicode_tables.py; do not edit. Ranges are flattened half-open\n"
        '``(start, end, start, end, ...)`` tuples of code points; maps give a character\'s output."""\n\n',
        f'TOKENIZERS_VERSION = "{tokenizers.__version__}"\n\n',
        literal_ranges("BERT_CONTROL", bert["control"], "removed by BertNormalizer(clean_text=True): NUL, U+FFFD, "
                       "unicode_categories is_other() except \\t\\n\\r"),
        literal_ranges("BERT_WHITESPACE", bert["whitespace"], "mapped to ' ' by clean_text: Rust "
                       "char::is_whitespace that is not control"),
        literal_ranges("SPLIT_WHITESPACE", bert["split_ws"], "split on by BertPreTokenizer and "
                       "WhitespaceSplit: Rust char::is_whitespace"),
        literal_ranges("BERT_PUNCTUATION", bert["punctuation"], "isolated by BertPreTokenizer: ASCII "
                       "punctuation or unicode_categories is_punctuation()"),
        literal_map("NFD_MAP", nfd_map, "canonical decomposition (unicode-normalization-alignments) where "
                    "it is not the identity, except the Hangul syllables U+AC00-U+D7A3, which "
                    "decompose by the algorithm of Unicode ch. 3.12"),
        literal_ranges("NONSPACING_MARK", bert["marks"], "removed by strip_accents after NFD: "
                       "unicode_categories is_mark_nonspacing() among NFD-stable characters"),
        literal_map("LOWER_MAP", mapping(bert["lower"]), "Rust char::to_lowercase where it is not the identity"),
        literal_map("COMBINING_CLASS", dict(sorted(ccc.items())), "canonical combining class of the "
                    "non-starters of HF's NFD (canonical reordering)"),
        literal_ranges("REORDER_SENSITIVE", sensitive, "non-starters that strip_accents keeps, and the "
                       "characters decomposing into one: where canonical reordering matters"),
        literal_ranges("BYTE_LETTER", byte["letter"], "\\p{L} of the GPT-2 pattern in HF's ByteLevel "
                       "pre-tokenizer (Oniguruma)"),
        literal_ranges("BYTE_NUMBER", byte["number"], "\\p{N} of the GPT-2 pattern"),
        literal_ranges("BYTE_SPACE", byte["space"], "\\s of the GPT-2 pattern"),
    ]
    OUT.write_text("\n".join(parts), encoding="ascii")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB) from tokenizers {tokenizers.__version__} "
          f"in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
