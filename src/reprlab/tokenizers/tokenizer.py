"""``Tokenizer``: normalizer -> pre_tokenizer -> model -> post_processor -> decoder.

The nouns follow HF tokenizers. Special tokens written literally in the input (``"[MASK]"``) are
split out of the raw text first and never normalized or segmented (BERT's ``never_split``).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import regex

from reprlab.errors import ConfigError, DataError
from reprlab.tokenizers.encoding import Encoding, truncation_lengths
from reprlab.tokenizers.models import Pieces, WordPiece
from reprlab.tokenizers.pre_tokenizers import BertPreTokenizer, WhitespaceSplit

log = logging.getLogger(__name__)

Padding = Literal["longest", "max_length"] | bool


class Normalizer(Protocol):
    def normalize(self, text: str) -> tuple[str, list[int] | None]: ...


class PreTokenizer(Protocol):
    def split(self, text: str) -> list[tuple]: ...  # (word, start, end[, char_of_symbol])


class Model(Protocol):
    vocab: dict[str, int]

    def tokenize(self, word: str) -> Pieces: ...


@dataclass(frozen=True)
class TemplateProcessing:
    """Add ``cls`` before the first text and ``sep`` after each text: ``[CLS] A [SEP] B [SEP]``.

    Segment (type) ids are 0 up to and including the first ``[SEP]``, then 1. ``cls=None`` gives
    ``A [SEP]`` style templates; both ``None`` adds nothing.
    """

    cls: tuple[str, int] | None = None
    sep: tuple[str, int] | None = None

    def num_special_tokens(self, pair: bool) -> int:
        return (self.cls is not None) + (self.sep is not None) * (2 if pair else 1)

    def process(self, first: Encoding, second: Encoding | None) -> Encoding:
        """Join the sequences with the template (only their ids/tokens/offsets/word_ids are read)."""
        if second is None and self.cls is not None and self.sep is not None:  # the common case, in C
            n = len(first.ids)
            (ct, ci), (st, si) = self.cls, self.sep
            return Encoding(ids=[ci, *first.ids, si], tokens=[ct, *first.tokens, st], type_ids=[0] * (n + 2),
                            attention_mask=[1] * (n + 2), special_tokens_mask=[1, *([0] * n), 1],
                            offsets=[(0, 0), *first.offsets, (0, 0)], word_ids=[None, *first.word_ids, None],
                            sequence_ids=[None, *([0] * n), None])
        out = Encoding()
        if self.cls is not None:
            _append_special(out, *self.cls, type_id=0)
        _extend(out, first, type_id=0, seq=0)
        if self.sep is not None:
            _append_special(out, *self.sep, type_id=0)
        if second is not None:
            _extend(out, second, type_id=1, seq=1)
            if self.sep is not None:
                _append_special(out, *self.sep, type_id=1)
        return out


def _append_special(enc: Encoding, token: str, tid: int, type_id: int) -> None:
    enc.ids.append(tid)
    enc.tokens.append(token)
    enc.type_ids.append(type_id)
    enc.attention_mask.append(1)
    enc.special_tokens_mask.append(1)
    enc.offsets.append((0, 0))
    enc.word_ids.append(None)
    enc.sequence_ids.append(None)


def _extend(out: Encoding, enc: Encoding, type_id: int, seq: int) -> None:
    n = len(enc.ids)
    out.ids += enc.ids
    out.tokens += enc.tokens
    out.type_ids += [type_id] * n
    out.attention_mask += [1] * n
    out.special_tokens_mask += [0] * n
    out.offsets += enc.offsets
    out.word_ids += enc.word_ids
    out.sequence_ids += [seq] * n


@dataclass(frozen=True)
class WordPieceDecoder:
    """Join tokens with spaces and glue ``##`` pieces to their predecessor.

    ``cleanup`` also removes the space before ``. , ! ?`` and common English contractions, as
    HF's ``decoders.WordPiece(cleanup=True)``.
    """

    prefix: str = "##"
    cleanup: bool = False

    def decode(self, tokens: Sequence[str]) -> str:
        out = " ".join(tokens).replace(" " + self.prefix, "")
        if out.startswith(self.prefix):  # a text may start with a continuation piece
            out = out[len(self.prefix):]
        if self.cleanup:
            for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" n't", "n't"), (" 'm", "'m"),
                         (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
                out = out.replace(a, b)
        return out


class Tokenizer:
    """A text -> :class:`Encoding` pipeline of settable parts.

    Parameters
    ----------
    model : Model
        Splits one word into vocabulary pieces (:class:`~reprlab.tokenizers.models.WordPiece`, ...).
    normalizer, pre_tokenizer : optional
        Text clean-up with character alignment; word splitter with spans.
    post_processor : TemplateProcessing, optional
        Adds the special tokens of single texts and pairs.
    decoder : optional
        Object with ``decode(tokens) -> str``.
    special_tokens : sequence of str
        Tokens matched literally in raw text and never split; ``decode`` can skip them.
    never_split : sequence of str
        More vocabulary tokens matched literally in raw text (BERT's ``never_split``), kept by ``decode``.
    pad_token : str
        Token used for padding.
    """

    def __init__(self, model: Model, *, normalizer: Normalizer | None = None,
                 pre_tokenizer: PreTokenizer | None = None, post_processor: TemplateProcessing | None = None,
                 decoder=None, special_tokens: Sequence[str] = (), never_split: Sequence[str] = (),
                 pad_token: str | None = None):
        self.model = model
        self.normalizer = normalizer
        self.pre_tokenizer = pre_tokenizer
        self.post_processor = post_processor or TemplateProcessing()
        self.decoder = decoder
        self.special_tokens = [t for t in special_tokens if t in model.vocab]
        self.pad_token = pad_token
        self._id_to_token = {i: t for t, i in model.vocab.items()}
        self._special_ids = {model.vocab[t] for t in self.special_tokens}
        # Longest first so "[MASK]x" never matches a shorter prefix token.
        missing = [t for t in never_split if t not in model.vocab]
        if missing:
            raise ConfigError(f"never_split tokens {missing} are not in the vocabulary; add them to it first")
        alternatives = sorted(set(self.special_tokens) | set(never_split), key=len, reverse=True)
        self._special_re = regex.compile("|".join(map(regex.escape, alternatives))) if alternatives else None

    # -- vocabulary ---------------------------------------------------------------------------
    @property
    def vocab(self) -> dict[str, int]:
        return self.model.vocab

    @property
    def vocab_size(self) -> int:
        return len(self.model.vocab)

    def token_to_id(self, token: str) -> int | None:
        return self.model.vocab.get(token)

    def id_to_token(self, tid: int) -> str | None:
        return self._id_to_token.get(tid)

    # -- encoding -----------------------------------------------------------------------------
    def _segment(self, text: str, base: int, enc: Encoding, word_index: int) -> int:
        """Normalize, pre-tokenize and segment ``text`` (at offset ``base`` of the input) into ``enc``.

        The hot loop of encoding (profiled): words come from ``findall`` and are located with
        ``str.find``, one-piece words skip the per-piece offset arithmetic, and the model caches
        ``word -> pieces``.
        """
        if self.normalizer is not None:
            normalized, align = self.normalizer.normalize(text)
        else:
            normalized, align = text, None
        pre = self.pre_tokenizer
        tokenize = self.model.tokenize
        ids, tokens, offsets, word_ids = enc.ids, enc.tokens, enc.offsets, enc.word_ids
        if pre is None:
            items = [(normalized, 0, len(normalized))] if normalized else []
        elif isinstance(pre, (BertPreTokenizer, WhitespaceSplit)):
            items = None
            words = pre.words(normalized)
        else:
            items = pre.split(normalized)
        if items is None:  # fast path: plain words, spans found with str.find
            find = normalized.find
            cached = getattr(self.model, "_cache", {}).get
            # A WordPiece word found whole in the vocabulary is its own single piece.
            model = self.model
            direct = (isinstance(model, WordPiece) and align is None
                      and model.max_piece_chars <= model.max_input_chars_per_word)
            whole = model.vocab.get if direct else {}.get
            add_id, add_token, add_offset, add_word = ids.append, tokens.append, offsets.append, word_ids.append
            pos = 0
            for word in words:
                start = find(word, pos)
                pos = start + len(word)
                tid = whole(word)
                if tid is not None:
                    add_id(tid)
                    add_token(word)
                    add_offset((base + start, base + pos))
                    add_word(word_index)
                    word_index += 1
                    continue
                hit = cached(word)
                p_ids, p_tokens, p_spans = hit if hit is not None else tokenize(word)
                if align is None:
                    if len(p_ids) == 1:
                        add_id(p_ids[0])
                        add_token(p_tokens[0])
                        add_offset((base + start, base + pos))
                        add_word(word_index)
                        word_index += 1
                        continue
                    s0 = base + start
                    offsets += [(s0 + a, s0 + b) for a, b in p_spans]
                else:
                    offsets += [(base + align[start + a], base + align[start + b - 1] + 1) for a, b in p_spans]
                ids += p_ids
                tokens += p_tokens
                word_ids += [word_index] * len(p_ids)
                word_index += 1
            return word_index
        for item in items:
            word, start = item[0], item[1]
            p_ids, p_tokens, p_spans = tokenize(word)
            ids += p_ids
            tokens += p_tokens
            word_ids += [word_index] * len(p_ids)
            if len(item) == 4:  # byte-level: one character index per byte symbol
                chars = item[3]
                offsets += [(base + chars[a], base + chars[b - 1] + 1) if b > a else (base + start,) * 2
                            for a, b in p_spans]
            elif align is None:
                s0 = base + start
                offsets += [(s0 + a, s0 + b) for a, b in p_spans]
            else:
                offsets += [(base + align[start + a], base + align[start + b - 1] + 1) if b > a
                            else (base + align[start + a] if start + a < len(align) else base + len(text),) * 2
                            for a, b in p_spans]
            word_index += 1
        return word_index

    def encode_sequence(self, text: str) -> Encoding:
        """Tokens of one text without special tokens (type ids 0, no truncation)."""
        enc = self._sequence(text)
        n = len(enc.ids)
        enc.type_ids = [0] * n
        enc.attention_mask = [1] * n
        enc.special_tokens_mask = [0] * n
        enc.sequence_ids = [0] * n
        return enc

    def _sequence(self, text: str) -> Encoding:
        """ids, tokens, offsets and word_ids of one text (the other fields left empty)."""
        if not isinstance(text, str):
            raise DataError(f"expected a str to encode, got {type(text).__name__}; pass the text as a str")
        enc = Encoding()
        word_index = 0
        if self._special_re is None or not self._special_re.search(text):
            self._segment(text, 0, enc, 0)
        else:
            pos = 0
            for m in self._special_re.finditer(text):
                word_index = self._segment(text[pos:m.start()], pos, enc, word_index)
                enc.ids.append(self.model.vocab[m.group()])
                enc.tokens.append(m.group())
                enc.offsets.append((m.start(), m.end()))
                enc.word_ids.append(word_index)
                word_index += 1
                pos = m.end()
            self._segment(text[pos:], pos, enc, word_index)
        return enc

    def encode(self, text: str, pair: str | None = None, *, max_length: int | None = None,
               truncation: bool | str = False, padding: Padding = False,
               add_special_tokens: bool = True) -> Encoding:
        """Encode a text or a text pair.

        Parameters
        ----------
        text, pair : str
            The first and optional second sequence.
        max_length : int, optional
            Length limit for ``truncation`` and for ``padding="max_length"``.
        truncation : bool or {"longest_first", "only_first", "only_second"}
            ``True`` means ``"longest_first"``; needs ``max_length``.
        padding : bool or {"longest", "max_length"}
            ``"max_length"`` (or ``True`` with ``max_length``) right-pads to ``max_length``.
        add_special_tokens : bool
            Apply the post-processor template (``[CLS] A [SEP] B [SEP]``).
        """
        first = self._sequence(text)
        second = self._sequence(pair) if pair is not None else None
        if truncation:
            if max_length is None:
                raise ConfigError("truncation needs max_length; pass max_length=N (e.g. 512)")
            strategy = "longest_first" if truncation is True else str(truncation)
            specials = self.post_processor.num_special_tokens(pair is not None) if add_special_tokens else 0
            n1, n2 = truncation_lengths(len(first), None if second is None else len(second),
                                        max_length - specials, strategy)
            first.truncate(n1)
            if second is not None:
                second.truncate(n2)
        if add_special_tokens:
            enc = self.post_processor.process(first, second)
        else:
            enc = TemplateProcessing().process(first, second)
        if padding in (True, "max_length") and max_length is not None:
            self._pad(enc, max_length)
        elif padding not in (False, None, True, "longest", "max_length"):
            raise ConfigError(f"padding={padding!r} is not one of False, True, 'longest', 'max_length'")
        return enc

    def encode_batch(self, texts: Iterable[str | tuple[str, str]], *, max_length: int | None = None,
                     truncation: bool | str = False, padding: Padding = False,
                     add_special_tokens: bool = True) -> list[Encoding]:
        """Encode many texts (or ``(text, pair)`` tuples); ``padding="longest"`` pads to the batch maximum."""
        if padding not in (False, None, True, "longest", "max_length"):
            raise ConfigError(f"padding={padding!r} is not one of False, True, 'longest', 'max_length'")
        out = []
        # Cyclic GC would rescan every live Encoding each pass (2x slower on 1 MB, profiled); the
        # loop creates no reference cycles, so pause it and restore the caller's setting.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for item in texts:
                a, b = (item if isinstance(item, tuple) else (item, None))
                out.append(self.encode(a, b, max_length=max_length, truncation=truncation,
                                       padding="max_length" if padding == "max_length" else False,
                                       add_special_tokens=add_special_tokens))
        finally:
            if gc_was_enabled:
                gc.enable()
        if padding in (True, "longest") and out:
            width = max(len(e) for e in out)
            for e in out:
                self._pad(e, width)
        return out

    def _pad(self, enc: Encoding, length: int) -> None:
        if self.pad_token is None or self.pad_token not in self.model.vocab:
            raise ConfigError("padding needs a pad token in the vocabulary (e.g. [PAD])")
        enc.pad(length, self.model.vocab[self.pad_token], self.pad_token)

    # -- decoding -----------------------------------------------------------------------------
    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Token ids back to text; the inverse of :meth:`encode` up to normalization."""
        tokens = []
        for i in ids:
            i = int(i)
            if skip_special_tokens and i in self._special_ids:
                continue
            tok = self._id_to_token.get(i)
            if tok is None:
                raise ConfigError(f"token id {i} is outside the vocabulary (size {self.vocab_size})")
            tokens.append(tok)
        if self.decoder is None:
            return " ".join(tokens)
        return self.decoder.decode(tokens)
