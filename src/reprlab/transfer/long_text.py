"""Long documents beyond the model's length: which word pieces of a document the model sees.

One :class:`LongText` setting is used identically at training and at prediction time. Every
strategy works on the document's word pieces *without* special tokens and a content budget
``B = max_length - (special tokens of the template)``:

* ``head``: the first ``B`` pieces;
* ``tail``: the last ``B`` pieces;
* ``head+tail``: the first ``h`` and the last ``B - h`` pieces with ``h = round(B * 128 / 510)``
  (Sun et al. 2019, "How to Fine-Tune BERT for Text Classification?",
  https://arxiv.org/abs/1905.05583, section 5.3: 128 + 382 of 510; scaled to the model's length);
* ``key-sentences``: the document's sentences ranked by centrality, either the cosine of each
  sentence's TF-IDF vector to the document's mean vector (``tfidf``) or TextRank (Mihalcea &
  Tarau 2004: PageRank with damping 0.85 on the TF-IDF cosine graph of the sentences); the top
  sentences are kept *in document order* while their pieces fit ``B`` (a sentence that does not
  fit is skipped; when not even the best one fits, its first ``B`` pieces are kept);
* ``chunks``: windows of ``B`` pieces starting every ``chunk_stride`` pieces (overlap
  ``B - chunk_stride``), the last window ending at the document's end, so together they cover
  every piece; the model pools each window and aggregates the window vectors (mean, max, or a
  small attention/LSTM layer trained end to end, :class:`reprlab.transfer.heads.ChunkAggregator`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError

Strategy = Literal["head", "tail", "head+tail", "key-sentences", "chunks"]
Centrality = Literal["tfidf", "textrank"]
Aggregate = Literal["mean", "max", "attention", "lstm"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
AGGREGATES: tuple[str, ...] = get_args(Aggregate)
HEAD_FRACTION = 128 / 510  # Sun et al. (2019): head 128 + tail 382 of BERT's 510 content pieces


@dataclass
class LongText:
    """How a document longer than the model's length is cut (``--long-text``)."""

    strategy: Strategy = "head"  # head | tail | head+tail | key-sentences | chunks
    centrality: Centrality = "tfidf"  # key-sentences: tfidf (cosine to the centroid) | textrank
    chunk_stride: int | None = None  # chunks: pieces between window starts (None: the budget, no overlap)
    max_chunks: int = 64  # chunks: a document needing more windows is an error (raise it, or cut)
    aggregate: Aggregate = "mean"  # chunks: mean | max | attention | lstm over the window vectors

    def __post_init__(self) -> None:
        check_choices(self, "long_text.")
        if self.chunk_stride is not None and self.chunk_stride < 1:
            raise ConfigError(f"long_text.chunk_stride={self.chunk_stride}: must be >= 1 (or None)")
        if self.max_chunks < 1:
            raise ConfigError(f"long_text.max_chunks={self.max_chunks}: must be >= 1")


def head_tail_sizes(budget: int) -> tuple[int, int]:
    """``(head, tail)`` piece counts of ``head+tail`` for a content budget (128 + 382 at 510)."""
    head = int(round(budget * HEAD_FRACTION))
    return head, budget - head


def chunk_starts(n: int, budget: int, stride: int | None = None) -> list[int]:
    """Start offsets of the ``chunks`` windows over ``n`` pieces (every piece covered, last ends at n)."""
    stride = budget if stride is None else stride
    if stride > budget:
        raise ConfigError(f"long_text.chunk_stride={stride} exceeds the window of {budget} pieces; windows "
                          "would skip pieces between them. Use a stride <= the window")
    if n <= budget:
        return [0]
    starts = list(range(0, n - budget, stride))
    starts.append(n - budget)  # the last window ends at the document's end
    return starts


def sentence_scores(sentences: Sequence[str], centrality: Centrality = "tfidf") -> np.ndarray:
    """Centrality of each sentence in its document (higher = more central); see the module docstring."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(sentences) == 1:
        return np.ones(1)
    try:
        x = TfidfVectorizer().fit_transform(sentences)  # (S, V), rows L2-normalised
    except ValueError:  # no word in any sentence (punctuation only): keep document order
        return np.zeros(len(sentences))
    x = x.toarray()
    if centrality == "tfidf":
        centroid = x.mean(0)
        norm = np.linalg.norm(centroid)
        return x @ centroid / norm if norm > 0 else np.zeros(len(sentences))
    sim = x @ x.T  # (S, S) cosine similarities
    np.fill_diagonal(sim, 0.0)
    out_weight = sim.sum(1, keepdims=True)
    s = len(sentences)
    transition = np.where(out_weight > 0, sim / np.where(out_weight > 0, out_weight, 1), 1.0 / s)  # row-stochastic
    rank = np.full(s, 1.0 / s)
    for _ in range(100):  # power iteration of PageRank, d = 0.85
        new = 0.15 / s + 0.85 * transition.T @ rank
        if np.abs(new - rank).sum() < 1e-10:
            rank = new
            break
        rank = new
    return rank


def select_key_sentences(piece_counts: Sequence[int], scores: Sequence[float], budget: int) -> list[int]:
    """Indices of the sentences kept (in document order): best first while the pieces fit ``budget``."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))  # ties: the earlier sentence
    kept, used = [], 0
    for i in order:
        if used + piece_counts[i] <= budget:
            kept.append(i)
            used += piece_counts[i]
    return sorted(kept)


def cut_pieces(pieces: Sequence[int], budget: int, cfg: LongText, *,
               sentences: Sequence[Sequence[int]] | None = None, sentence_texts: Sequence[str] | None = None,
               what: str = "document") -> list[list[int]]:
    """The windows of ``pieces`` the model sees: one list for every strategy but ``chunks``.

    Parameters
    ----------
    pieces : the document's piece ids (no special tokens).
    budget : content pieces per window (``max_length`` minus the template's special tokens).
    sentences, sentence_texts : the same document as per-sentence piece ids and texts
        (``key-sentences`` only; their concatenation is ``pieces``).
    what : names the document in error messages (e.g. ``train.jsonl:12``).
    """
    if budget < 1:
        raise ConfigError(f"max_length leaves {budget} pieces for the text after the special tokens; raise it")
    n = len(pieces)
    if n <= budget and cfg.strategy != "chunks":
        return [list(pieces)]
    if cfg.strategy == "head":
        return [list(pieces[:budget])]
    if cfg.strategy == "tail":
        return [list(pieces[n - budget:])]
    if cfg.strategy == "head+tail":
        h, t = head_tail_sizes(budget)
        return [list(pieces[:h]) + list(pieces[n - t:])]
    if cfg.strategy == "key-sentences":
        if sentences is None or sentence_texts is None:
            raise ConfigError("long_text.strategy='key-sentences' needs the document's sentences")
        counts = [len(s) for s in sentences]
        kept = select_key_sentences(counts, sentence_scores(sentence_texts, cfg.centrality).tolist(), budget)
        if not kept:  # not even the most central sentence fits: its beginning
            best = int(np.argmax(sentence_scores(sentence_texts, cfg.centrality)))
            return [list(sentences[best][:budget])]
        return [[p for i in kept for p in sentences[i]]]
    starts = chunk_starts(n, budget, cfg.chunk_stride)
    if len(starts) > cfg.max_chunks:
        raise DataError(f"{what}: {n} word pieces need {len(starts)} chunks of {budget}, more than "
                        f"long_text.max_chunks={cfg.max_chunks}; raise max_chunks or use head+tail")
    return [list(pieces[s:s + budget]) for s in starts]


def split_into_sentences(text: str, splitter: Callable[[str], list[str]] | None = None) -> list[str]:
    """The document's sentences (``reprlab.data.split_sentences`` unless another splitter is given)."""
    if splitter is None:
        from reprlab.data.text import split_sentences

        splitter = split_sentences
    out = splitter(text)
    if not out:
        raise DataError("key-sentences: the document has no sentence")
    return out


__all__ = ["LongText", "Strategy", "STRATEGIES", "AGGREGATES", "HEAD_FRACTION", "head_tail_sizes", "chunk_starts",
           "sentence_scores", "select_key_sentences", "cut_pieces", "split_into_sentences"]
