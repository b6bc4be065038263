"""Masking units beyond pieces and words: ERNIE 1.0 phrases and entities, SpanBERT spans, ERNIE's stages.

:func:`~reprlab.pretrain.masking.mask_tokens` masks *groups*: the runs of equal ``word_ids``. Every
unit of ``masking.unit`` is such a grouping, so the budget (k_b = floor(n_b p + u_b) pieces per
row, BERT's greedy fill that skips a group that would overshoot) and the 80/10/10 replacement stay
the one implementation, and a chosen group is always masked whole:

``piece``      every piece alone (BERT)
``word``       whole words (BERT's whole-word masking; ``masking.whole_word=true`` is the same)
``phrase``     ERNIE 1.0 phrase-level masking: each phrase one group, other words whole
               (entity spans split into their words)
``entity``     ERNIE 1.0 entity-level masking: each entity one group, other words whole
``knowledge``  phrases and entities both whole (the union of the two)
``staged``     ERNIE 1.0's schedule (Sun et al. 2019, section 3.2): ``word`` ("basic-level"), then
               ``phrase``, then ``entity``, for the fractions ``masking.stages`` of
               ``masking.total_steps`` (default ``train.max_steps``)
``span``       SpanBERT (Joshi et al. 2020, section 3.1): each row's words are cut into
               consecutive spans of geometric length, P(l) ∝ p (1 - p)^(l - 1) for l = 1..10
               (p = 0.2, mean 3.8 words), and whole spans are chosen until 15% of the pieces;
               with ``masking.span_replacement=true`` (SpanBERT's choice) 80/10/10 is decided once
               per span, else per piece

Phrase and entity groups come from the shards' ``span_start``/``span_kind`` arrays
(:mod:`reprlab.pretrain.knowledge`, ``prepare --spans auto|lexicon``).

Cutting the words into a random partition and choosing parts uniformly keeps the span lengths
geometric (a part's length is independent of it being chosen) without SpanBERT's sequential
rejection loop; the greedy fill near the budget's end favours short spans slightly, and spans
never run past the row's end.
"""

from __future__ import annotations

from typing import Any

import torch

from reprlab.errors import ConfigError, DataError
from reprlab.pretrain.knowledge import ENTITY, PHRASE
from reprlab.pretrain.masking import MaskingConfig, keyed_uniform

SPAN_UNITS = ("phrase", "entity", "knowledge", "staged")  # units that read the shards' span arrays
_SPAN_STREAM = 4  # keyed_uniform stream of the span lengths (mask_tokens uses 0-3)


def stage_unit(masking: MaskingConfig, step: int) -> str:
    """The unit of ``masking`` at training ``step`` (resolves ``staged`` to word, phrase or entity)."""
    if masking.unit != "staged":
        return "word" if masking.whole_word and masking.unit == "piece" else masking.unit
    total = masking.total_steps
    if total < 1:
        raise ConfigError("masking.unit='staged' needs masking.total_steps >= 1 (runs set it from train.max_steps)")
    basic, phrase, _ = masking.stages
    if step < basic * total:
        return "word"
    return "phrase" if step < (basic + phrase) * total else "entity"


def word_starts(word_ids: torch.Tensor, special: torch.Tensor) -> torch.Tensor:
    """(B, T) bool: the first piece of every word (runs of equal ``word_ids`` among non-special positions)."""
    cand = ~special.bool()
    prev_same = torch.zeros_like(cand)
    prev_same[:, 1:] = (word_ids[:, 1:] == word_ids[:, :-1]) & cand[:, :-1]
    return cand & ~prev_same


def group_ids(starts: torch.Tensor, special: torch.Tensor) -> torch.Tensor:
    """``word_ids``-style group numbers (B, T) from group-start flags; -1 at special positions.

    A group also starts after every special position (and at the row's start): a span cut by an
    instance boundary or a separator is two groups, each numbered on its own.
    """
    special = special.bool()
    after = torch.ones_like(special)
    after[:, 1:] = special[:, :-1]
    ids = ((starts.bool() | after) & ~special).long().cumsum(1) - 1
    return torch.where(special, torch.full_like(ids, -1), ids)


def knowledge_groups(word_ids: torch.Tensor, special: torch.Tensor, span_start: torch.Tensor,
                     span_kind: torch.Tensor, unit: str) -> torch.Tensor:
    """Group numbers (B, T) that make ``mask_tokens`` mask phrases, entities or both whole.

    Parameters
    ----------
    word_ids, special : Tensor (B, T)
        As in :class:`~reprlab.pretrain.batches.PretrainBatch`.
    span_start, span_kind : Tensor (B, T)
        The shards' arrays (0 at special positions).
    unit : {"phrase", "entity", "knowledge"}
        Which spans stay whole; pieces of the other kind group by word.
    """
    if unit not in ("phrase", "entity", "knowledge"):
        raise ConfigError(f"unit={unit!r}: knowledge groups are phrase, entity or knowledge")
    words = word_starts(word_ids, special)
    spans = span_start.bool() & ~special.bool()
    keep = {"phrase": span_kind == PHRASE, "entity": span_kind == ENTITY, "knowledge": span_kind > 0}[unit]
    # inside a kept span only its first piece starts a group; elsewhere every word starts one
    return group_ids(torch.where(keep, spans, words), special)


def span_length_probs(p: float = 0.2, max_length: int = 10) -> torch.Tensor:
    """SpanBERT's span-length distribution: P(l) ∝ p (1 - p)^(l - 1), l = 1..max_length (float64)."""
    lengths = torch.arange(1, max_length + 1, dtype=torch.float64)
    w = p * (1 - p) ** (lengths - 1)
    return w / w.sum()


def span_groups(word_ids: torch.Tensor, special: torch.Tensor, keys: torch.Tensor | None, *, p: float = 0.2,
                max_length: int = 10, generator: torch.Generator | None = None) -> torch.Tensor:
    """Group numbers (B, T): each row's words cut into consecutive spans of geometric length (in words).

    With ``keys`` the lengths are a hash of (key, position) as in ``mask_tokens``; else drawn from
    ``generator``.
    """
    b, t = word_ids.shape
    starts = word_starts(word_ids, special)  # (B, T)
    u = keyed_uniform(keys, _SPAN_STREAM, t) if keys is not None else torch.rand((b, t), generator=generator,
                                                                                   device=word_ids.device)
    cdf = span_length_probs(p, max_length).cumsum(0).to(u.device, torch.float32)
    cdf[-1] = 1.0 + 1e-6
    lengths = torch.searchsorted(cdf, u.contiguous()) + 1  # (B, T) span lengths in words, 1..max_length
    ends = lengths.cumsum(1)  # (B, T) word index where span j ends; spans start at 0, ends[0], ends[1], ...
    word_number = starts.long().cumsum(1) - 1  # (B, T)
    span_first = torch.zeros(b, t + max_length * t + 1, dtype=torch.bool, device=word_ids.device)
    span_first[:, 0] = True
    span_first.scatter_(1, ends, True)  # word numbers that open a span
    begins = starts & span_first.gather(1, word_number.clamp_min(0))
    return group_ids(begins, special)


def masking_groups(batch: Any, masking: MaskingConfig, step: int, keys: torch.Tensor | None) -> torch.Tensor | None:
    """The ``word_ids`` argument of ``mask_tokens`` for ``masking`` at ``step`` (``None`` = pieces).

    Raises
    ------
    DataError
        A phrase/entity unit on a batch without the span arrays (shards prepared without ``--spans``).
    """
    unit = stage_unit(masking, step)
    if unit == "piece":
        return None
    if unit == "word":
        return batch.word_ids
    if unit == "span":
        return span_groups(batch.word_ids, batch.special_tokens_mask, keys, p=masking.span_p,
                           max_length=masking.span_max_length)
    if "span_start" not in batch.extras or "span_kind" not in batch.extras:
        raise DataError(f"masking.unit={masking.unit!r} needs phrase/entity spans stored with the shards; prepare "
                        "them with `reprlab pretrain prepare ... --spans auto` or `--lexicon FILE`")
    return knowledge_groups(batch.word_ids, batch.special_tokens_mask, batch.extras["span_start"],
                            batch.extras["span_kind"], unit)


__all__ = ["SPAN_UNITS", "stage_unit", "word_starts", "group_ids", "knowledge_groups", "span_length_probs",
           "span_groups", "masking_groups"]
