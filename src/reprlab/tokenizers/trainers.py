"""Vocabulary trainers: classic and byte-level BPE, WordPiece by frequency or by likelihood.

All trainers first count words in one streaming pass (:func:`count_words`), then run the merge
loop of :mod:`reprlab.tokenizers.merges` on the distinct words.

Tie-breaking (training is deterministic run to run): among equally good pairs the one with the
smallest ``(left id, right id)`` wins, where ids number the symbols in the order they entered the
vocabulary — special tokens, the initial alphabet, then merged symbols in creation order. The
alphabet order is

* ``"codepoint"`` (WordPiece and byte-level BPE; as HF tokenizers): characters by code point;
  WordPiece's ``##c`` continuation symbols follow, also by code point (HF numbers those in hash
  order, so HF itself can break such ties differently from run to run);
* ``"frequency"`` (classic BPE default): ascending corpus frequency, code point among equals, the
  end-of-word symbol included. This is the order under which Sennrich's algorithm reproduces the
  worked example of the seed text exactly: on {lower:2, newest:6, widest:3, low:5} with 18 tokens
  the merges are (s,t)=9, (e,st)=9, (est,</w>)=9, (l,o)=7, (lo,w)=7, (n,e)=6, (w,est</w>)=6,
  (ne,west</w>)=6.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from reprlab.errors import ConfigError, DataError
from reprlab.tokenizers.bpe import BPETokenizer
from reprlab.tokenizers.merges import MergeState, learn_merges
from reprlab.tokenizers.normalizers import BertNormalizer
from reprlab.tokenizers.pre_tokenizers import (
    GPT2_PATTERN,
    BertPreTokenizer,
    WhitespaceSplit,
    bytes_to_unicode,
    latin1_to_gpt2,
)
from reprlab.tokenizers.wordpiece import BERT_SPECIAL_TOKENS, WordPieceTokenizer

log = logging.getLogger(__name__)

AlphabetOrder = Literal["codepoint", "frequency"]
Progress = Callable[[int], None]


def count_words(texts: Iterable[str], split: Callable[[str], list[str]]) -> Counter:
    """Word frequencies of a stream of texts (one pass, memory ~ number of distinct words)."""
    counts: Counter = Counter()
    for text in texts:
        if not isinstance(text, str):
            raise DataError(f"expected text lines (str), got {type(text).__name__}")
        counts.update(split(text))
    counts.pop("", None)
    if not counts:
        raise DataError("the corpus is empty (no words after normalization); pass non-empty text files")
    return counts


def _word_counts(texts: Iterable[str] | dict[str, int], split: Callable[[str], list[str]]) -> Counter:
    if isinstance(texts, dict):  # already counted: {word: count}
        counts = Counter({w: int(c) for w, c in texts.items() if w and c > 0})
        if not counts:
            raise DataError("the word counts are empty; pass at least one word with a positive count")
        return counts
    if isinstance(texts, str):
        texts = [texts]
    return count_words(texts, split)


def _alphabet(char_counts: Counter, order: AlphabetOrder, limit: int | None, initial: Sequence[str]) -> list[str]:
    counts = dict(char_counts)
    for ch in initial:
        counts[ch] = 1 << 62  # an initial alphabet is always kept (HF: usize::MAX)
    chars = sorted(counts, key=lambda c: (counts[c], c))
    if limit is not None and len(chars) > limit:
        chars = chars[len(chars) - limit:]  # drop the rarest
    if order == "codepoint":
        return sorted(chars)
    return sorted(chars, key=lambda c: (char_counts.get(c, 0), c))


def _check_size(vocab_size: int, base: int, what: str) -> None:
    if vocab_size < base:
        raise ConfigError(f"vocab_size={vocab_size} is smaller than the {base} {what}; "
                          f"raise vocab_size to at least {base} (or set limit_alphabet)")


def train_bpe(texts: Iterable[str] | dict[str, int], vocab_size: int, *, min_frequency: int = 0,
              end_of_word: str = "</w>", byte_level: bool = False, special_tokens: Sequence[str] = (),
              alphabet_order: AlphabetOrder | None = None, limit_alphabet: int | None = None,
              progress: Progress | None = None) -> BPETokenizer:
    """Learn BPE merges (Sennrich et al., 2016, https://arxiv.org/abs/1508.07909).

    Repeatedly merge the most frequent adjacent pair of symbols, counted over the corpus's word
    types weighted by frequency, until the vocabulary has ``vocab_size`` symbols.

    Parameters
    ----------
    texts : iterable of str, or dict
        Corpus lines (streamed), or ready word counts ``{word: count}`` (whitespace-free words for
        classic BPE; GPT-2 regex words such as ``" hello"`` for byte-level).
    vocab_size : int
        Classic: alphabet + merged symbols (the end-of-word symbol and special tokens are extra, as
        in the seed's 18-token example). Byte-level: everything, as HF counts it.
    min_frequency : int
        Stop when the best pair occurs fewer times.
    end_of_word : str
        Classic BPE's end-of-word symbol, appended to every word as a separate symbol.
    byte_level : bool
        GPT-2 byte-level BPE: 256 byte symbols, GPT-2 regex pre-tokenization, no end-of-word symbol.
    alphabet_order : {"frequency", "codepoint"}, optional
        Tie-break order (module docstring); default ``"frequency"`` classic, ``"codepoint"`` byte-level.

    Returns
    -------
    BPETokenizer
        With ``merges`` in learned order and ``merge_counts`` (pair count at merge time).
    """
    if vocab_size < 1:
        raise ConfigError(f"vocab_size must be positive, got {vocab_size}")
    order = alphabet_order or ("codepoint" if byte_level else "frequency")
    if byte_level:  # count raw GPT-2 words, then spell only the distinct ones in byte symbols
        table = latin1_to_gpt2()
        raw = _word_counts(texts, GPT2_PATTERN.findall) if not isinstance(texts, dict) else Counter(texts)
        counts = Counter({w.encode("utf-8").decode("latin-1").translate(table): c for w, c in raw.items()})
    else:
        counts = _word_counts(texts, WhitespaceSplit().words)
    specials = list(dict.fromkeys(special_tokens))
    if byte_level:
        table = bytes_to_unicode()
        chars = _alphabet(Counter(), "codepoint", None, list(table.values()))
        spelled = {w: list(w) for w in counts}
    else:
        char_counts: Counter = Counter()
        for w, c in counts.items():
            for ch in w:
                char_counts[ch] += c
        char_counts[end_of_word] += sum(counts.values())
        chars = _alphabet(char_counts, order, limit_alphabet, ())
        if end_of_word not in chars:
            chars.append(end_of_word)
        spelled = {w: list(w) + [end_of_word] for w in counts}
    id_to_token = specials + [c for c in chars if c not in specials]
    ids = {t: i for i, t in enumerate(id_to_token)}
    words = [[ids[s] for s in spelled[w] if s in ids] for w in counts]
    extra = len(specials) + (0 if byte_level else 1)  # not counted by the classic vocab_size
    _check_size(vocab_size, len(id_to_token) - (extra if not byte_level else 0),
                "symbols of the alphabet" if not byte_level else "byte symbols plus special tokens")
    state = MergeState(id_to_token, words, list(counts.values()))
    learn_merges(state, vocab_size=vocab_size, criterion="frequency", min_frequency=min_frequency,
                 progress=progress,
                 counted=(lambda: len(state.id_to_token) - extra) if not byte_level else None)
    vocab = {t: i for i, t in enumerate(state.id_to_token)}
    merges = [(state.id_to_token[a], state.id_to_token[b]) for a, b, _ in state.merges]
    log.info("BPE: %d merges, vocabulary %d", len(merges), len(vocab))
    return BPETokenizer(vocab, merges, byte_level=byte_level, end_of_word=end_of_word,
                        special_tokens=specials, merge_counts=state.merge_counts)


def train_wordpiece(texts: Iterable[str] | dict[str, int], vocab_size: int, *,
                    method: Literal["likelihood", "frequency"] = "likelihood", lowercase: bool = True,
                    strip_accents: bool | None = None, min_frequency: int = 0, limit_alphabet: int | None = None,
                    initial_alphabet: Sequence[str] = (), special_tokens: Sequence[str] = BERT_SPECIAL_TOKENS,
                    continuing_subword_prefix: str = "##", progress: Progress | None = None) -> WordPieceTokenizer:
    """Learn a WordPiece vocabulary (``##`` continuation pieces) for :class:`WordPieceTokenizer`.

    Words come from BERT's normalizer and pre-tokenizer. Each word is spelled ``w ##o ##r ##d``;
    merging ``(x, ##y)`` yields ``xy`` and ``(##x, ##y)`` yields ``##xy``.

    Parameters
    ----------
    method : {"likelihood", "frequency"}
        ``"frequency"``: merge the most frequent pair — what HF tokenizers' ``WordPieceTrainer``
        does (same token set on the same corpus and settings). ``"likelihood"``: merge the pair that
        most increases the corpus log-likelihood under a unigram model over pieces (Schuster &
        Nakajima, 2012); the exact gain is in :mod:`reprlab.tokenizers.merges`.
    vocab_size : int
        Total size including special tokens, the alphabet and ``##`` symbols (as HF counts).
    min_frequency : int
        Pairs rarer than this are never merged.
    limit_alphabet : int, optional
        Keep only the most frequent characters.

    Returns
    -------
    WordPieceTokenizer
    """
    if method not in ("likelihood", "frequency"):
        raise ConfigError(f"method={method!r} is not 'likelihood' or 'frequency'")
    missing = [t for t in ("[UNK]", "[CLS]", "[SEP]") if t not in special_tokens]
    if missing:
        raise ConfigError(f"special_tokens lacks {', '.join(missing)}; a BERT WordPiece vocabulary needs them")
    normalizer = BertNormalizer(lowercase=lowercase, strip_accents=strip_accents)
    pre = BertPreTokenizer()
    counts = _word_counts(texts, lambda t: pre.words(normalizer(t)))
    char_counts: Counter = Counter()
    for w, c in counts.items():
        for ch in w:
            char_counts[ch] += c
    specials = list(dict.fromkeys(special_tokens))
    chars = _alphabet(char_counts, "codepoint", limit_alphabet, initial_alphabet)
    id_to_token = specials + [c for c in chars if c not in specials]
    kept = set(chars)
    prefix = continuing_subword_prefix
    continuations = sorted({prefix + ch for w in counts for ch in w[1:] if ch in kept})
    id_to_token += [t for t in continuations if t not in set(id_to_token)]
    _check_size(vocab_size, len(id_to_token), "special tokens, characters and ## continuation symbols")
    ids = {t: i for i, t in enumerate(id_to_token)}
    words = [_spell(w, kept, ids, prefix) for w in counts]

    def join(a: str, b: str) -> str:
        return a + (b[len(prefix):] if b.startswith(prefix) else b)

    state = MergeState(id_to_token, words, list(counts.values()))
    learn_merges(state, vocab_size=vocab_size, criterion=method, min_frequency=min_frequency, join=join,
                 progress=progress)
    vocab = {t: i for i, t in enumerate(state.id_to_token)}
    log.info("WordPiece (%s): %d merges, vocabulary %d", method, len(state.merges), len(vocab))
    tok = WordPieceTokenizer(vocab, lowercase=lowercase, strip_accents=strip_accents)
    tok.merge_counts = state.merge_counts
    return tok


def _spell(word: str, kept: set[str], ids: dict[str, int], prefix: str) -> list[int]:
    """Symbol ids of ``w ##o ##r ##d`` (characters outside the alphabet are skipped, as in HF)."""
    out = []
    for i, ch in enumerate(word):
        if ch in kept:
            out.append(ids[ch] if i == 0 else ids[prefix + ch])
    return out
