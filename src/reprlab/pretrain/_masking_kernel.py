"""The CPU masking kernel (numba): :func:`reprlab.pretrain.masking.mask_tokens` in one pass per row; private.

A profile of ``mask_tokens`` on a 32 x 128 batch showed its time going to ~100 small torch ops
(the keyed hash alone is ~40 of them, each a few microseconds of dispatch on a 4k-element tensor),
not to arithmetic. This kernel does the same computation row by row in compiled code:

- the keyed draws are the same SplitMix64 hash as :func:`~reprlab.pretrain.masking.keyed_uniform`
  (wrapping uint64 arithmetic, the top 24 bits as a float32 in [0, 1)), computed only where a draw
  is used (a word's first piece, a selected piece) instead of for every position of four streams;
- words are visited in the order of a stable argsort of their scores: popped from a binary heap
  of ``score bits << 32 | word number`` (which orders ties by word number as the stable sort does)
  until the budget is spent, so only the ~15% of words that are visited pay for their order (a
  full sort of every row was most of the kernel's time);
- BERT's greedy fill, then the 80/10/10 corruption, compared and scaled in float32 as the torch
  expressions are.

The results are bit-identical to the torch path (``tests/pretrain/test_pretrain_masking.py`` checks
it on random batches, keyed and generator-driven), which stays in use for tensors on other devices.
Compiled with ``cache=True``: the JIT cost is paid once per installation.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

_JIT: dict[str, Any] = dict(nogil=True, cache=True, error_model="numpy")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.int64(0xFFFFFFFF)


@numba.njit(**_JIT)
def _mix64(x: np.uint64) -> np.uint64:
    """SplitMix64's finalizer (the same as ``masking.mix64``)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


@numba.njit(**_JIT)
def _bits24(row: np.uint64, position: int) -> np.int64:
    """Top 24 bits of the hash of (row hash, position): ``keyed_uniform``'s value times 2^24."""
    return np.int64(_mix64(row + np.uint64(position) * _GOLDEN) >> np.uint64(40))


@numba.njit(**_JIT)
def _sift_down(heap: np.ndarray, i: int, n: int) -> None:
    """Restore the min-heap property of ``heap[:n]`` below position ``i``."""
    item = heap[i]
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= item:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = item


@numba.njit(**_JIT)
def mask_rows(input_ids: np.ndarray, special: np.ndarray, word_ids: np.ndarray, whole_word: bool,
              keyed: bool, keys: np.ndarray, u_word_bits: np.ndarray, u_count: np.ndarray, u_how: np.ndarray,
              u_pick: np.ndarray, pool: np.ndarray, mask_token_id: int, mlm_probability: float,
              mask_below: np.float32, random_below: np.float32, max_predictions: int,
              unit_replacement: bool, ignore_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Corrupted ids and labels (B, T) of ``mask_tokens``.

    ``keyed``: draws from the hash of ``keys`` (uint64, (B,)), else from the arrays ``u_how``,
    ``u_pick`` (float32 (B, T)), ``u_count`` (float32 (B,)) and ``u_word_bits`` (the word scores'
    float32 bits as int32 (B, T): non-negative floats order as their bits). ``word_ids`` is read only
    when ``whole_word``. ``mask_below`` / ``random_below`` are the float32 thresholds
    ``mask_replace_prob`` and ``mask_replace_prob + random_replace_prob``; ``max_predictions`` < 0
    means no cap.
    """
    b_rows, t_cols = input_ids.shape
    out = input_ids.copy()
    labels = np.full((b_rows, t_cols), ignore_index, dtype=np.int64)
    unit_of = np.empty(t_cols, dtype=np.int64)
    first = np.empty(t_cols, dtype=np.int64)
    lengths = np.empty(t_cols, dtype=np.int64)
    order_keys = np.empty(t_cols, dtype=np.int64)
    taken = np.empty(t_cols, dtype=np.bool_)
    n_pool = len(pool)
    pool_size = np.float32(n_pool)
    scale = np.float32(1.0 / (1 << 24))
    for b in range(b_rows):
        row_word = row_count = row_how = row_pick = np.uint64(0)
        if keyed:
            key8 = keys[b] * np.uint64(8)
            row_word, row_count = _mix64(key8), _mix64(key8 + np.uint64(1))
            row_how, row_pick = _mix64(key8 + np.uint64(2)), _mix64(key8 + np.uint64(3))
        # units: runs of equal word ids among candidate positions (every candidate when not whole_word)
        n_units = 0
        n_cand = 0
        for t in range(t_cols):
            if special[b, t]:
                continue
            n_cand += 1
            if whole_word and t > 0 and not special[b, t - 1] and word_ids[b, t] == word_ids[b, t - 1]:
                unit_of[t] = n_units - 1
                lengths[n_units - 1] += 1
                continue
            if keyed:
                score = _bits24(row_word, t)
            else:
                score = np.int64(u_word_bits[b, t])
            unit_of[t] = n_units
            first[n_units] = t
            lengths[n_units] = 1
            order_keys[n_units] = (score << 32) | n_units
            n_units += 1
        # how many: stochastic rounding of n p, in float64 as the torch path
        u = np.float32(_bits24(row_count, 0)) * scale if keyed else u_count[b]
        k = np.int64(np.floor(np.float64(n_cand) * mlm_probability + np.float64(u)))
        k = min(k, n_cand)
        if max_predictions >= 0:
            k = min(k, max_predictions)
        # which: BERT's greedy fill over the words in random order
        for i in range(n_units // 2 - 1, -1, -1):
            _sift_down(order_keys, i, n_units)
        taken[:n_units] = False
        left = k
        size = n_units
        while left > 0 and size > 0:
            unit = order_keys[0] & _LOW32  # the word with the smallest score left
            size -= 1
            order_keys[0] = order_keys[size]
            _sift_down(order_keys, 0, size)
            if lengths[unit] <= left:
                taken[unit] = True
                left -= lengths[unit]
        # how: [MASK] / random / keep per piece (per word with unit_replacement)
        for t in range(t_cols):
            if special[b, t] or not taken[unit_of[t]]:
                continue
            labels[b, t] = input_ids[b, t]
            at = first[unit_of[t]] if unit_replacement else t
            how = np.float32(_bits24(row_how, at)) * scale if keyed else u_how[b, at]
            if how < mask_below:
                out[b, t] = mask_token_id
            elif how < random_below:
                pick_u = np.float32(_bits24(row_pick, t)) * scale if keyed else u_pick[b, t]
                pick = min(np.int64(pick_u * pool_size), n_pool - 1)
                out[b, t] = pool[pick]
    return out, labels
