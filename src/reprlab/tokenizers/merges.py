"""The merge loop shared by the BPE and WordPiece trainers: incremental pair counts + a lazy heap.

Words are lists of symbol ids with a corpus count. ``pair_counts[(a, b)]`` counts adjacent
occurrences (weighted by word count) and ``where[(a, b)]`` holds the words that may contain the
pair. Merging ``(a, b)`` rewrites only those words and updates the counts of the pairs they
gain or lose, so the corpus is never recounted.

Choice of the next merge (``criterion``):

* ``"frequency"`` (Sennrich et al., 2016): the most frequent pair. Pair counts only fall, except
  for pairs that contain the new symbol, which are pushed fresh; a popped heap entry whose count
  is stale is pushed back with the current count (the HF tokenizers scheme).
* ``"likelihood"`` (Schuster & Nakajima, 2012; Wu et al., 2016): the pair whose merge most
  increases the corpus log-likelihood under the maximum-likelihood unigram model over symbols,
  ``L = sum_x c_x log c_x - N log N``. Merging all ``c_ab`` occurrences gives the exact gain

      dL = f(c_ab) + f(c_a - c_ab) + f(c_b - c_ab) - f(c_a) - f(c_b) + f(N) - f(N - c_ab),
      f(x) = x log x                                    (a == b: f(c_a - 2 c_ab) - f(c_a))

  For small ``c_ab`` this is ``c_ab * log(c_ab N / (c_a c_b)) + O(c_ab)``: the count-weighted log of
  the often-quoted score ``c_ab / (c_a c_b)``. After each merge the gains of every pair that
  contains ``a`` or ``b`` (their counts changed) are pushed fresh; the ``N`` term only shrinks as
  ``N`` falls, so older heap entries are upper bounds and lazy re-evaluation stays exact.

Ties go to the smaller ``(left id, right id)``; ids are the order symbols entered the vocabulary.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

log = logging.getLogger(__name__)

Criterion = Literal["frequency", "likelihood"]


def _xlogx(x: int) -> float:
    return x * math.log(x) if x > 0 else 0.0


@dataclass
class MergeState:
    """Symbols, words and pair statistics of a merge run (see the module docstring)."""

    id_to_token: list[str]
    words: list[list[int]]
    counts: list[int]
    token_to_id: dict[str, int] = field(init=False)
    merges: list[tuple[int, int, int]] = field(default_factory=list)  # (left id, right id, merged id)
    merge_counts: list[int] = field(default_factory=list)  # pair count when merged

    def __post_init__(self) -> None:
        self.token_to_id = {t: i for i, t in enumerate(self.id_to_token)}


def learn_merges(state: MergeState, *, vocab_size: int, criterion: Criterion = "frequency",
                 min_frequency: int = 0, join: Callable[[str, str], str] = str.__add__,
                 progress: Callable[[int], None] | None = None, counted: Callable[[], int] | None = None) -> None:
    """Merge pairs into ``state`` until ``counted()`` (default: vocabulary size) reaches ``vocab_size``.

    Parameters
    ----------
    state : MergeState
        Symbols and spelled words; merges are appended to it in place.
    vocab_size : int
        Target of ``counted()``.
    criterion : {"frequency", "likelihood"}
        How the next pair is chosen (module docstring).
    min_frequency : int
        Pairs rarer than this are never merged (frequency: training stops at the first one).
    join : callable
        Token string of a merged pair (WordPiece drops the right part's ``##``).
    progress : callable, optional
        Called once with the starting ``counted()``, then with 1 after each merge (a tqdm ``update``).
    counted : callable, optional
        Size that ``vocab_size`` limits; default the number of symbols.
    """
    words, counts = state.words, state.counts
    pair_counts: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], set[int]] = {}
    for i, w in enumerate(words):
        c = counts[i]
        for p in zip(w, w[1:]):
            pair_counts[p] = pair_counts.get(p, 0) + c
            s = where.get(p)
            if s is None:
                where[p] = {i}
            else:
                s.add(i)
    likelihood = criterion == "likelihood"
    sym: list[int] = [0] * len(state.id_to_token)
    pairs_of: dict[int, set[tuple[int, int]]] = {}
    total = 0
    if likelihood:
        for w, c in zip(words, counts):
            for s in w:
                sym[s] += c
            total += c * len(w)
        for p in pair_counts:
            pairs_of.setdefault(p[0], set()).add(p)
            pairs_of.setdefault(p[1], set()).add(p)

    def gain(p: tuple[int, int]) -> float:
        c = pair_counts[p]
        a, b = p
        if a == b:
            local = _xlogx(c) + _xlogx(sym[a] - 2 * c) - _xlogx(sym[a])
        else:
            local = _xlogx(c) + _xlogx(sym[a] - c) + _xlogx(sym[b] - c) - _xlogx(sym[a]) - _xlogx(sym[b])
        return local + _xlogx(total) - _xlogx(total - c)

    def priority(p: tuple[int, int]) -> float:
        return -gain(p) if likelihood else -pair_counts[p]

    floor = max(1, min_frequency)
    # Heap entries (priority, left, right, stamp); only the newest stamp of a pair is live, so
    # re-pushing a pair retires its older entries instead of leaving duplicates to re-evaluate.
    stamp: dict[tuple[int, int], int] = {}
    heap = []
    for p, c in pair_counts.items():
        if c >= (floor if likelihood else 1):
            stamp[p] = 0
            heap.append((priority(p), p[0], p[1], 0))
    heapq.heapify(heap)

    def push(q: tuple[int, int]) -> None:
        s = stamp[q] = stamp.get(q, 0) + 1
        heapq.heappush(heap, (priority(q), q[0], q[1], s))

    heappush = heapq.heappush
    counted = counted or (lambda: len(state.id_to_token))
    if progress is not None:
        progress(counted())
    while heap and counted() < vocab_size:
        key, a, b, s = heapq.heappop(heap)
        p = (a, b)
        if stamp.get(p) != s:
            continue  # superseded by a newer entry of the same pair
        c = pair_counts.get(p, 0)
        if c < 1 or (likelihood and c < floor):
            continue  # counts of existing pairs only fall: this pair cannot come back
        current = priority(p)
        if likelihood:
            # Accept only if the fresh gain still beats every (upper-bound) entry left in the heap.
            if heap and (current, a, b) > heap[0][:3]:
                push(p)
                continue
        elif current != key:
            push(p)
            continue
        if c < floor:
            break  # frequency order: nothing left reaches min_frequency
        z, new_pairs = _apply_merge(state, p, c, pair_counts, where, sym, pairs_of, likelihood, join)
        if likelihood:
            total -= c
            for x in (a, b, z):
                live = pairs_of.get(x)
                if not live:
                    continue
                todo = []
                for q in list(live):
                    if pair_counts.get(q, 0) < floor:
                        live.discard(q)  # prune pairs that no longer occur (or can never be merged)
                    else:
                        todo.append(q)
                for q, g in zip(todo, _gains(todo, pair_counts, sym, total)):
                    st = stamp[q] = stamp.get(q, 0) + 1
                    heappush(heap, (-g, q[0], q[1], st))
        else:
            for q in new_pairs:
                if pair_counts.get(q, 0) > 0:
                    push(q)
        if progress is not None:
            progress(1)


def _xlogx_array(x: np.ndarray) -> np.ndarray:
    return x * np.log(np.maximum(x, 1))  # 0 log 0 = 0 and 1 log 1 = 0


def _gains(pairs: list[tuple[int, int]], pair_counts: dict, sym: list[int], total: int) -> list[float]:
    """Vectorized exact log-likelihood gain of many pairs (same formula as ``gain`` in learn_merges)."""
    if not pairs:
        return []
    c = np.array([pair_counts[q] for q in pairs], dtype=np.float64)
    left = np.array([sym[q[0]] for q in pairs], dtype=np.float64)
    right = np.array([sym[q[1]] for q in pairs], dtype=np.float64)
    same = np.array([q[0] == q[1] for q in pairs])
    f = _xlogx_array
    local = np.where(same, f(c) + f(left - 2 * c) - f(left),
                     f(c) + f(left - c) + f(right - c) - f(left) - f(right))
    return (local + f(np.float64(total)) - f(total - c)).tolist()


def _apply_merge(state: MergeState, pair: tuple[int, int], count: int, pair_counts: dict, where: dict,
                 sym: list[int], pairs_of: dict, likelihood: bool,
                 join: Callable[[str, str], str]) -> tuple[int, set[tuple[int, int]]]:
    """Merge ``pair`` in every word that holds it; return the merged id and the pairs it formed."""
    a, b = pair
    token = join(state.id_to_token[a], state.id_to_token[b])
    z = state.token_to_id.get(token)
    if z is None:
        z = len(state.id_to_token)
        state.id_to_token.append(token)
        state.token_to_id[token] = z
        sym.append(0)
    state.merges.append((a, b, z))
    state.merge_counts.append(count)
    new_pairs: set[tuple[int, int]] = set()
    words, counts = state.words, state.counts
    get = pair_counts.get
    for i in where.pop(pair, ()):
        w = words[i]
        if a not in w:  # stale entry: the pair left this word in an earlier merge
            continue
        n, c = len(w), counts[i]
        out: list[int] = []
        j = merged = 0
        # Only the neighbours of each merged occurrence change (as in HF's Word::merge):
        # (x, a) -> (x, z) on the left and (b, y) -> (z, y) on the right.
        while True:
            try:
                k = w.index(a, j)
            except ValueError:
                break
            if k + 1 < n and w[k + 1] == b:
                out += w[j:k]
                if out:  # the merged pair itself is dropped as a whole afterwards, so skip it
                    x = out[-1]
                    q = (x, a)
                    if q != pair:
                        pair_counts[q] = get(q, 0) - c
                    q = (x, z)
                    pair_counts[q] = get(q, 0) + c
                    new_pairs.add(q)
                    where.setdefault(q, set()).add(i)
                if k + 2 < n:
                    y = w[k + 2]
                    q = (b, y)
                    if q != pair:
                        pair_counts[q] = get(q, 0) - c
                    q = (z, y)
                    pair_counts[q] = get(q, 0) + c
                    new_pairs.add(q)
                    where.setdefault(q, set()).add(i)
                out.append(z)
                j = k + 2
                merged += 1
            else:
                out += w[j:k + 1]
                j = k + 1
        if not merged:
            continue
        out += w[j:]
        if likelihood:
            sym[a] -= merged * c
            sym[b] -= merged * c
            sym[z] += merged * c
        words[i] = out
    if likelihood:
        for q in new_pairs:
            pairs_of.setdefault(q[0], set()).add(q)
            pairs_of.setdefault(q[1], set()).add(q)
    pair_counts.pop(pair, None)
    return z, new_pairs
