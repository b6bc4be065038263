"""Labels of the ERNIE 2.0 auxiliary tasks, made by the data pipeline (Sun et al. 2020, section 4.2).

ERNIE 2.0 pretrains with tasks whose labels come for free from raw text. Four of them are built here
(knowledge masking, ERNIE 1.0's, lives in :mod:`reprlab.pretrain.knowledge`):

capitalization prediction
    Per word: does the word start with a capital letter in the raw, cased text? The shards store a
    per-token ``caps`` array at ``prepare`` time (:func:`capitalization_flags`), because the model's
    tokenizer may lower-case: 1 on the first piece of every word whose first raw character is an
    upper- or title-case letter (Unicode categories Lu, Lt), 0 elsewhere. Words are the tokenizer's
    own (``word_ids``: BERT's whitespace-and-punctuation words, byte-level BPE's pre-tokens) and their
    raw characters are found through the token offsets, which point into the raw text whatever the
    normalizer did (accent stripping, ``İ`` -> ``i̇``), so pieces and raw words stay aligned.
token-document relation
    Per token of a segment: does the same token id also occur elsewhere in its document, outside
    the segment (:func:`token_document_labels`)? ERNIE 2.0: tokens that recur across a document's
    segments are its key words.
sentence reordering
    A run of whole sentences of one document is cut into m pieces (m uniform in 1..max_segments;
    at sentence boundaries, or between tokens when the run has fewer than m sentences), the
    pieces are shuffled, and the model
    classifies the permutation among sum_{n=1..M} n! classes (9 for M = 3, 33 for M = 4):
    :func:`permutation_class` numbers them, n = 1 first, each n's permutations in lexicographic order.
sentence distance
    A pair of sentences is adjacent (class 0: B follows A), of one document but not adjacent
    (class 1: |i_B - i_A| >= 2) or of two documents (class 2), in proportions
    ``distance_balance`` (exact counts, largest remainder, then shuffled).
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from reprlab.errors import ConfigError, DataError

#: Unicode categories that count as "starts with a capital" (upper case and title case: ``ǅ``).
CAPITAL_CATEGORIES = frozenset({"Lu", "Lt"})


# ----------------------------------------------------------------------------------- capitalization
def is_capital(char: str) -> bool:
    """Whether ``char`` is an upper- or title-case letter (Unicode categories Lu, Lt)."""
    return unicodedata.category(char) in CAPITAL_CATEGORIES


def capitalization_flags(text: str, offsets: Sequence[tuple[int, int]], word_ids: Sequence[int | None]) -> np.ndarray:
    """Per piece of one encoded text: 1 on the first piece of a word whose raw text starts with a capital.

    Parameters
    ----------
    text : str
        The raw (cased) text that was encoded.
    offsets : sequence of (int, int)
        Character span of every piece in ``text`` (the tokenizer's offsets).
    word_ids : sequence of int or None
        Word number of every piece (a new word where it changes).

    Returns
    -------
    ndarray of uint8, (pieces,)
        The first non-space character of the word's raw span (byte-level words carry their leading
        space) decides; pieces after a word's first are 0.
    """
    n = len(offsets)
    out = np.zeros(n, dtype=np.uint8)
    for i in range(n):
        if i and word_ids[i] == word_ids[i - 1]:
            continue  # not a word's first piece
        lo, end = offsets[i]
        first = text[lo:lo + 1] if end > lo else ""
        if not first or first.isspace():  # a leading space (byte-level) or an empty first piece: read the word
            j = i + 1
            while j < n and word_ids[j] == word_ids[i]:
                j += 1
            first = text[lo:max(offsets[j - 1][1], lo)].lstrip()[:1]
        if first and is_capital(first):
            out[i] = 1
    return out


# ----------------------------------------------------------------------------------- token-document
def token_document_labels(document: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """1 where token ``document[p]`` (``lo <= p < hi``) also occurs in ``document`` outside ``[lo, hi)``.

    ``document`` holds one document's token ids; ``[lo, hi)`` is the segment (offsets into it).
    """
    segment = document[lo:hi]
    rest = np.concatenate([document[:lo], document[hi:]])
    return np.isin(segment, rest).astype(np.uint8)


# ----------------------------------------------------------------------------------- reordering
def num_permutation_classes(max_segments: int) -> int:
    """sum_{n=1..max_segments} n! (9 for 3, 33 for 4)."""
    return sum(math.factorial(n) for n in range(1, max_segments + 1))


def permutation_rank(perm: Sequence[int]) -> int:
    """Lexicographic rank of a permutation of ``0..m-1`` (Lehmer code): ``(0, 1, 2)`` -> 0, ``(2, 1, 0)`` -> 5."""
    m = len(perm)
    rank = 0
    rest = sorted(perm)
    if rest != list(range(m)):
        raise ConfigError(f"{list(perm)} is not a permutation of 0..{m - 1}")
    for k, p in enumerate(perm):
        i = rest.index(p)
        rank += i * math.factorial(m - 1 - k)
        rest.pop(i)
    return rank


def permutation_class(perm: Sequence[int]) -> int:
    """Class of a shuffle of m pieces: ``sum_{n<m} n!`` plus its lexicographic rank.

    ``perm[k]`` is the original index of the piece shown k-th.
    """
    return sum(math.factorial(n) for n in range(1, len(perm))) + permutation_rank(perm)


def class_permutation(label: int) -> tuple[int, ...]:
    """Inverse of :func:`permutation_class`."""
    m = 1
    while label >= math.factorial(m):
        label -= math.factorial(m)
        m += 1
    return next(itertools.islice(itertools.permutations(range(m)), label, None))


# ----------------------------------------------------------------------------------- config
@dataclass
class AuxiliaryConfig:
    """How the auxiliary tasks' instances are made (``[auxiliary]`` of ``reprlab pretrain run``)."""

    max_segments: int = 3  # sentence reordering: at most this many pieces (sum_{n<=3} n! = 9 classes)
    distance_balance: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])  # adjacent, same doc, other doc
    task_embedding: bool = False  # add a learned task vector to the input embeddings (ERNIE 2.0)
    eval_rows: int = 512  # held-out instances per task for the periodic evaluation (spread evenly, fixed)

    def validate(self) -> None:
        if not 1 <= self.max_segments <= 5:
            raise ConfigError(f"auxiliary.max_segments={self.max_segments}: must be in [1, 5] "
                              f"({num_permutation_classes(5)} classes for 5; ERNIE 2.0 does not say, 3 gives 9)")
        b = self.distance_balance
        if len(b) != 3 or any(not math.isfinite(x) or x < 0 for x in b) or sum(b) <= 0:
            raise ConfigError(f"auxiliary.distance_balance={b}: give three weights >= 0 (adjacent, same document, "
                              "other document) that do not all vanish, e.g. [1, 1, 1]")
        if self.eval_rows < 1:
            raise ConfigError(f"auxiliary.eval_rows={self.eval_rows}: must be >= 1")


def class_counts(n: int, weights: Sequence[float]) -> np.ndarray:
    """``n`` split into counts proportional to ``weights`` (largest remainder, ties to the lower class)."""
    w = np.asarray(weights, dtype=np.float64)
    share = n * w / w.sum()
    counts = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[:n - int(counts.sum())]] += 1
    return counts


# ----------------------------------------------------------------------------------- instance tables
@dataclass
class ReorderInstances:
    """Sentence-reordering instances: per row up to ``max_segments`` shuffled pieces and the class.

    ``lo[r, k]``, ``hi[r, k]`` is the global token range of the piece shown k-th (-1 when unused),
    ``label[r]`` = :func:`permutation_class` of the shuffle.
    """

    lo: np.ndarray  # (R, M) int64
    hi: np.ndarray  # (R, M) int64
    label: np.ndarray  # (R,) int64
    max_segments: int

    def __len__(self) -> int:
        return len(self.label)

    def pieces(self, r: int) -> list[tuple[int, int]]:
        return [(int(a), int(b)) for a, b in zip(self.lo[r], self.hi[r]) if a >= 0]


def _multi_sentence_check(sentences_per_doc: np.ndarray, need: int, task: str, where: str) -> None:
    if not np.any(sentences_per_doc >= need):
        raise DataError(f"{where}: no document has {need} or more sentences; {task} needs multi-sentence documents "
                        "(one sentence per line, a blank line between documents); drop the task from the stages "
                        "or prepare a corpus with longer documents")


def reorder_instances(sentence_offsets: np.ndarray, document_offsets: np.ndarray, *, max_length: int,
                      max_segments: int, seed: int, where: str = "shards") -> ReorderInstances:
    """Chunks of whole sentences of one document, cut into m pieces and shuffled.

    Each document is cut greedily into chunks of whole sentences holding at most
    ``max_length - 1 - max_segments`` tokens (room for [CLS] and a [SEP] after every piece); a
    sentence longer than that is its own chunk, truncated. Per chunk: m uniform in
    ``1..max_segments`` (at most its token count), m - 1 distinct cut points among its inner
    sentence boundaries, or among its inner token positions when it has fewer than m sentences, and
    a uniform shuffle (``numpy.random.default_rng(seed)``). So the chance level is 1/max_segments
    (the m = 1 class).
    """
    so, do = sentence_offsets, document_offsets
    _multi_sentence_check(np.diff(do), 2, "sentence_reordering", where)
    rng = np.random.default_rng(seed)
    budget = max_length - 1 - max_segments
    if budget < 1:
        raise ConfigError(f"instances.max_length={max_length} leaves no room for {max_segments} pieces; raise it")
    los: list[list[int]] = []
    his: list[list[int]] = []
    labels: list[int] = []
    for d in range(len(do) - 1):
        s = int(do[d])
        end = int(do[d + 1])
        while s < end:
            t = s + 1
            while t < end and so[t + 1] - so[s] <= budget:
                t += 1
            lo, hi = int(so[s]), min(int(so[t]), int(so[s]) + budget)  # sentences s..t-1, truncated
            cuts = so[s + 1:t]  # sentence boundaries inside the chunk
            s = t
            m = min(int(rng.integers(1, max_segments + 1)), hi - lo)
            if len(cuts) < m - 1:  # too few sentences: cut between tokens instead
                cuts = np.arange(lo + 1, hi)
            inner = np.sort(rng.choice(cuts, size=m - 1, replace=False)) if m > 1 else np.zeros(0, np.int64)
            bounds = [lo, *inner.tolist(), hi]
            pieces = [(int(bounds[k]), int(bounds[k + 1])) for k in range(m)]
            perm = rng.permutation(m).tolist()
            shown = [pieces[p] for p in perm]
            los.append([a for a, _ in shown] + [-1] * (max_segments - m))
            his.append([b for _, b in shown] + [-1] * (max_segments - m))
            labels.append(permutation_class(perm))
    return ReorderInstances(np.asarray(los, np.int64).reshape(-1, max_segments),
                            np.asarray(his, np.int64).reshape(-1, max_segments), np.asarray(labels, np.int64),
                            max_segments)


def distance_pairs(sentence_offsets: np.ndarray, document_offsets: np.ndarray, *, max_length: int,
                   balance: Sequence[float], seed: int, where: str = "shards") -> np.ndarray:
    """Sentence-distance pairs as rows ``(a_lo, a_hi, b_lo, b_hi, label)`` of global token ranges.

    As many pairs as there are sentences with a successor in their document; the class counts are
    ``class_counts(n, balance)`` exactly, in shuffled order. Class 0: A = a sentence with a successor,
    B = that successor. Class 1: A = a sentence that has a sentence of its document at distance
    >= 2 (a document of 3+ sentences, not the middle of exactly 3), B = one of those (uniform). Class 2: A any sentence, B a sentence of another document
    (uniform over all sentences outside A's document). Each side is cut to ``(max_length - 3) // 2``
    tokens, A keeping its end and B its start (the tokens next to the boundary).
    """
    so, do = sentence_offsets, document_offsets
    per_doc = np.diff(do)
    n_sent = int(do[-1])
    doc_of = np.repeat(np.arange(len(per_doc)), per_doc)  # sentence -> document
    has_next = np.nonzero(np.r_[doc_of[1:] == doc_of[:-1], False])[0]
    if balance[1] > 0:
        _multi_sentence_check(per_doc, 3, "sentence_distance (its same-document class)", where)
    elif balance[0] > 0:
        _multi_sentence_check(per_doc, 2, "sentence_distance (its adjacent class)", where)
    if balance[2] > 0 and len(per_doc) < 2:
        raise DataError(f"{where}: one document only; sentence_distance's other-document class needs two or more")
    n = len(has_next) if len(has_next) else n_sent
    counts = class_counts(n, balance)
    rng = np.random.default_rng(seed)
    position = np.arange(n_sent) - np.repeat(do[:-1], per_doc)  # sentence number within its document
    far_anchor = np.nonzero((position >= 2) | (position <= per_doc[doc_of] - 3))[0]  # has a partner >= 2 away
    half = (max_length - 3) // 2
    rows = []
    for label, count in enumerate(counts.tolist()):
        for _ in range(count):
            if label == 0:
                a = int(has_next[rng.integers(len(has_next))])
                b = a + 1
            elif label == 1:
                a = int(far_anchor[rng.integers(len(far_anchor))])
                d = int(doc_of[a])
                partners = [t for t in range(int(do[d]), int(do[d + 1])) if abs(t - a) >= 2]
                b = partners[int(rng.integers(len(partners)))]
            else:
                a = int(rng.integers(n_sent))
                d = int(doc_of[a])
                u = int(rng.integers(n_sent - int(per_doc[d])))
                b = u if u < do[d] else u + int(per_doc[d])
            a_lo, a_hi = int(so[a]), int(so[a + 1])
            b_lo, b_hi = int(so[b]), int(so[b + 1])
            rows.append((max(a_lo, a_hi - half), a_hi, b_lo, min(b_hi, b_lo + half), label))
    order = rng.permutation(len(rows))
    return np.asarray(rows, np.int64).reshape(-1, 5)[order]


__all__ = ["AuxiliaryConfig", "capitalization_flags", "is_capital", "token_document_labels",
           "num_permutation_classes", "permutation_rank", "permutation_class", "class_permutation",
           "ReorderInstances", "reorder_instances", "distance_pairs", "class_counts", "CAPITAL_CATEGORIES"]
