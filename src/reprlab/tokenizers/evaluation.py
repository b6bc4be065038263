"""Compare vocabularies: held-out log-likelihood of a unigram language model over their pieces.

A vocabulary segments text into pieces; fit a unigram model ``p(t) = (c_t + 1) / (C + V)``
(add-one smoothing over the ``V`` vocabulary entries) on the training text's pieces and score the
held-out text's pieces. This is the quantity WordPiece's likelihood criterion greedily increases
(Schuster & Nakajima, 2012), so it is the natural yardstick between ``method="likelihood"`` and
``method="frequency"`` at equal vocabulary size.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from reprlab.tokenizers.tokenizer import Tokenizer


@dataclass(frozen=True)
class UnigramScore:
    """Held-out log-likelihood (nats) of a vocabulary's unigram model.

    Attributes
    ----------
    log_likelihood : float
        Sum over held-out pieces of ``log p(piece)``.
    tokens, characters : int
        Held-out pieces and non-space characters of the normalized text.
    """

    log_likelihood: float
    tokens: int
    characters: int

    @property
    def per_token(self) -> float:
        return self.log_likelihood / max(self.tokens, 1)

    @property
    def per_character(self) -> float:
        return self.log_likelihood / max(self.characters, 1)


def _pieces(tokenizer: Tokenizer, texts: Iterable[str]) -> tuple[Counter, int]:
    counts: Counter = Counter()
    chars = 0
    for text in texts:
        enc = tokenizer.encode_sequence(text)
        counts.update(enc.ids)
        chars += sum(b - a for a, b in enc.offsets)
    return counts, chars


def unigram_log_likelihood(tokenizer: Tokenizer, train_texts: Iterable[str],
                           heldout_texts: Iterable[str]) -> UnigramScore:
    """Fit an add-one unigram model on ``train_texts``' pieces; score ``heldout_texts``."""
    train, _ = _pieces(tokenizer, train_texts)
    total, v = sum(train.values()), tokenizer.vocab_size
    held, chars = _pieces(tokenizer, heldout_texts)
    ll = sum(c * math.log((train.get(t, 0) + 1) / (total + v)) for t, c in held.items())
    return UnigramScore(ll, sum(held.values()), chars)
