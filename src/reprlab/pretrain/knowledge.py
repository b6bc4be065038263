"""Phrase and entity spans for ERNIE 1.0 knowledge masking, detected at ``prepare`` time.

ERNIE 1.0 (Sun et al. 2019, "ERNIE: Enhanced Representation through Knowledge Integration",
section 3.2) masks whole *phrases* and *entities* — every piece of a chosen unit together — instead
of single pieces. This module finds those units in a corpus and stores them with the shards as two
per-token arrays (:func:`prepare_knowledge_shards`):

``span_start`` (uint8)
    1 at the first piece of every masking group: a phrase, an entity, or — outside them — a plain
    word. Knowledge masking is whole-group masking over these groups
    (:mod:`reprlab.pretrain.knowledge_masking`).
``span_kind`` (uint8)
    At every piece: 0 plain word, 1 phrase (:data:`PHRASE`), 2 entity (:data:`ENTITY`).

Spans are runs of whole words of one sentence (a word is the tokenizer's: the pieces of equal
``word_ids``); the word's *key* is its raw text (from the encoding's offsets) lower-cased, so
matching ignores case and works for WordPiece and byte-level BPE alike. Two sources:

**A lexicon** (``--lexicon FILE``, ``spans="lexicon"``): one entry per line, ``TEXT`` or
``TEXT<TAB>phrase`` / ``TEXT<TAB>entity``; without a kind, an entry whose raw text starts with an
upper-case letter is an entity, else a phrase. Entries are split into words by the same tokenizer
and matched over the word stream by a token trie (:class:`LexiconMatcher`) with the
*leftmost-longest* rule: scanning left to right, at each word the longest entry that starts there
wins and the scan resumes after it, so chosen spans never overlap; an entry overlapping an earlier
chosen span is not matched there (``a b`` + ``b c`` on ``a b c`` gives ``[a b] c``). Empty lines
are skipped, a repeated entry keeps its first kind, entries of more than ``max_span_pieces``
pieces are dropped, and entries that never occur in the corpus are reported — each with a count
in one warning.

**Built-in detection** (``spans="auto"``), from corpus-wide counts of the words of the tokenized
corpus (one tokenization: the shards are written with the words' keys as scratch arrays, counted,
and the span arrays computed from them shard by shard, :func:`auto_span_arrays`):

- *entities*: maximal runs of capitalised words in the raw, cased text that hold at least one
  *name* — a word of two or more characters capitalised in at least ``proper_min_share`` of its
  occurrences *inside* sentences (sentence-initial capitals say nothing). A sentence's first word
  joins a run only if it is a name (``And`` of ``And God said`` does not), one-character words only
  if they are names (``I``, ``O`` are not); runs are cut into chunks of at most ``max_span_words``
  (``Holy Ghost``, ``Mary Magdalene``, ``LORD``);
- *phrases*: collocations by normalised pointwise mutual information (Bouma 2009),

      npmi(x, y) = ln( p(x, y) / (p(x) p(y)) ) / -ln p(x, y)   in [-1, 1],

  over adjacent word pairs of a sentence, p(x) = c(x) / N_words, p(x, y) = c(x, y) / N_pairs; a
  pair with c(x, y) >= ``npmi_min_count`` and npmi >= ``npmi_threshold``, both words alphanumeric,
  is a collocation, and a maximal chain of collocated pairs outside entities is a phrase (cut into
  consecutive chunks of at most ``max_span_words`` words; a one-word rest is a plain word).
  Entities are found first; phrases never include an entity word.

Everything is deterministic: counts are sums over documents, ties broken by position, and the bytes
written depend on the corpus, the tokenizer and this config only (not on ``workers``).
"""

from __future__ import annotations

import collections
import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError, MissingDataError
from reprlab.pretrain.shards import (
    DocumentEncoder,
    EncodedDocument,
    PrepareConfig,
    PrepareResult,
    encode_document,
    prepare_shards,
)

log = logging.getLogger(__name__)

WORD, PHRASE, ENTITY = 0, 1, 2
KINDS = {"word": WORD, "phrase": PHRASE, "entity": ENTITY}
SPAN_ARRAYS = {"span_start": "uint8", "span_kind": "uint8"}

Span = tuple[int, int, int]  # (first word, end word (exclusive), kind)


@dataclass
class SpanConfig:
    """How ``prepare`` finds phrase and entity spans (``reprlab pretrain prepare --spans ...``)."""

    spans: Literal["none", "auto", "lexicon"] = "none"  # auto: NPMI phrases + capitalised entities
    lexicon: str = ""  # lexicon file (one entry per line) for spans="lexicon"
    npmi_threshold: float = 0.5  # auto: a word pair with npmi >= this is a collocation
    npmi_min_count: int = 10  # auto: ... and occurs at least this often
    proper_min_share: float = 0.5  # auto: a capitalised word is a name when capitalised this often mid-sentence
    max_span_words: int = 4  # auto: phrases and entity runs are cut into chunks of at most this many words
    max_span_pieces: int = 16  # lexicon entries with more pieces are dropped (reported)

    def validate(self) -> None:
        check_choices(self)
        if self.spans == "lexicon" and not self.lexicon:
            raise ConfigError("spans='lexicon' needs a lexicon file: --lexicon FILE (one phrase or entity per line)")
        if self.spans != "lexicon" and self.lexicon:
            raise ConfigError(f"--lexicon FILE and --spans {self.spans} exclude each other: a lexicon replaces "
                              "the built-in detection (drop one of them)")
        if not -1.0 <= self.npmi_threshold <= 1.0:
            raise ConfigError(f"npmi_threshold={self.npmi_threshold}: must be in [-1, 1] (NPMI's range)")
        if self.npmi_min_count < 1 or self.max_span_words < 1 or self.max_span_pieces < 1:
            raise ConfigError("npmi_min_count, max_span_words and max_span_pieces must be >= 1")
        if not 0.0 <= self.proper_min_share <= 1.0:
            raise ConfigError(f"proper_min_share={self.proper_min_share}: must be in [0, 1]")


# ------------------------------------------------------------------------------------ words
def sentence_words(enc: Any, text: str) -> tuple[list[int], list[str], list[bool]]:
    """Words of one encoded sentence: first piece index of each, keys (lower-cased raw text), capitalised.

    A word is a run of equal ``enc.word_ids``; its raw text runs from its first piece's start
    offset to its last piece's end offset, without surrounding white space (a byte-level BPE
    word's first piece holds the space before it).
    """
    wids, offs = enc.word_ids, enc.offsets
    starts = [i for i in range(len(wids)) if i == 0 or wids[i] != wids[i - 1]]
    ends = starts[1:] + [len(wids)]
    raw = [text[offs[s][0]:offs[e - 1][1]].strip() for s, e in zip(starts, ends)]  # byte-level BPE: "Ġword"
    return starts, [w.lower() for w in raw], [bool(w) and w[0].isupper() for w in raw]


class _Recorder:
    """A tokenizer proxy that keeps every encoding ``encode_document`` asks for (one tokenization)."""

    def __init__(self, tokenizer: Any):
        self._tokenizer = tokenizer
        self.encodings: list[tuple[str, Any]] = []

    def encode_sequence(self, text: str) -> Any:
        enc = self._tokenizer.encode_sequence(text)
        self.encodings.append((text, enc))
        return enc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)


# ------------------------------------------------------------------------------------ lexicon
@dataclass
class Lexicon:
    """Parsed lexicon entries (word-key tuples) and what parsing dropped."""

    entries: list[tuple[str, ...]] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)
    pieces: list[int] = field(default_factory=list)  # pieces per entry
    source: str = ""
    empty: int = 0
    duplicates: int = 0
    too_long: int = 0
    prefixes: int = 0  # entries that are a prefix of a longer entry (the longer one wins where both fit)


def parse_lexicon(lines: Iterable[str], tokenizer: Any, max_span_pieces: int = 16, source: str = "") -> Lexicon:
    """Lexicon entries from text lines (``TEXT`` or ``TEXT<TAB>phrase|entity``); see the module docstring.

    Raises
    ------
    DataError
        An unknown kind after the tab (file and line named).
    """
    lex = Lexicon(source=source)
    seen: set[tuple[str, ...]] = set()
    for number, line in enumerate(lines, 1):
        text, _, kind = line.rstrip("\r\n").partition("\t")
        text, kind = text.strip(), kind.strip().lower()
        if not text:
            lex.empty += 1
            continue
        if kind and kind not in ("phrase", "entity"):
            raise DataError(f"{source or 'lexicon'}:{number}: kind {kind!r} after the tab; use 'phrase' or "
                            "'entity' (or no tab: a capitalised entry is an entity)")
        enc = tokenizer.encode_sequence(text)
        if not enc.ids:
            lex.empty += 1
            continue
        _, keys, _ = sentence_words(enc, text)
        entry = tuple(keys)
        if entry in seen:
            lex.duplicates += 1
            continue
        if len(enc.ids) > max_span_pieces:
            lex.too_long += 1
            continue
        seen.add(entry)
        lex.entries.append(entry)
        lex.kinds.append(KINDS[kind] if kind else (ENTITY if text[0].isupper() else PHRASE))
        lex.pieces.append(len(enc.ids))
    prefixes = {e[:n] for e in lex.entries for n in range(1, len(e))}
    lex.prefixes = sum(e in prefixes for e in lex.entries)
    return lex


def read_lexicon(path: str | Path, tokenizer: Any, max_span_pieces: int = 16) -> Lexicon:
    """:func:`parse_lexicon` of a UTF-8 file.

    Raises
    ------
    MissingDataError
        The file does not exist.
    DataError
        It is a directory, unreadable, or not UTF-8 (the line is named).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise MissingDataError(f"{p}: lexicon file not found; pass --lexicon FILE with one phrase or entity "
                               "per line") from None
    except IsADirectoryError:
        raise DataError(f"{p}: is a directory; --lexicon takes a text file (one phrase or entity per line)") from None
    except OSError as e:
        raise DataError(f"{p}: cannot read the lexicon ({e.strerror or e}); make it readable") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{p}:{line}: not valid UTF-8 ({e.reason}); save the lexicon as UTF-8") from None
    lex = parse_lexicon(text.removeprefix("\ufeff").splitlines(), tokenizer, max_span_pieces, source=str(p))
    if not lex.entries:
        raise DataError(f"{p}: the lexicon has no entries ({lex.empty} empty lines); put one phrase or entity "
                        "per line")
    return lex


class LexiconMatcher:
    """Token trie over word-key sequences; :meth:`match` finds the leftmost-longest spans.

    Parameters
    ----------
    entries : sequence of tuple of str
        Word-key sequences (empty ones are ignored).
    kinds : sequence of int, optional
        Kind of each entry (default :data:`PHRASE`); the first of duplicate entries wins.

    Examples
    --------
    >>> m = LexiconMatcher([("new", "york"), ("new", "york", "city"), ("york",)], [2, 2, 1])
    >>> m.match(["in", "new", "york", "city", "and", "york"])
    [(1, 4, 2, 0), (5, 6, 1, 2)]
    """

    _END = ""  # a key no word has (keys are non-empty): marks the end of an entry

    def __init__(self, entries: Sequence[tuple[str, ...]], kinds: Sequence[int] | None = None):
        self.root: dict[str, Any] = {}
        self.size = 0
        for index, entry in enumerate(entries):
            if not entry:
                continue
            node = self.root
            for key in entry:
                node = node.setdefault(key, {})
            if self._END not in node:
                node[self._END] = (kinds[index] if kinds is not None else PHRASE, index)
                self.size += 1

    def match(self, keys: Sequence[str], blocked: Sequence[bool] | None = None) -> list[tuple[int, int, int, int]]:
        """Non-overlapping ``(start, end, kind, entry)`` word spans of ``keys``, leftmost-longest.

        ``blocked`` words (e.g. inside entities) are never part of a match.
        """
        out = []
        root, end_key = self.root, self._END
        n = len(keys)
        i = 0
        while i < n:
            node = root
            best = None
            j = i
            while j < n and not (blocked is not None and blocked[j]):
                child = node.get(keys[j])
                if child is None:
                    break
                node = child
                j += 1
                hit = node.get(end_key)
                if hit is not None:
                    best = (i, j, hit[0], hit[1])
            if best is None:
                i += 1
            else:
                out.append(best)
                i = best[1]
        return out


# ------------------------------------------------------------------------------------ auto detection
@dataclass
class CorpusStats:
    """Corpus-wide counts: words, adjacent word pairs of a sentence, and capitalisation inside sentences."""

    words: collections.Counter = field(default_factory=collections.Counter)
    pairs: collections.Counter = field(default_factory=collections.Counter)
    inner: collections.Counter = field(default_factory=collections.Counter)  # non-initial occurrences
    inner_caps: collections.Counter = field(default_factory=collections.Counter)  # ... capitalised

    def add(self, keys: Sequence[str], caps: Sequence[bool]) -> None:
        """Count one sentence's words (keys, capitalised): the definition :func:`word_counts` vectorizes."""
        self.words.update(keys)
        self.pairs.update(zip(keys, keys[1:]))
        self.inner.update(keys[1:])
        self.inner_caps.update(k for k, c in zip(keys[1:], caps[1:]) if c)


def collocations(stats: CorpusStats, threshold: float, min_count: int) -> dict[tuple[str, str], float]:
    """Adjacent pairs of alphanumeric words with count >= ``min_count`` and NPMI >= ``threshold``."""
    n_words = sum(stats.words.values())
    n_pairs = sum(stats.pairs.values())
    out = {}
    for (x, y), c in stats.pairs.items():
        if c < min_count or not (x.isalnum() and y.isalnum()):
            continue
        pxy = c / n_pairs
        if pxy >= 1.0:
            continue
        score = math.log(pxy / ((stats.words[x] / n_words) * (stats.words[y] / n_words))) / -math.log(pxy)
        if score >= threshold:
            out[(x, y)] = score
    return out


def proper_words(stats: CorpusStats, min_share: float) -> frozenset[str]:
    """Words (keys) of two or more characters capitalised in >= ``min_share`` of their inner occurrences."""
    return frozenset(w for w, n in stats.inner.items()
                     if len(w) >= 2 and stats.inner_caps[w] >= min_share * n and stats.inner_caps[w] > 0)


def _runs(flags: Sequence[bool], max_words: int) -> list[tuple[int, int]]:
    """Maximal runs of True in ``flags``, cut into chunks of at most ``max_words``."""
    out, i, n = [], 0, len(flags)
    while i < n:
        if not flags[i]:
            i += 1
            continue
        j = i
        while j < n and flags[j]:
            j += 1
        out += [(a, min(a + max_words, j)) for a in range(i, j, max_words)]
        i = j
    return out


@dataclass
class SpanDetector:
    """Finds the spans of one sentence's words (picklable: sent to the tokenizer workers).

    Either ``matcher`` (lexicon) or ``colloc`` + ``proper`` (auto).
    """

    matcher: LexiconMatcher | None = None
    colloc: frozenset[tuple[str, str]] = frozenset()
    proper: frozenset[str] = frozenset()
    max_span_words: int = 4

    def spans(self, keys: Sequence[str], caps: Sequence[bool]) -> list[Span]:
        if self.matcher is not None:
            return [(s, e, k) for s, e, k, _ in self.matcher.match(keys)]
        proper = [c and k in self.proper for k, c in zip(keys, caps)]
        named = [p or (c and i > 0 and len(k) >= 2) for i, (k, c, p) in enumerate(zip(keys, caps, proper))]
        out = [(s, e, ENTITY) for s, e in _runs(named, self.max_span_words) if any(proper[s:e])]
        named = [False] * len(keys)
        for s, e, _ in out:
            named[s:e] = [True] * (e - s)
        n = len(keys)
        # pair i joins words i and i + 1; a chain of pairs s..e-1 covers words s..e, cut into chunks
        joined = [not named[i] and not named[i + 1] and (keys[i], keys[i + 1]) in self.colloc for i in range(n - 1)]
        for s, e in _runs(joined, n):
            out += [(a, min(a + self.max_span_words, e + 1), PHRASE)
                    for a in range(s, e + 1, self.max_span_words) if min(a + self.max_span_words, e + 1) - a >= 2]
        return sorted(out)


def span_arrays(word_starts: Sequence[int], n_pieces: int, spans: Sequence[Span]) -> tuple[np.ndarray, np.ndarray]:
    """Per-piece ``span_start`` and ``span_kind`` of one sentence from word spans."""
    ws = np.asarray(word_starts, dtype=np.int64)
    bounds = np.append(ws, n_pieces)
    start = np.zeros(n_pieces, np.uint8)
    start[ws] = 1
    kind = np.zeros(n_pieces, np.uint8)
    for s, e, k in spans:
        lo, hi = int(bounds[s]), int(bounds[e])
        start[lo + 1:hi] = 0
        kind[lo:hi] = k
    return start, kind


class SpanEncoder:
    """``encode(tokenizer, sentences)`` for ``prepare_shards``: the base arrays plus span_start/span_kind.

    Wraps ``base`` (default :func:`~reprlab.pretrain.shards.encode_document`), whose arrays it
    keeps as they are; the words come from the same encodings (one tokenization per sentence). With
    a lexicon detector, ``doc.side["entry_hits"]`` counts the matches of every entry.
    """

    def __init__(self, detector: SpanDetector, base: DocumentEncoder = encode_document):
        self.detector, self.base = detector, base

    def __call__(self, tokenizer: Any, sentences: list[str]) -> EncodedDocument | None:
        rec = _Recorder(tokenizer)
        doc = self.base(rec, sentences)
        if doc is None:
            return None
        starts, kinds = [], []
        hits: collections.Counter = collections.Counter()
        matcher = self.detector.matcher
        for text, enc in rec.encodings:
            if not enc.ids:
                continue
            word_starts, keys, caps = sentence_words(enc, text)
            if matcher is not None:
                found = matcher.match(keys)
                hits.update(m[3] for m in found)
                spans = [(a, b, k) for a, b, k, _ in found]
            else:
                spans = self.detector.spans(keys, caps)
            s, k = span_arrays(word_starts, len(enc.ids), spans)
            starts.append(s)
            kinds.append(k)
        span_start, span_kind = np.concatenate(starts), np.concatenate(kinds)
        if len(span_start) != len(doc.arrays["tokens"]):
            raise DataError("span detection saw other sentences than the document encoder; pass a base encoder "
                            "that calls tokenizer.encode_sequence once per kept sentence")
        doc.arrays.update(span_start=span_start, span_kind=span_kind)
        doc.side["entry_hits"] = hits
        return doc


class WordEncoder:
    """``encode`` for the auto detector: the base arrays, and each word's key and capital in ``doc.side``.

    The keys travel to the main process as strings (``side["keys"]``, ``side["upper"]``), where
    :class:`_WordTable` numbers them; nothing is tokenized twice.
    """

    def __init__(self, base: DocumentEncoder = encode_document):
        self.base = base

    def __call__(self, tokenizer: Any, sentences: list[str]) -> EncodedDocument | None:
        rec = _Recorder(tokenizer)
        doc = self.base(rec, sentences)
        if doc is None:
            return None
        keys: list[str] = []
        upper: list[bool] = []
        for text, enc in rec.encodings:
            if enc.ids:
                _, k, c = sentence_words(enc, text)
                keys += k
                upper += c
        doc.side.update(keys=keys, upper=upper)
        return doc


SCRATCH_ARRAYS = {"word_key": "uint32", "word_upper": "uint8"}  # auto: written with the shards, then replaced


class _WordTable:
    """``collect`` of the auto detector (main process): numbers word keys in corpus order, adds scratch arrays."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, doc: EncodedDocument) -> None:
        keys, upper = doc.side.pop("keys"), doc.side.pop("upper")
        word_start = doc.arrays["word_start"]
        first = np.flatnonzero(word_start)
        if len(first) != len(keys):
            raise DataError("span detection saw other words than the document encoder's word_start; pass a base "
                            "encoder that calls tokenizer.encode_sequence once per kept sentence")
        get, index = self.index.setdefault, self.index
        ids = np.array([get(k, len(index)) for k in keys], dtype=np.uint32)
        pieces = np.diff(np.append(first, len(word_start)))
        doc.arrays["word_key"] = np.repeat(ids, pieces)
        doc.arrays["word_upper"] = np.repeat(np.asarray(upper, dtype=np.uint8), pieces)

    @property
    def names(self) -> list[str]:
        return list(self.index)


def _words_of(word_start: np.ndarray, sentences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First piece of every word, and whether the word starts its sentence."""
    first_piece = np.flatnonzero(word_start)
    initial = np.zeros(len(first_piece), dtype=bool)
    initial[np.searchsorted(first_piece, sentences[:-1])] = True
    return first_piece, initial


def word_counts(key: np.ndarray, upper: np.ndarray, initial: np.ndarray, vocab: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`CorpusStats.add` over many sentences at once, on numbered words.

    Parameters
    ----------
    key, upper, initial : ndarray, (W,)
        Per word: key number (< ``vocab``), capitalised, first word of its sentence.

    Returns
    -------
    words, inner, inner_caps : ndarray, (vocab,)
        Occurrences, non-initial occurrences and capitalised non-initial occurrences per key.
    pair_codes, pair_counts : ndarray
        Adjacent pairs of one sentence as ``x * vocab + y`` (sorted, unique) and their counts.
    """
    key = key.astype(np.int64)
    inner = ~initial
    same = inner[1:]
    codes, counts = np.unique(key[:-1][same] * vocab + key[1:][same], return_counts=True)
    return (np.bincount(key, minlength=vocab), np.bincount(key[inner], minlength=vocab),
            np.bincount(key[inner & upper], minlength=vocab), codes, counts)


def _run_positions(run_start: np.ndarray) -> np.ndarray:
    """Index of every position within its run (runs begin where ``run_start``; read it inside runs only)."""
    idx = np.arange(len(run_start))
    return idx - np.maximum.accumulate(np.where(run_start, idx, 0))


def auto_span_arrays(word_start: np.ndarray, sentences: np.ndarray, key: np.ndarray, upper: np.ndarray, *,
                     proper: np.ndarray, long_key: np.ndarray, colloc: np.ndarray, vocab: int,
                     max_span_words: int) -> tuple[np.ndarray, np.ndarray]:
    """``span_start`` and ``span_kind`` of many sentences at once: :meth:`SpanDetector.spans` vectorized.

    Parameters
    ----------
    word_start : ndarray, (N,)
        The shard's ``word_start`` (1 at every word's first piece and every sentence start).
    sentences : ndarray, (S+1,)
        Token offsets of the sentences.
    key, upper : ndarray, (N,)
        Per piece: its word's key number and whether the word is capitalised (read at first pieces).
    proper, long_key : ndarray of bool, (vocab,)
        Per key: a name (:func:`proper_words`); two or more characters.
    colloc : ndarray of int64
        Sorted codes ``x * vocab + y`` of the collocated pairs (:func:`collocations`).
    """
    first_piece, initial = _words_of(word_start, sentences)
    k = key[first_piece].astype(np.int64)
    up = upper[first_piece].astype(bool)
    m = max_span_words
    is_name = up & proper[k]
    named = is_name | (up & ~initial & long_key[k])
    prev = np.concatenate([[False], named[:-1]])
    pos = _run_positions(named & (initial | ~prev))
    chunk_start = named & (pos % m == 0)
    chunk = np.cumsum(chunk_start) - 1
    keep = np.bincount(chunk[named], weights=is_name[named], minlength=int(chunk_start.sum())) > 0
    entity = named.copy()
    entity[named] = keep[chunk[named]]
    entity_start = entity & chunk_start
    code = k[:-1] * vocab + k[1:]
    collocated = np.isin(code, colloc)
    joined = ~initial[1:] & ~entity[:-1] & ~entity[1:] & collocated  # pair i: words i, i + 1
    before = np.concatenate([[False], joined])  # pair i - 1 joins word i to the word before
    after = np.concatenate([joined, [False]])
    in_chain = before | after
    pos = _run_positions(after & ~before)
    chunk_start = in_chain & (pos % m == 0)
    chunk = np.cumsum(chunk_start) - 1
    size = np.bincount(chunk[in_chain], minlength=int(chunk_start.sum()))
    phrase = in_chain.copy()
    phrase[in_chain] = size[chunk[in_chain]] >= 2
    word_kind = np.where(entity, ENTITY, np.where(phrase, PHRASE, WORD)).astype(np.uint8)
    inside = (entity & ~entity_start) | (phrase & ~chunk_start)
    span_start = np.asarray(word_start, dtype=np.uint8).copy()
    span_start[first_piece[inside]] = 0
    span_kind = np.repeat(word_kind, np.diff(np.append(first_piece, len(word_start))))
    return span_start, span_kind


# ------------------------------------------------------------------------------------ prepare
def _shard_dirs(directory: Path, splits: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any], Path]]:
    for split, summary in splits.items():
        for info in summary["shards"]:
            yield split, info, directory / split / info["name"]


def _save(path: Path, info: dict[str, Any], name: str, array: np.ndarray) -> None:
    from reprlab.pretrain.shards import _save_npy

    info["sha256"][f"{name}.npy"] = _save_npy(path / f"{name}.npy", array)


def _span_counts(directory: Path, splits: dict[str, Any]) -> dict[str, int]:
    """Spans and pieces per kind of the train split."""
    counts = {"phrase_spans": 0, "entity_spans": 0, "phrase_pieces": 0, "entity_pieces": 0, "pieces": 0}
    for split, _, path in _shard_dirs(directory, splits):
        if split != "train":
            continue
        start, kind = np.load(path / "span_start.npy"), np.load(path / "span_kind.npy")
        counts["pieces"] += len(kind)
        for name, k in (("phrase", PHRASE), ("entity", ENTITY)):
            counts[f"{name}_pieces"] += int((kind == k).sum())
            counts[f"{name}_spans"] += int(((kind == k) & (start == 1)).sum())
    return counts


class _AutoFinish:
    """``finish`` of the auto detector: counts over every shard, then the span arrays shard by shard."""

    def __init__(self, spans: SpanConfig, table: _WordTable, info: dict[str, Any]):
        self.config, self.table, self.info = spans, table, info

    def __call__(self, directory: Path, splits: dict[str, Any], arrays: dict[str, tuple[str, np.dtype]]
                 ) -> dict[str, Any]:
        t0 = time.perf_counter()
        names = self.table.names
        vocab = max(len(names), 1)
        stats = CorpusStats()
        totals = [np.zeros(vocab, np.int64) for _ in range(3)]
        codes, counts = [], []
        for _, _, path in _shard_dirs(directory, splits):
            first_piece, initial = _words_of(np.load(path / "word_start.npy"), np.load(path / "sentences.npy"))
            key = np.load(path / "word_key.npy")[first_piece]
            upper = np.load(path / "word_upper.npy")[first_piece].astype(bool)
            *per_key, c, n = word_counts(key, upper, initial, vocab)
            for total, part in zip(totals, per_key):
                total += part
            codes.append(c)
            counts.append(n)
        all_codes, inverse = np.unique(np.concatenate(codes), return_inverse=True)
        all_counts = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.int64)
        for counter, total in zip((stats.words, stats.inner, stats.inner_caps), totals):
            counter.update({names[i]: int(total[i]) for i in np.flatnonzero(total)})
        stats.pairs.update({(names[c // vocab], names[c % vocab]): int(n) for c, n in zip(all_codes.tolist(),
                                                                                    all_counts.tolist())})
        colloc = collocations(stats, self.config.npmi_threshold, self.config.npmi_min_count)
        proper = proper_words(stats, self.config.proper_min_share)
        number = self.table.index
        colloc_codes = np.sort(np.array([number[x] * vocab + number[y] for x, y in colloc], dtype=np.int64))
        is_proper = np.zeros(vocab, dtype=bool)
        is_proper[[number[w] for w in proper]] = True
        long_key = np.array([len(w) >= 2 for w in names] or [False], dtype=bool)
        for _, info, path in _shard_dirs(directory, splits):
            start, kind = auto_span_arrays(np.load(path / "word_start.npy"), np.load(path / "sentences.npy"),
                                           np.load(path / "word_key.npy"), np.load(path / "word_upper.npy"),
                                           proper=is_proper, long_key=long_key, colloc=colloc_codes, vocab=vocab,
                                           max_span_words=self.config.max_span_words)
            for name in SCRATCH_ARRAYS:
                (path / f"{name}.npy").unlink()
                del info["sha256"][f"{name}.npy"]
            _save(path, info, "span_start", start)
            _save(path, info, "span_kind", kind)
            info["sha256"] = dict(sorted(info["sha256"].items()))
        for name in SCRATCH_ARRAYS:
            del arrays[name]
        arrays.update({name: ("token", np.dtype(dt)) for name, dt in SPAN_ARRAYS.items()})
        self.info.update(collocations=len(colloc), proper_words=len(proper),
                         top_collocations=[" ".join(p) for p, _ in
                                           sorted(colloc.items(), key=lambda kv: (-kv[1], kv[0]))[:20]],
                         detection_seconds=round(time.perf_counter() - t0, 2),
                         train=_span_counts(directory, splits))
        return {"spans": self.info}


class _LexiconHits:
    """``collect`` and ``finish`` of the lexicon detector: match counts per entry, the warning, the counts."""

    def __init__(self, spans: SpanConfig, lex: Lexicon, info: dict[str, Any]):
        self.config, self.lex, self.info = spans, lex, info
        self.hits: collections.Counter = collections.Counter()

    def collect(self, doc: EncodedDocument) -> None:
        self.hits.update(doc.side.pop("entry_hits"))

    def finish(self, directory: Path, splits: dict[str, Any], arrays: dict[str, tuple[str, np.dtype]]
               ) -> dict[str, Any]:
        lex, spans = self.lex, self.config
        never = sum(1 for i in range(len(lex.entries)) if self.hits[i] == 0)
        self.info.update(entries=len(lex.entries), empty_lines=lex.empty, duplicates=lex.duplicates,
                         too_long=lex.too_long, prefix_entries=lex.prefixes, never_occur=never)
        problems = [f"{n} {what}" for n, what in ((lex.empty, "empty lines skipped"),
                                                  (lex.duplicates, "duplicate entries skipped (first kept)"),
                                                  (lex.too_long, f"entries longer than {spans.max_span_pieces} "
                                                                 "pieces dropped (max_span_pieces)"),
                                                  (never, "entries never occur in the corpus")) if n]
        if problems:
            log.warning("%s: %s; %d entries used", spans.lexicon, ", ".join(problems), len(lex.entries) - never)
        self.info["train"] = _span_counts(directory, splits)
        return {"spans": self.info}


def prepare_knowledge_shards(config: PrepareConfig, spans: SpanConfig, *,
                             command: Sequence[str] | None = None) -> PrepareResult:
    """``prepare_shards`` with ``span_start``/``span_kind`` arrays (see the module docstring).

    The corpus is tokenized once. ``lexicon``: the spans are matched while encoding (a
    :class:`SpanEncoder`); ``auto``: the shards are written with every word's key number and
    capital as scratch arrays (:class:`WordEncoder`), the words and pairs of all shards are
    counted (:func:`word_counts`), and each shard's scratch arrays are replaced by its span arrays
    (:func:`auto_span_arrays`). ``meta.json["spans"]`` records the settings and counts: spans and
    pieces per kind, and for a lexicon what was dropped and how many entries never occur (also
    logged as one warning).

    Raises
    ------
    ConfigError, MissingDataError, DataError
        Bad settings, a missing or unreadable lexicon, an empty corpus.
    """
    import dataclasses

    from reprlab.tokenizers.loading import load_tokenizer

    spans.validate()
    config.validate()
    if spans.spans == "none":
        return prepare_shards(config, command=command)
    info: dict[str, Any] = {k: v for k, v in dataclasses.asdict(spans).items()}
    if spans.spans == "lexicon":
        lex = read_lexicon(spans.lexicon, load_tokenizer(config.tokenizer), spans.max_span_pieces)
        hits = _LexiconHits(spans, lex, info)
        detector = SpanDetector(matcher=LexiconMatcher(lex.entries, lex.kinds))
        return prepare_shards(config, encode=SpanEncoder(detector), extra_arrays=SPAN_ARRAYS, command=command,
                              collect=hits.collect, finish=hits.finish)
    table = _WordTable()
    return prepare_shards(config, encode=WordEncoder(), extra_arrays=SCRATCH_ARRAYS, command=command,
                          collect=table, finish=_AutoFinish(spans, table, info))


def has_spans(meta: dict[str, Any]) -> bool:
    """Whether a shard directory's ``meta.json`` lists the span arrays."""
    return all(name in meta.get("arrays", {}) for name in SPAN_ARRAYS)


__all__ = ["SpanConfig", "Lexicon", "parse_lexicon", "read_lexicon", "LexiconMatcher",
           "CorpusStats", "collocations", "proper_words", "SpanDetector", "SpanEncoder", "WordEncoder", "span_arrays",
           "auto_span_arrays", "word_counts", "sentence_words", "prepare_knowledge_shards", "has_spans", "SPAN_ARRAYS",
           "WORD", "PHRASE", "ENTITY", "KINDS"]
