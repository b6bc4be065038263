"""Instances -> model inputs: a lazy map-style dataset over the shards and its collate function.

An item is one instance laid out as ``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]`` (FULL-SENTENCES
puts a separator before every document that starts inside A), read from the memory-mapped shards
when the DataLoader asks for it, so each process of a data-parallel run reads only its own
instances. A batch is a :class:`PretrainBatch` of right-padded tensors; masking happens later, in
the objective, keyed by the instance number (see :mod:`reprlab.pretrain.masking`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from reprlab.errors import DataError
from reprlab.pretrain.instances import NO_LABEL, Instances, separator_positions
from reprlab.pretrain.shards import ShardSet


@dataclass
class Layout:
    """Special token ids around the segments (``None`` = leave that token out)."""

    cls: int | None
    sep: int | None
    pad: int
    doc_sep: int | None = None  # FULL-SENTENCES: token between documents (default: ``sep``)

    @classmethod
    def from_special_ids(cls, ids: dict[str, int | None]) -> Layout:
        missing = [r for r in ("cls", "sep", "pad") if ids.get(r) is None]
        if missing:
            raise DataError(f"the tokenizer has no {', '.join(missing)} token; BERT-style instances need "
                            "[CLS], [SEP] and [PAD] (or <s>, </s>, <pad>) in the vocabulary")
        return cls(cls=ids["cls"], sep=ids["sep"], pad=ids["pad"])  # type: ignore[arg-type]


@dataclass
class PretrainBatch:
    """A padded batch. Shapes: B instances, T = the longest instance.

    Attributes
    ----------
    input_ids, attention_mask, token_type_ids : LongTensor (B, T)
    special_tokens_mask : BoolTensor (B, T)
        Special tokens and padding (never masked).
    word_ids : LongTensor (B, T)
        Word number of each piece within its row, -1 at special positions (whole-word masking).
    keys : LongTensor (B,)
        Instance numbers (keys of the masking hash).
    sentence_labels : LongTensor (B,)
        NSP/SOP label, -100 when the instance has none.
    extras : dict of LongTensor (B, T)
        Per-token side arrays of the shards the dataset was asked for (0 at special positions).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor
    special_tokens_mask: torch.Tensor
    word_ids: torch.Tensor
    keys: torch.Tensor
    sentence_labels: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def num_tokens(self) -> int:
        return int(self.attention_mask.sum())


class InstanceDataset(Dataset):
    """Map-style dataset of :class:`Instances` over a :class:`ShardSet` (items are dicts of arrays).

    Parameters
    ----------
    shards : ShardSet
    instances : Instances
    layout : Layout
    groups : list of int arrays, optional
        When given, item ``i`` is the batch ``groups[i]`` of instances (DOC-SENTENCES batches of
        varying size); train with ``batch_size=1``.
    extra_arrays : sequence of str
        Per-token side arrays of the shards (``meta.json["arrays"]``) to carry into
        ``PretrainBatch.extras``, laid out like the tokens (0 at special positions).
    """

    def __init__(self, shards: ShardSet, instances: Instances, layout: Layout,
                 groups: Sequence[np.ndarray] | None = None, extra_arrays: Sequence[str] = ()):
        self.shards, self.instances, self.layout, self.groups = shards, instances, layout, groups
        self.extra_arrays = tuple(extra_arrays)
        self._doc_starts = shards.document_token_offsets() if instances.separators else None

    def __len__(self) -> int:
        return len(self.groups) if self.groups is not None else len(self.instances)

    def __getitem__(self, i: int) -> Any:
        if self.groups is not None:
            return [self.item(int(j)) for j in self.groups[i]]
        return self.item(int(i))

    def _segment(self, lo: int, hi: int, segment: int) -> dict[str, np.ndarray]:
        """Per-token arrays of ``[lo, hi)`` (tokens, word starts, special flags, extras), separators inserted."""
        arrays = {"input_ids": self.shards.read("tokens", lo, hi),
                  "word_start": self.shards.read("word_start", lo, hi).astype(bool),
                  "special": np.zeros(hi - lo, dtype=bool)}
        for name in self.extra_arrays:
            arrays[name] = self.shards.read(name, lo, hi).astype(np.int64)
        if self._doc_starts is not None:
            cuts = separator_positions(self._doc_starts, lo, hi) - lo
            if len(cuts):
                sep = self.layout.doc_sep if self.layout.doc_sep is not None else self.layout.sep
                fill: dict[str, Any] = {"input_ids": sep, "word_start": False, "special": True}
                arrays = {k: np.insert(v, cuts, fill.get(k, 0)) for k, v in arrays.items()}
        arrays["token_type_ids"] = np.full(len(arrays["input_ids"]), segment, np.int64)
        return arrays

    def _special(self, token: int, segment: int) -> dict[str, np.ndarray]:
        out = {"input_ids": np.asarray([token], np.int64), "word_start": np.zeros(1, bool),
               "special": np.ones(1, bool), "token_type_ids": np.full(1, segment, np.int64)}
        return {**out, **{name: np.zeros(1, np.int64) for name in self.extra_arrays}}

    def item(self, i: int) -> dict[str, Any]:
        """Instance ``i``: input_ids, token_type_ids, special, word_start, the extras, key and label."""
        inst, lay = self.instances, self.layout
        b_lo, b_hi = int(inst.b_lo[i]), int(inst.b_hi[i])
        parts = []
        if lay.cls is not None:
            parts.append(self._special(lay.cls, 0))
        parts.append(self._segment(int(inst.a_lo[i]), int(inst.a_hi[i]), 0))
        if lay.sep is not None:
            parts.append(self._special(lay.sep, 0))
        if b_hi > b_lo:
            parts.append(self._segment(b_lo, b_hi, 1))
            if lay.sep is not None:
                parts.append(self._special(lay.sep, 1))
        out: dict[str, Any] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["input_ids"] = out["input_ids"].astype(np.int64)
        out.update(key=i, label=int(inst.label[i]))
        return out


def collate(items: list[Any], pad_id: int) -> PretrainBatch:
    """Right-pad items (lists of items, for grouped datasets, are flattened) into a batch."""
    if items and isinstance(items[0], list):
        items = [x for group in items for x in group]
    t = max(len(x["input_ids"]) for x in items)
    b = len(items)
    ids = np.full((b, t), pad_id, np.int64)
    types = np.zeros((b, t), np.int64)
    special = np.ones((b, t), bool)
    starts = np.zeros((b, t), bool)
    for r, x in enumerate(items):
        n = len(x["input_ids"])
        ids[r, :n] = x["input_ids"]
        types[r, :n] = x["token_type_ids"]
        special[r, :n] = x["special"]
        starts[r, :n] = x["word_start"]
    word_ids = np.where(special, -1, np.cumsum(starts, axis=1) - 1)
    lengths = np.asarray([len(x["input_ids"]) for x in items])
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.int64)
    extras = {}
    for name in items[0].keys() - _BASE_FIELDS:
        arr = np.zeros((b, t), np.int64)
        for r, x in enumerate(items):
            arr[r, :len(x[name])] = x[name]
        extras[name] = torch.from_numpy(arr)
    return PretrainBatch(
        input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
        token_type_ids=torch.from_numpy(types), special_tokens_mask=torch.from_numpy(special),
        word_ids=torch.from_numpy(word_ids), keys=torch.tensor([x["key"] for x in items], dtype=torch.long),
        sentence_labels=torch.tensor([x["label"] for x in items], dtype=torch.long), extras=extras)


_BASE_FIELDS = {"input_ids", "token_type_ids", "special", "word_start", "key", "label"}


class Collator:
    """``collate`` with the pad id bound (picklable, for DataLoader workers)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list[Any]) -> PretrainBatch:
        return collate(items, self.pad_id)


__all__ = ["Layout", "PretrainBatch", "InstanceDataset", "collate", "Collator", "NO_LABEL"]
