"""Masked-LM corruption (BERT's 80/10/10) of a whole batch at once, piece- or word-level.

``mask_tokens`` follows BERT's ``create_masked_lm_predictions`` (Devlin et al. 2018, section 3.1
and appendix A.1; google-research/bert ``create_pretraining_data.py``) on a whole batch at once:

1. **How many.** Row b has n_b candidate tokens (not special, not padding). It gets
   k_b = floor(n_b p + u_b) predictions, u_b ~ U(0, 1) — a stochastic rounding of n_b p, so the
   expected masked share is exactly p for every length (BERT's ``round`` gives 20% to a 10-token
   row) — capped at ``max_predictions``.
2. **Which.** Units (pieces, or whole words when ``word_ids`` is given) are visited in a random
   order and taken greedily while they fit the budget k_b; a word that would overshoot is skipped
   and later, shorter ones are still tried — BERT's rule, so whole-word masking still hits k_b
   pieces except when no remaining word fits. Words are the runs of equal ``word_ids``, which every
   reprlab tokenizer returns (WordPiece ``##`` pieces and byte-level BPE words alike); HF's
   collator instead guesses words from ``##`` prefixes or offsets.
3. **How.** Each selected *piece* independently (as BERT, also under whole-word masking): with
   probability ``mask_replace_prob`` becomes ``mask_token_id``, with ``random_replace_prob`` a
   random token, else stays unchanged. Random tokens come uniformly from ``random_ids`` — by default
   the ids below ``vocab_size`` other than ``mask_token_id`` and the ids found at special positions
   of the batch; pass :func:`non_special_ids` of the tokenizer to exclude every special token
   (``[UNK]``, ``[CLS]``, ...), which the pretraining objectives do. BERT draws from the whole
   vocabulary, special tokens included.

On CPU the work is one compiled pass per row (:mod:`reprlab.pretrain._masking_kernel`); on other
devices the same steps run as batched torch operations. Both give the same masks, bit for bit.

Randomness comes from ``generator`` (a ``torch.Generator``, or the global RNG), or — with ``keys`` —
from a counter-based hash of (key of the row, draw, position). Keyed draws make a row's mask a
function of its key alone, independent of batch composition, padding, process count and resume:
static masking keys a row by its instance number, dynamic masking by (instance, step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch

from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError

IGNORE_INDEX = -100


@dataclass
class MaskingConfig:
    """Masked-LM corruption settings (the defaults are BERT's)."""

    # static: one mask per instance, the same every epoch (BERT); dynamic: a new one every step (RoBERTa);
    # None: the objective's own (static for bert, dynamic for roberta and albert)
    mode: Literal["static", "dynamic"] | None = None
    mlm_probability: float = 0.15  # share of candidate pieces predicted (Cramming found 0.25 better for short budgets)
    mask_replace_prob: float = 0.8  # of those: replaced by [MASK]
    random_replace_prob: float = 0.1  # of those: replaced by a random non-special token (the rest stay)
    max_predictions: int | None = None  # cap per sequence (BERT: 20 at length 128, 80 at 512); None = no cap
    whole_word: bool = False  # mask every piece of a chosen word together (the same as unit="word")
    seed: int = 0  # masks are a hash of (seed, instance[, step]): reproducible across resume and processes
    # what is masked whole (pretrain.knowledge_masking): piece | word | phrase | entity | knowledge (ERNIE 1.0,
    # needs shards prepared with --spans) | staged (ERNIE 1.0: word, then phrase, then entity) | span (SpanBERT)
    unit: Literal["piece", "word", "phrase", "entity", "knowledge", "staged", "span"] = "piece"
    stages: list[float] = field(default_factory=lambda: [0.4, 0.3, 0.3])  # staged: shares of word/phrase/entity
    total_steps: int = 0  # staged: the steps the stage shares refer to; 0 = train.max_steps
    span_p: float = 0.2  # span: geometric span-length parameter (SpanBERT)
    span_max_length: int = 10  # span: longest span, in words (SpanBERT)
    span_replacement: bool = False  # decide 80/10/10 once per masked group (SpanBERT) instead of per piece

    def validate(self) -> None:
        check_probabilities(self.mlm_probability, self.mask_replace_prob, self.random_replace_prob,
                            self.max_predictions, prefix="masking.")
        check_choices(self, "masking.")
        if self.whole_word and self.unit not in ("piece", "word"):
            raise ConfigError(f"masking.whole_word=true and masking.unit={self.unit!r} disagree; set only "
                              "masking.unit")
        if len(self.stages) != 3 or min(self.stages) < 0 or abs(sum(self.stages) - 1.0) > 1e-6:
            raise ConfigError(f"masking.stages={self.stages}: give three non-negative shares of the steps "
                              "(word, phrase, entity) that sum to 1, e.g. [0.4, 0.3, 0.3]")
        if self.total_steps < 0:
            raise ConfigError(f"masking.total_steps={self.total_steps}: must be >= 0 (0 = train.max_steps)")
        if not 0.0 < self.span_p <= 1.0 or self.span_max_length < 1:
            raise ConfigError(f"masking.span_p={self.span_p} must be in (0, 1] and masking.span_max_length="
                              f"{self.span_max_length} >= 1")


def check_probabilities(mlm_probability: float, mask_replace_prob: float, random_replace_prob: float,
                        max_predictions: int | None, prefix: str = "") -> None:
    """Raise :class:`ConfigError` for rates outside [0, 1] or replace shares summing past 1."""
    for name, v in (("mlm_probability", mlm_probability), ("mask_replace_prob", mask_replace_prob),
                    ("random_replace_prob", random_replace_prob)):
        if not 0.0 <= v <= 1.0:
            raise ConfigError(f"{prefix}{name}={v}: must be in [0, 1]")
    if mask_replace_prob + random_replace_prob > 1.0 + 1e-12:
        raise ConfigError(f"{prefix}mask_replace_prob + random_replace_prob = "
                          f"{mask_replace_prob + random_replace_prob:g} > 1; the remainder keeps the token")
    if max_predictions is not None and max_predictions < 1:
        raise ConfigError(f"{prefix}max_predictions={max_predictions}: must be >= 1 or None")


# ------------------------------------------------------------------------------ counter-based random
def _s64(c: int) -> int:
    return c - (1 << 64) if c >= 1 << 63 else c


_GOLDEN, _M1, _M2 = _s64(0x9E3779B97F4A7C15), _s64(0xBF58476D1CE4E5B9), _s64(0x94D049BB133111EB)


def _shr(x: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift of int64 (torch's ``>>`` is arithmetic)."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def mix64(x: torch.Tensor) -> torch.Tensor:
    """SplitMix64's finalizer on int64 tensors (wrapping arithmetic): a fast, well-mixed hash."""
    x = x + _GOLDEN
    x = (x ^ _shr(x, 30)) * _M1
    x = (x ^ _shr(x, 27)) * _M2
    return x ^ _shr(x, 31)


def keyed_uniform(keys: torch.Tensor, stream: int | Sequence[int], length: int) -> torch.Tensor:
    """Uniform [0, 1) float32 numbers (B, length): a hash of (keys[b], stream, position).

    The same key always gives the same row, on any device and in any batch. A sequence of streams
    gives (S, B, length), the rows of each stream exactly as one call per stream would (in a single
    pass of the hash: on short rows its cost is the number of operations, not their size).
    """
    streams = torch.as_tensor(stream, dtype=torch.long, device=keys.device)
    row = mix64(keys.long() * 8 + streams[..., None])  # (B,) or (S, B)
    pos = torch.arange(length, device=keys.device, dtype=torch.long)
    bits = mix64(row[..., None] + pos * _GOLDEN)  # (B, T) or (S, B, T)
    return _shr(bits, 40).float() * (1.0 / (1 << 24))


def combine_keys(*parts: torch.Tensor | int) -> torch.Tensor:
    """One int64 key per row from several (e.g. seed, instance, step), by chained hashing."""
    out: torch.Tensor | None = None
    for part in parts:
        t = torch.as_tensor(part, dtype=torch.long)
        out = mix64(t) if out is None else mix64(out ^ mix64(t))
    assert out is not None
    return out


def non_special_ids(tokenizer, vocab_size: int | None = None) -> torch.Tensor:
    """Ids of a tokenizer's vocabulary that are not special tokens (the random-replacement pool)."""
    n = vocab_size or tokenizer.vocab_size
    special = {tokenizer.vocab[t] for t in getattr(tokenizer, "special_tokens", ()) if t in tokenizer.vocab}
    special |= {i for t, i in tokenizer.vocab.items() if t.startswith("[unused")}
    return torch.tensor([i for i in range(n) if i not in special], dtype=torch.long)


# ------------------------------------------------------------------------------ the masking function
def _greedy_fill(lengths: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
    """Visit units in column order, take each that still fits the row's budget (BERT's rule).

    ``lengths`` (B, U) pieces per unit (0 = no unit), ``budget`` (B,). Returns taken (B, U) bool.
    Each pass takes the longest prefix of the remaining units that fits; the unit that ends the
    prefix no longer fits and is dropped with every other unit longer than what is left.
    """
    left = budget.clone()
    remaining = lengths > 0
    taken = torch.zeros_like(remaining)
    while True:
        remaining &= lengths <= left[:, None]
        if not bool(remaining.any()):
            return taken
        cum = (lengths * remaining).cumsum(1)  # (B, U)
        fits = remaining & (cum <= left[:, None])
        taken |= fits
        left = left - (lengths * fits).sum(1)
        remaining &= ~fits


def mask_tokens(input_ids: torch.Tensor, special_tokens_mask: torch.Tensor, *, vocab_size: int,
                mask_token_id: int, mlm_probability: float = 0.15, mask_replace_prob: float = 0.8,
                random_replace_prob: float = 0.1, max_predictions: int | None = None,
                word_ids: torch.Tensor | None = None, generator: torch.Generator | None = None,
                keys: torch.Tensor | None = None, random_ids: torch.Tensor | Sequence[int] | None = None,
                unit_replacement: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt a batch for masked-LM training; see the module docstring for the algorithm.

    Parameters
    ----------
    input_ids : LongTensor (B, T)
        Token ids, padding included.
    special_tokens_mask : Tensor (B, T)
        1/True for special tokens **and padding** (as ``Encoding.pad`` and HF mark them): never
        selected, never changed.
    vocab_size, mask_token_id : int
    mlm_probability : float
        Expected share of candidate pieces selected for prediction.
    mask_replace_prob, random_replace_prob : float
        Shares of selected pieces replaced by ``mask_token_id`` / a random token; the rest keep
        their token.
    max_predictions : int, optional
        At most this many selected pieces per row.
    word_ids : LongTensor (B, T), optional
        Whole-word masking: consecutive candidate positions with the same id are one word (any
        value for special positions). Usually ``Encoding.word_ids`` with ``None`` as -1.
    generator : torch.Generator, optional
        Source of randomness (default: the global RNG); ignored when ``keys`` is given.
    keys : LongTensor (B,), optional
        Per-row keys for counter-based draws (see module docstring).
    random_ids : LongTensor or sequence of int, optional
        Pool of random replacements (default described in the module docstring).
    unit_replacement : bool
        Decide [MASK] / random / keep once per selected word (group of ``word_ids``) instead of
        per piece — SpanBERT's span-level replacement (Joshi et al. 2020, section 3.1). Random
        tokens are still drawn per piece.

    Returns
    -------
    input_ids : LongTensor (B, T)
        A corrupted copy.
    labels : LongTensor (B, T)
        The original id at selected positions, -100 elsewhere.

    Raises
    ------
    ConfigError
        Probabilities outside [0, 1], replace shares above 1, a mask id outside the vocabulary.
    DataError
        Shape mismatches.

    Examples
    --------
    >>> ids = torch.tensor([[2, 10, 11, 12, 13, 3, 0]])
    >>> special = torch.tensor([[1, 0, 0, 0, 0, 1, 1]])
    >>> masked, labels = mask_tokens(ids, special, vocab_size=20, mask_token_id=4, mlm_probability=0.5,
    ...                              generator=torch.Generator().manual_seed(0))
    >>> int((labels != -100).sum())
    2
    """
    check_probabilities(mlm_probability, mask_replace_prob, random_replace_prob, max_predictions)
    if not 0 <= mask_token_id < vocab_size:
        raise ConfigError(f"mask_token_id={mask_token_id} is outside the vocabulary (size {vocab_size})")
    if input_ids.dim() != 2 or special_tokens_mask.shape != input_ids.shape:
        raise DataError(f"input_ids {tuple(input_ids.shape)} and special_tokens_mask "
                        f"{tuple(special_tokens_mask.shape)} must both be (batch, seq_len)")
    if word_ids is not None and word_ids.shape != input_ids.shape:
        raise DataError(f"word_ids has shape {tuple(word_ids.shape)}; expected {tuple(input_ids.shape)}")
    if keys is not None and keys.shape != input_ids.shape[:1]:
        raise DataError(f"keys has shape {tuple(keys.shape)}; expected ({input_ids.shape[0]},)")
    b, t = input_ids.shape
    device = input_ids.device
    pool = _replacement_pool(input_ids, special_tokens_mask, vocab_size, mask_token_id, random_ids)
    if device.type == "cpu":  # one compiled pass per row (the torch ops below cost their dispatch here)
        return _mask_tokens_cpu(input_ids, special_tokens_mask, word_ids, keys, generator, pool, mask_token_id,
                                mlm_probability, mask_replace_prob, random_replace_prob, max_predictions,
                                unit_replacement)
    return _mask_tokens_torch(input_ids, special_tokens_mask, word_ids, _draws(keys, generator, b, t, device), pool,
                              mask_token_id, mlm_probability, mask_replace_prob, random_replace_prob,
                              max_predictions, unit_replacement)


def _replacement_pool(input_ids: torch.Tensor, special_tokens_mask: torch.Tensor, vocab_size: int,
                      mask_token_id: int, random_ids: torch.Tensor | Sequence[int] | None) -> torch.Tensor:
    """The ids random replacements are drawn from (see the module docstring)."""
    device = input_ids.device
    if random_ids is None:
        banned = torch.zeros(vocab_size, dtype=torch.bool, device=device)
        banned[mask_token_id] = True
        banned[input_ids[special_tokens_mask.bool()].clamp(0, vocab_size - 1)] = True
        pool = (~banned).nonzero().squeeze(1)
    else:
        pool = torch.as_tensor(random_ids, dtype=torch.long, device=device)
    if len(pool) == 0:
        raise ConfigError("random_ids is empty: no token to draw random replacements from")
    return pool


def _draws(keys: torch.Tensor | None, generator: torch.Generator | None, b: int, t: int,
           device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The four draws: a score per word (stream 0), the rounding of the count (1), how each
    selected piece is corrupted (2) and which random token replaces it (3)."""
    if keys is not None:
        u_word, u_how, u_pick = keyed_uniform(keys.to(device), (0, 2, 3), t).unbind(0)
        u_count = keyed_uniform(keys.to(device), 1, 1)[:, 0]
    else:
        u_word = torch.rand((b, t), generator=generator, device=device)
        u_count = torch.rand((b, 1), generator=generator, device=device)[:, 0]
        u_how = torch.rand((b, t), generator=generator, device=device)
        u_pick = torch.rand((b, t), generator=generator, device=device)
    return u_word, u_count, u_how, u_pick


def _mask_tokens_cpu(input_ids: torch.Tensor, special_tokens_mask: torch.Tensor, word_ids: torch.Tensor | None,
                     keys: torch.Tensor | None, generator: torch.Generator | None, pool: torch.Tensor,
                     mask_token_id: int, mlm_probability: float, mask_replace_prob: float,
                     random_replace_prob: float, max_predictions: int | None,
                     unit_replacement: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``mask_tokens`` on CPU tensors through the compiled kernel (bit-identical to the torch path)."""
    import numpy as np

    from reprlab.pretrain._masking_kernel import mask_rows

    b, t = input_ids.shape
    none = np.zeros((1, 1), np.float32)
    if keys is None:
        u_word, u_count, u_how, u_pick = (u.contiguous().numpy() for u in _draws(None, generator, b, t, input_ids.device))
        key_bits = np.zeros(1, np.uint64)
        word_bits = u_word.view(np.int32)
    else:
        key_bits = keys.long().contiguous().numpy().view(np.uint64)
        u_count, u_how, u_pick, word_bits = np.zeros(1, np.float32), none, none, none.view(np.int32)
    words = word_ids.long().contiguous().numpy() if word_ids is not None else np.zeros((1, 1), np.int64)
    out, labels = mask_rows(
        input_ids.long().contiguous().numpy(), special_tokens_mask.bool().contiguous().numpy(), words,
        word_ids is not None, keys is not None, key_bits, word_bits, u_count, u_how, u_pick,
        pool.contiguous().numpy(), mask_token_id, mlm_probability, np.float32(mask_replace_prob),
        np.float32(mask_replace_prob + random_replace_prob), -1 if max_predictions is None else max_predictions,
        unit_replacement, IGNORE_INDEX)
    return torch.from_numpy(out).to(input_ids.dtype), torch.from_numpy(labels).to(input_ids.dtype)


def _mask_tokens_torch(input_ids: torch.Tensor, special_tokens_mask: torch.Tensor, word_ids: torch.Tensor | None,
                       draws: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], pool: torch.Tensor,
                       mask_token_id: int, mlm_probability: float, mask_replace_prob: float,
                       random_replace_prob: float, max_predictions: int | None,
                       unit_replacement: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``mask_tokens`` as batched torch ops, for tensors on any device (the CPU kernel's reference)."""
    b, t = input_ids.shape
    device = input_ids.device
    u_word, u_count, u_how, u_pick = draws
    cand = ~special_tokens_mask.bool()  # (B, T)
    if word_ids is None:
        start = cand
    else:
        prev_same = torch.zeros_like(cand)
        prev_same[:, 1:] = (word_ids[:, 1:] == word_ids[:, :-1]) & cand[:, :-1]
        start = cand & ~prev_same  # (B, T) first piece of each word
    unit = (start.long().cumsum(1) - 1).clamp_min(0)  # (B, T) word number of every position
    lengths = torch.zeros(b, t, dtype=torch.long, device=device).scatter_add_(1, unit, cand.long())  # (B, U)
    # (B, U): a uniform per word (the draw at its first piece), 2 = no such word. A scatter, with the
    # non-first pieces sent to a spare column: boolean indexing was most of the CPU profile.
    column = torch.where(start, unit, torch.full_like(unit, t))
    word_score = torch.full((b, t + 1), 2.0, device=device).scatter_(
        1, column, torch.where(start, u_word, 2.0))[:, :t]
    order = word_score.argsort(dim=1, stable=True)  # (B, U) words in random order, non-words last
    n = cand.sum(1)  # (B,)
    k = (n.double() * mlm_probability + u_count.double()).floor().long()
    k = torch.minimum(k, n)
    if max_predictions is not None:
        k = k.clamp_max(max_predictions)
    taken_sorted = _greedy_fill(lengths.gather(1, order), k)  # (B, U)
    taken = torch.zeros_like(taken_sorted).scatter_(1, order, taken_sorted)  # (B, U) by word number
    selected = cand & taken.gather(1, unit)  # (B, T)

    how = u_how  # (B, T)
    if unit_replacement:  # every piece of a word takes the draw of the word's first piece
        position = torch.arange(t, device=device).expand(b, t)
        first = torch.zeros(b, t + 1, dtype=torch.long, device=device).scatter_(
            1, column, position)[:, :t]  # (B, U) position of each word's first piece
        how = how.gather(1, first.gather(1, unit))
    to_mask = selected & (how < mask_replace_prob)
    to_random = selected & (how >= mask_replace_prob) & (how < mask_replace_prob + random_replace_prob)
    pick = (u_pick * len(pool)).long().clamp_max(len(pool) - 1)  # (B, T)
    out = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    out = torch.where(to_random, pool.index_select(0, pick.flatten()).view(b, t), out)  # pool[pick] was slow
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return out, labels
