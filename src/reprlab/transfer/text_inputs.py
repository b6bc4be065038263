"""Text examples -> model windows: templates, long-document cuts, word-piece label alignment, batches.

Every example becomes ``K`` windows of token ids with the tokenizer's template (``[CLS] A [SEP]``
or ``[CLS] A [SEP] B [SEP]``): ``K = 1`` for a text or a pair, ``K = `` the number of chunks for
``--long-text chunks``, ``K = `` the number of choices for multiple choice. :func:`collate` pads a
list of examples to ``(B, K, T)`` tensors, so every task model reads one batch layout.

Token classification (tagging) aligns word-level tags to word pieces as HF's token-classification
recipe does (``word_ids``): the first piece of each word carries the word's label, the other pieces
and the special tokens carry ``-100`` (ignored by the loss and by the metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from reprlab.errors import ConfigError, DataError
from reprlab.transfer.long_text import LongText, cut_pieces, split_into_sentences

IGNORE_INDEX = -100  # the loss ignores these positions (PyTorch / HF convention)


@dataclass
class Example:
    """One tokenized example: ``K`` windows and its label (an int, a list per token, or -1 when unknown)."""

    ids: list[list[int]]
    type_ids: list[list[int]]
    label: Any = -1
    meta: dict[str, Any] = field(default_factory=dict)


def _take(enc: Any, idx: Sequence[int]) -> Any:
    """The pieces ``idx`` of an encoding without special tokens, as a new Encoding."""
    from reprlab.tokenizers import Encoding

    return Encoding(ids=[enc.ids[i] for i in idx], tokens=[enc.tokens[i] for i in idx],
                    offsets=[enc.offsets[i] for i in idx], word_ids=[enc.word_ids[i] for i in idx])


def align_word_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """Labels per piece: the word's label on its first piece, ``-100`` on later pieces and specials."""
    out, previous = [], None
    for w in word_ids:
        if w is None or w == previous:
            out.append(IGNORE_INDEX)
        else:
            out.append(int(word_labels[w]))
        previous = w
    return out


class TextWindows:
    """Build :class:`Example` windows for one tokenizer, length and long-text setting.

    Parameters
    ----------
    tokenizer : a reprlab :class:`~reprlab.tokenizers.Tokenizer` (WordPiece or BPE).
    max_length : tokens per window, special tokens included (at most the model's length).
    long_text : how a text longer than the window is cut (:class:`LongText`).
    segments : whether the model has segment embeddings (text pairs need them).
    sentence_splitter : for ``key-sentences`` (default :func:`reprlab.data.split_sentences`).
    """

    def __init__(self, tokenizer: Any, max_length: int, long_text: LongText | None = None, *,
                 segments: bool = True, sentence_splitter: Callable[[str], list[str]] | None = None):
        if max_length < 3:
            raise ConfigError(f"max_length={max_length}: must be >= 3 (room for [CLS], a piece and [SEP])")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.long_text = long_text or LongText()
        self.segments = segments
        self.sentence_splitter = sentence_splitter
        self.template = tokenizer.post_processor

    def budget(self, pair: bool = False) -> int:
        return self.max_length - self.template.num_special_tokens(pair)

    def single(self, text: str, label: Any = -1, *, what: str = "text") -> Example:
        """Windows of one text, cut by the long-text strategy."""
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{what}: empty text; remove the row or give it a text")
        tok = self.tokenizer
        if self.long_text.strategy == "key-sentences":
            sentences = split_into_sentences(text, self.sentence_splitter)
            encs = [tok.encode_sequence(s) for s in sentences]
            starts = [0]
            for e in encs:
                starts.append(starts[-1] + len(e.ids))
            whole = _concat(encs)
            windows = cut_pieces(list(range(len(whole.ids))), self.budget(), self.long_text,
                                 sentences=[list(range(a, b)) for a, b in zip(starts, starts[1:])],
                                 sentence_texts=sentences, what=what)
        else:
            whole = tok.encode_sequence(text)
            windows = cut_pieces(list(range(len(whole.ids))), self.budget(), self.long_text, what=what)
        if not whole.ids:
            raise DataError(f"{what}: the text {text[:40]!r} has no word piece after tokenization")
        encs_out = [self.template.process(_take(whole, w), None) for w in windows]
        return Example([e.ids for e in encs_out], [e.type_ids for e in encs_out], label,
                       {"pieces": len(whole.ids)})

    def pair(self, text: str, pair: str, label: Any = -1, *, what: str = "text pair") -> Example:
        """One window ``[CLS] A [SEP] B [SEP]`` with segment ids; longest-first truncation."""
        if not self.segments:
            raise ConfigError(f"{what}: text pairs need segment embeddings, but this model has none "
                              "(type_vocab_size < 2); use task seq-cls or a BERT/ALBERT model")
        for name, t in (("text", text), ("text_pair", pair)):
            if not isinstance(t, str) or not t.strip():
                raise DataError(f"{what}: empty {name}; remove the row or give it a text")
        if self.long_text.strategy not in ("head",):
            raise ConfigError(f"long_text.strategy={self.long_text.strategy!r} applies to single texts; text "
                              "pairs are cut longest-first (use the default 'head')")
        enc = self.tokenizer.encode(text, pair, max_length=self.max_length, truncation="longest_first")
        return Example([enc.ids], [enc.type_ids], label)

    def words(self, words: Sequence[str], tags: Sequence[int] | None, *, what: str = "tokens") -> Example:
        """Tagging input: each word tokenized on its own, pieces joined, first-piece labels.

        Words that give no piece (e.g. only control characters) carry no label. With ``head`` (the
        default) pieces beyond the window are cut and their words are not predicted (``null`` tags);
        with ``chunks`` the pieces are read in windows every ``chunk_stride`` pieces and each piece is
        labelled and predicted from the one window where it has the most context on both sides
        (:func:`piece_owners`, the "max context" rule of BERT's SQuAD windows), so every word gets a
        tag. Other strategies would drop words from the middle of the text and are refused.
        """
        if not words:
            raise DataError(f"{what}: no tokens; remove the row or give it words")
        if tags is not None and len(tags) != len(words):
            raise DataError(f"{what}: {len(words)} tokens but {len(tags)} tags; give one tag per token")
        if self.long_text.strategy not in ("head", "chunks"):
            raise ConfigError(f"long_text.strategy={self.long_text.strategy!r}: tagging must keep whole runs of "
                              "words; use 'head' (the first window) or 'chunks' (every word, in windows)")
        parts = []
        for w_index, word in enumerate(words):
            e = self.tokenizer.encode_sequence(word)
            e.word_ids = [w_index] * len(e.ids)
            parts.append(e)
        whole = _concat(parts)
        if self.long_text.strategy == "chunks":
            return self._word_chunks(whole, tags, what)
        keep = list(range(min(len(whole.ids), self.budget())))
        enc = self.template.process(_take(whole, keep), None)
        label = align_word_labels(enc.word_ids, tags) if tags is not None else [IGNORE_INDEX] * len(enc.ids)
        return Example([enc.ids], [enc.type_ids], label, {"word_ids": enc.word_ids})

    def _word_chunks(self, whole: Any, tags: Sequence[int] | None, what: str) -> Example:
        """Tagging windows over every piece; ``meta['pieces_at']`` = (window, position) of each piece's owner."""
        n = len(whole.ids)
        if not n:
            raise DataError(f"{what}: no word gives a word piece")
        windows = cut_pieces(list(range(n)), self.budget(), self.long_text, what=what)
        starts = [w[0] for w in windows]
        encs = [self.template.process(_take(whole, w), None) for w in windows]
        content = [[i for i, w in enumerate(e.word_ids) if w is not None] for e in encs]  # template positions
        at = [(j, content[j][p - starts[j]]) for p, j in enumerate(piece_owners(n, [len(w) for w in windows], starts))]
        word_ids: list[int | None] = list(whole.word_ids)
        label = align_word_labels(word_ids, tags) if tags is not None else [IGNORE_INDEX] * n
        return Example([e.ids for e in encs], [e.type_ids for e in encs], label,
                       {"word_ids": word_ids, "pieces_at": at, "pieces": n})

    def choices(self, context: str, options: Sequence[str], label: int = -1, *, what: str = "example") -> Example:
        """Multiple choice: one window ``[CLS] context [SEP] option [SEP]`` per option."""
        if len(options) < 2:
            raise DataError(f"{what}: multiple choice needs at least 2 choices, got {len(options)}")
        encs = [self.pair(context, o, what=what) for o in options]
        return Example([e.ids[0] for e in encs], [e.type_ids[0] for e in encs], label)


def piece_owners(n: int, lengths: Sequence[int], starts: Sequence[int]) -> list[int]:
    """For each of ``n`` pieces, the window that reads it with the most context: max over the windows
    holding piece p of ``min(p - start, end - 1 - p)`` (ties: the earlier window).

    Devlin et al. 2018's SQuAD windows ("max context" per token); the windows must cover every piece.
    """
    owners = []
    for p in range(n):
        best, score = -1, -1
        for j, (s, m) in enumerate(zip(starts, lengths)):
            if s <= p < s + m and min(p - s, s + m - 1 - p) > score:
                best, score = j, min(p - s, s + m - 1 - p)
        if best < 0:
            raise ConfigError(f"piece {p} is in no window; the windows must cover the text")
        owners.append(best)
    return owners


def _concat(encs: Sequence[Any]) -> Any:
    from reprlab.tokenizers import Encoding

    out = Encoding()
    for e in encs:
        out.ids += e.ids
        out.tokens += e.tokens
        out.offsets += e.offsets
        out.word_ids += e.word_ids
    return out


class ExampleDataset(torch.utils.data.Dataset):
    """A list of :class:`Example` as a map-style dataset (the Trainer batches it with :func:`collate`)."""

    def __init__(self, examples: Sequence[Example]):
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]


def collate(examples: Sequence[Example], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad examples to one batch.

    Returns
    -------
    dict with ``input_ids``, ``attention_mask``, ``token_type_ids`` (B, K, T), ``window_mask``
    (B, K) (1 for real windows) and ``labels``: (B,) for sequence tasks or (B, T) for tagging
    (padding -100).
    """
    k = max(len(e.ids) for e in examples)
    t = max(len(w) for e in examples for w in e.ids)
    b = len(examples)
    ids = torch.full((b, k, t), pad_id, dtype=torch.long)
    types = torch.zeros((b, k, t), dtype=torch.long)
    mask = torch.zeros((b, k, t), dtype=torch.long)
    windows = torch.zeros((b, k), dtype=torch.bool)
    for i, e in enumerate(examples):
        for j, (w, ty) in enumerate(zip(e.ids, e.type_ids)):
            ids[i, j, :len(w)] = torch.tensor(w)
            types[i, j, :len(w)] = torch.tensor(ty)
            mask[i, j, :len(w)] = 1
            windows[i, j] = True
    out = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "window_mask": windows}
    if any("pieces_at" in e.meta for e in examples):  # tagging in chunks: where each piece's owner window reads it
        width = max(len(e.meta["pieces_at"]) for e in examples)
        at = torch.zeros((b, width), dtype=torch.long)  # flat (window * T + position); padding reads slot 0
        for i, e in enumerate(examples):
            at[i, :len(e.meta["pieces_at"])] = torch.tensor([j * t + pos for j, pos in e.meta["pieces_at"]])
        out["pieces_at"] = at
    if isinstance(examples[0].label, list):
        labels = torch.full((b, max(t, max(len(e.label) for e in examples))), IGNORE_INDEX, dtype=torch.long)
        for i, e in enumerate(examples):
            labels[i, :len(e.label)] = torch.tensor(e.label, dtype=torch.long)
    else:
        labels = torch.tensor([int(e.label) for e in examples], dtype=torch.long)
    out["labels"] = labels
    return out


__all__ = ["IGNORE_INDEX", "Example", "TextWindows", "align_word_labels", "piece_owners", "ExampleDataset", "collate"]
