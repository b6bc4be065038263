"""``Encoding``: the result of tokenizing one text (or a text pair), plus truncation and padding.

Field names follow HF tokenizers' ``Encoding`` (``ids``, ``type_ids``, ``tokens``, ``offsets``,
``attention_mask``, ``special_tokens_mask``, ``word_ids``). :class:`BatchEncoding` holds a padded
batch as ``(B, T)`` tensors under transformers' names (``input_ids``, ``token_type_ids``,
``attention_mask``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from reprlab.errors import ConfigError

Offsets = tuple[int, int]
TruncationStrategy = Literal["longest_first", "only_first", "only_second"]
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second")


@dataclass(slots=True)
class Encoding:
    """Token ids and their alignment to the input text.

    Attributes
    ----------
    ids : list of int
        Vocabulary ids, special tokens included.
    tokens : list of str
        The token strings (``"##"``-prefixed continuation pieces for WordPiece).
    type_ids : list of int
        Segment ids: 0 for ``[CLS] A [SEP]``, 1 for ``B [SEP]``.
    attention_mask : list of int
        1 for real tokens, 0 for padding.
    special_tokens_mask : list of int
        1 for tokens added by the template or padding.
    offsets : list of (int, int)
        Character span ``[start, end)`` of each token in its original text; ``(0, 0)`` for added tokens.
    word_ids : list of int or None
        Index of the word each token came from within its sequence; ``None`` for added tokens.
    sequence_ids : list of int or None
        0 for tokens of the first text, 1 for the pair, ``None`` for added tokens.
    """

    ids: list[int] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    type_ids: list[int] = field(default_factory=list)
    attention_mask: list[int] = field(default_factory=list)
    special_tokens_mask: list[int] = field(default_factory=list)
    offsets: list[Offsets] = field(default_factory=list)
    word_ids: list[int | None] = field(default_factory=list)
    sequence_ids: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def truncate(self, length: int) -> None:
        """Keep the first ``length`` tokens (in place)."""
        for name in _FIELDS:
            del getattr(self, name)[length:]

    def pad(self, length: int, pad_id: int, pad_token: str) -> None:
        """Right-pad to ``length`` tokens (in place); no-op when already that long."""
        n = length - len(self.ids)
        if n <= 0:
            return
        self.ids += [pad_id] * n
        self.tokens += [pad_token] * n
        self.type_ids += [0] * n
        self.attention_mask += [0] * n
        self.special_tokens_mask += [1] * n
        self.offsets += [(0, 0)] * n
        self.word_ids += [None] * n
        self.sequence_ids += [None] * n


_FIELDS = ("ids", "tokens", "type_ids", "attention_mask", "special_tokens_mask", "offsets",
           "word_ids", "sequence_ids")


def truncation_lengths(n1: int, n2: int | None, budget: int, strategy: str) -> tuple[int, int | None]:
    """Lengths to keep of the first and second sequence so that their sum fits ``budget``.

    ``longest_first`` follows HF tokenizers: if the shorter sequence fits in half the budget only
    the longer one is cut; otherwise the shorter keeps ``budget // 2`` and the longer the rest.
    """
    if strategy not in TRUNCATION_STRATEGIES:
        raise ConfigError(f"truncation={strategy!r} is not one of {', '.join(TRUNCATION_STRATEGIES)}")
    if budget < 0:
        raise ConfigError(f"max_length is smaller than the {-budget} special tokens the template adds; "
                          "raise max_length")
    total = n1 + (n2 or 0)
    if total <= budget:
        return n1, n2
    if n2 is None:
        if strategy == "only_second":
            raise ConfigError("truncation='only_second' needs a text pair; use 'longest_first' or 'only_first'")
        return budget, None
    if strategy == "only_first":
        if n1 <= total - budget:
            raise ConfigError(f"the first text ({n1} tokens) is too short to truncate to fit max_length; "
                              "use truncation='longest_first'")
        return n1 - (total - budget), n2
    if strategy == "only_second":
        if n2 <= total - budget:
            raise ConfigError(f"the second text ({n2} tokens) is too short to truncate to fit max_length; "
                              "use truncation='longest_first'")
        return n1, n2 - (total - budget)
    short, long_ = min(n1, n2), max(n1, n2)
    if short > budget // 2:
        short, long_ = budget // 2, budget // 2 + budget % 2
    else:
        long_ = budget - short
    return (short, long_) if n1 <= n2 else (long_, short)


TensorType = Literal["pt", "np"]
MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")


class BatchEncoding(Mapping):
    """A padded batch as arrays, like HF's ``BatchEncoding``: ``model(**batch)`` passes the inputs.

    Keys (and attributes) ``input_ids``, ``token_type_ids``, ``attention_mask``: tensors (or NumPy
    arrays) of shape ``(B, T)``. ``special_tokens_mask`` (1 for added and padding tokens), also
    ``(B, T)``, is an attribute only, not a model input. ``batch[i]`` with an integer is row
    ``i``'s :class:`Encoding`; :meth:`word_ids` gives a row's word indices, as in HF.
    """

    def __init__(self, encodings: list[Encoding], tensor_type: TensorType):
        lengths = {len(e) for e in encodings}
        if len(lengths) > 1:
            raise ConfigError(f"return_tensors needs rows of one length, got lengths {sorted(lengths)}; "
                              "pass padding=True (or 'max_length' with max_length)")
        if tensor_type == "pt":
            import torch

            def array(rows):  # (B, T)
                return torch.tensor(rows, dtype=torch.long).reshape(len(rows), -1)
        else:
            import numpy as np

            def array(rows):  # (B, T)
                return np.asarray(rows, dtype=np.int64).reshape(len(rows), -1)
        self.encodings = encodings
        self.input_ids = array([e.ids for e in encodings])
        self.token_type_ids = array([e.type_ids for e in encodings])
        self.attention_mask = array([e.attention_mask for e in encodings])
        self.special_tokens_mask = array([e.special_tokens_mask for e in encodings])

    def __getitem__(self, key):
        if isinstance(key, int):
            return self.encodings[key]
        if key not in MODEL_INPUTS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(MODEL_INPUTS)

    def __len__(self) -> int:
        return len(MODEL_INPUTS)

    def __repr__(self) -> str:
        return f"BatchEncoding(rows={len(self.encodings)}, shape={tuple(self.input_ids.shape)})"

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """Word index of each token of row ``batch_index`` (``None`` for added and padding tokens)."""
        return self.encodings[batch_index].word_ids

    def to(self, device) -> BatchEncoding:
        """Move the tensors to ``device`` (PyTorch only); returns ``self``."""
        for name in (*MODEL_INPUTS, "special_tokens_mask"):
            setattr(self, name, getattr(self, name).to(device))
        return self
