"""Vocabulary models: split one pre-tokenized word into vocabulary pieces.

* :class:`WordPiece` — greedy longest-match-first over the vocabulary, continuation pieces carry
  the ``##`` prefix (Wu et al., 2016, https://arxiv.org/abs/1609.08144; BERT's
  ``WordpieceTokenizer``). A word with no full segmentation, or longer than
  ``max_input_chars_per_word`` characters, becomes one ``[UNK]``.
* :class:`BPE` — apply learned merges in rank order (Sennrich et al., 2016,
  https://arxiv.org/abs/1508.07909): start from characters (or bytes) and repeatedly merge the
  adjacent pair with the lowest merge rank.

Both cache ``word -> pieces`` per instance: natural text repeats words, so most words are looked
up, not segmented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reprlab.errors import DataError, MissingDataError

# A word's pieces: (ids, tokens, spans relative to the word's start).
Pieces = tuple[tuple[int, ...], tuple[str, ...], tuple[tuple[int, int], ...]]
CACHE_LIMIT = 500_000  # words; the cache is cleared when it grows past this


def read_vocab(path: str | Path, required: tuple[str, ...] = ()) -> dict[str, int]:
    """Read a BERT ``vocab.txt`` (one token per line, id = line number - 1).

    Raises
    ------
    MissingDataError
        The file does not exist.
    DataError
        The file is empty, not UTF-8, has an empty or duplicated line, or lacks a ``required`` token.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "vocab.txt"
    if not path.is_file():
        raise MissingDataError(f"{path}: vocabulary file not found; pass a BERT vocab.txt "
                               "(one token per line) or train one with `reprlab tokenizer train`")
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid UTF-8 ({e.reason} at byte {e.start}); "
                        "re-encode the vocabulary as UTF-8") from None
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise DataError(f"{path}: the vocabulary is empty; it needs one token per line")
    vocab: dict[str, int] = {}
    for i, raw in enumerate(lines):
        token = raw.rstrip("\r")
        if not token.strip():
            raise DataError(f"{path}:{i + 1}: empty vocabulary line; remove it (token ids are line numbers)")
        if token in vocab:
            raise DataError(f"{path}:{i + 1}: token {token!r} duplicates line {vocab[token] + 1}; "
                            "every token must appear once")
        vocab[token] = i
    missing = [t for t in required if t not in vocab]
    if missing:
        raise DataError(f"{path}: the vocabulary lacks the special token(s) {', '.join(missing)}; "
                        "add them as lines (BERT puts [PAD] [UNK] [CLS] [SEP] [MASK] first)")
    return vocab


@dataclass
class WordPiece:
    """Greedy longest-match-first WordPiece segmentation of single words.

    Parameters
    ----------
    vocab : dict
        token -> id.
    unk_token : str
        Emitted for a word that cannot be segmented.
    continuing_subword_prefix : str
        Prefix of pieces that continue a word.
    max_input_chars_per_word : int
        Longer words become ``unk_token`` without being segmented.
    """

    vocab: dict[str, int]
    unk_token: str = "[UNK]"
    continuing_subword_prefix: str = "##"
    max_input_chars_per_word: int = 100
    _cache: dict[str, Pieces] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.unk_token not in self.vocab:
            raise DataError(f"the vocabulary has no unknown token {self.unk_token!r}; add it to vocab.txt")
        self.unk_id = self.vocab[self.unk_token]
        p = len(self.continuing_subword_prefix)
        self.max_piece_chars = max((len(t) - (p if t.startswith(self.continuing_subword_prefix) else 0)
                                    for t in self.vocab), default=1)

    def tokenize(self, word: str) -> Pieces:
        """Pieces of one word: ``(ids, tokens, spans)`` with spans relative to the word."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        pieces = self._segment(word)
        if len(word) <= self.max_input_chars_per_word:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[word] = pieces
        return pieces

    def _segment(self, word: str) -> Pieces:
        n = len(word)
        vocab = self.vocab
        if n > self.max_input_chars_per_word:
            return (self.unk_id,), (self.unk_token,), ((0, n),)
        tid = vocab.get(word)
        if tid is not None:
            return (tid,), (word,), ((0, n),)
        ids, tokens, spans = [], [], []
        start, prefix, longest = 0, self.continuing_subword_prefix, self.max_piece_chars
        while start < n:
            end = min(n, start + longest)
            while end > start:
                piece = word[start:end] if start == 0 else prefix + word[start:end]
                tid = vocab.get(piece)
                if tid is not None:
                    break
                end -= 1
            else:
                return (self.unk_id,), (self.unk_token,), ((0, n),)
            ids.append(tid)
            tokens.append(piece)
            spans.append((start, end))
            start = end
        return tuple(ids), tuple(tokens), tuple(spans)


@dataclass
class BPE:
    """Apply BPE merges (lowest rank first) to single words.

    Parameters
    ----------
    vocab : dict
        token -> id.
    merges : list of (str, str)
        Merges in the order they were learned (rank = position).
    end_of_word : str or None
        Symbol appended to every word before merging (classic ``"</w>"``); ``None`` for byte-level.
    unk_token : str or None
        Emitted for a symbol missing from the vocabulary; ``None`` drops such symbols.
    chunk_chars : int
        Longer words (a 10 MB line without spaces) are segmented in independent chunks of this
        many characters, which bounds memory; no natural word comes near it.
    """

    vocab: dict[str, int]
    merges: list[tuple[str, str]]
    end_of_word: str | None = "</w>"
    unk_token: str | None = None
    chunk_chars: int = 10_000
    _cache: dict[str, Pieces] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.ranks = {(a, b): i for i, (a, b) in enumerate(self.merges)}

    def tokenize(self, word: str) -> Pieces:
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        if len(word) > self.chunk_chars:
            return self._segment_chunks(word)
        pieces = self._segment(word, self.end_of_word)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = pieces
        return pieces

    def _segment_chunks(self, word: str) -> Pieces:
        ids: list[int] = []
        tokens: list[str] = []
        spans: list[tuple[int, int]] = []
        eow, step = self.end_of_word, self.chunk_chars
        for start in range(0, len(word), step):
            last = start + step >= len(word)  # only the word's last chunk ends the word
            c_ids, c_tokens, c_spans = self._segment(word[start:start + step], eow if last else None)
            ids += c_ids
            tokens += c_tokens
            spans += [(start + a, start + b) for a, b in c_spans]
        return tuple(ids), tuple(tokens), tuple(spans)

    def _segment(self, word: str, end_of_word: str | None) -> Pieces:
        symbols = list(word) + ([end_of_word] if end_of_word else [])
        ranks = self.ranks
        if len(symbols) > LONG_WORD:
            return self._pieces(word, _merge_long(symbols, ranks), end_of_word)
        while len(symbols) > 1:
            best, best_rank = -1, len(ranks)
            for i in range(len(symbols) - 1):
                r = ranks.get((symbols[i], symbols[i + 1]))
                if r is not None and r < best_rank:
                    best, best_rank = i, r
            if best < 0:
                break
            pair = (symbols[best], symbols[best + 1])
            merged, i = [], 0
            while i < len(symbols):  # merge every occurrence of the best pair, left to right
                if i < len(symbols) - 1 and (symbols[i], symbols[i + 1]) == pair:
                    merged.append(pair[0] + pair[1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return self._pieces(word, symbols, end_of_word)

    def _pieces(self, word: str, symbols: list[str], end_of_word: str | None) -> Pieces:
        ids, tokens, spans, pos, n = [], [], [], 0, len(word)
        for s in symbols:
            width = len(s) - (len(end_of_word) if end_of_word and s.endswith(end_of_word) else 0)
            span = (min(pos, n), min(pos + width, n))
            pos += width
            tid = self.vocab.get(s)
            if tid is None:
                if self.unk_token is None or self.unk_token not in self.vocab:
                    continue
                s, tid = self.unk_token, self.vocab[self.unk_token]
            ids.append(tid)
            tokens.append(s)
            spans.append(span)
        return tuple(ids), tuple(tokens), tuple(spans)


LONG_WORD = 64  # symbols; longer words use the O(n log n) heap merge


def _merge_long(symbols: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    """BPE merges of a long word in O(n log n): a linked list of symbols and a heap of (rank, position).

    Equal ranks pop left to right, and a learned merge always ranks after the merges that built its
    parts, so this gives the same result as repeatedly merging the lowest-rank pair everywhere.
    """
    import heapq
    n = len(symbols)
    sym = list(symbols)
    nxt = list(range(1, n + 1))
    prv = list(range(-1, n - 1))
    alive = [True] * n
    heap = [(ranks[(sym[i], sym[i + 1])], i) for i in range(n - 1) if (sym[i], sym[i + 1]) in ranks]
    heapq.heapify(heap)
    while heap:
        r, i = heapq.heappop(heap)
        j = nxt[i] if alive[i] else n
        if j >= n or ranks.get((sym[i], sym[j])) != r:
            continue  # stale: one side was merged away since this entry was pushed
        sym[i] = sym[i] + sym[j]
        alive[j] = False
        nxt[i] = nxt[j]
        if nxt[j] < n:
            prv[nxt[j]] = i
        for a, b in ((prv[i], i), (i, nxt[i])):
            if a >= 0 and b < n:
                rr = ranks.get((sym[a], sym[b]))
                if rr is not None:
                    heapq.heappush(heap, (rr, a))
    return [sym[i] for i in range(n) if alive[i]]
