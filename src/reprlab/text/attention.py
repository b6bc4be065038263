"""Attention as information retrieval, drawn: where one word's query looks, in every head and layer.

Hinton's SIGIR 2020 talk reads self-attention as retrieval: each word piece emits a *query*, every
piece offers a *key* and a *value*, and a word's next representation is the values weighted by
``softmax(q k^T / sqrt(d))`` (Vaswani et al. 2017, eq. 1). The example is "June": a month or a
name, depending on which other words its query finds. :func:`token_attention` returns the
attention probabilities of a chosen word's query over the keys of its sentence for every layer
and head (``Encoder(..., output_attentions=True)``: the same numbers as HF's
``output_attentions``); :func:`plot_token_attention` draws them for several sentences side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reprlab.errors import DataError
from reprlab.text.encoder import Encoder

#: The talk's two contexts for "June": a month, then a name.
JUNE_SENTENCES = ("in June we went to Paris", "June said she would come")


@dataclass
class TokenAttention:
    """Attention of one word's query across the layers and heads of an encoder.

    Attributes
    ----------
    sentence : str
    word : str
        The chosen word as the tokenizer's pre-tokenizer split it (lower-cased for uncased models).
    word_index : int
        Its index among the sentence's words (0-based).
    tokens : list of str
        The word pieces of the encoded sentence, ``[CLS]`` and ``[SEP]`` included.
    query : list of int
        Positions of the word's pieces in ``tokens`` (their rows are averaged).
    probabilities : Tensor (L, A, T)
        ``softmax(q k^T / sqrt(d))`` of the word's query over the T keys, per layer and head; each
        (layer, head) row sums to 1.
    hidden : Tensor (L + 1, H)
        The word's representation after the embeddings and after each layer (mean of its pieces).
    """

    sentence: str
    word: str
    word_index: int
    tokens: list[str]
    query: list[int]
    probabilities: torch.Tensor
    hidden: torch.Tensor

    def head_mean(self) -> torch.Tensor:
        """(L, T): the attention averaged over heads."""
        return self.probabilities.mean(1)

    def strongest_keys(self) -> list[str]:
        """Per layer, the *other* word piece the query attends to most (heads averaged).

        ``[CLS]``/``[SEP]`` (which many heads use as a no-op "sink") and the word's own pieces are
        left out: what remains is what the word retrieves from its context.
        """
        mean = self.head_mean().clone()  # (L, T)
        skip = [i for i, t in enumerate(self.tokens) if t in ("[CLS]", "[SEP]", "<s>", "</s>")] + self.query
        mean[:, skip] = -1
        return [self.tokens[int(i)] for i in mean.argmax(1)]


def _words(encoding: Any, sentence: str) -> list[str]:
    """The sentence's words as the tokenizer split them: first piece's start to last piece's end."""
    spans: dict[int, tuple[int, int]] = {}
    for w, (a, b) in zip(encoding.word_ids, encoding.offsets):
        if w is not None:
            spans[w] = (spans[w][0], b) if w in spans else (a, b)
    return [sentence[slice(*spans[w])] for w in sorted(spans)]


def _word_index(encoding: Any, sentence: str, word: int | str) -> int:
    words = _words(encoding, sentence)
    n_words = len(words)
    if isinstance(word, str):
        matches = [i for i, w in enumerate(words) if w.lower() == word.lower()]
        if not matches:
            raise DataError(f"{word!r} is not a word of {sentence!r}; its words are {', '.join(words)}")
        return matches[0]
    if not 0 <= word < n_words:
        raise DataError(f"word index {word} is outside the sentence {sentence!r}, which has {n_words} words "
                        f"(indices 0 to {n_words - 1}: {', '.join(words)})")
    return int(word)


@torch.no_grad()
def token_attention(encoder: Encoder, tokenizer: Any, sentence: str, word: int | str) -> TokenAttention:
    """Where ``word``'s query looks in ``sentence``: probabilities (L, A, T) for every layer and head.

    Parameters
    ----------
    encoder : Encoder
        Put in eval mode for the call (no dropout) and restored afterwards.
    tokenizer : reprlab.tokenizers.Tokenizer
        Gives ``tokens``, ``ids``, ``word_ids`` and ``offsets`` (e.g. ``WordPieceTokenizer.from_pretrained``).
    sentence : str
    word : int or str
        The word's index among the sentence's words (0-based, as the tokenizer splits words), or
        the word itself (case-insensitive; its first occurrence).

    Raises
    ------
    DataError
        An index outside the sentence or a word not in it (the message lists the words).
    """
    enc = tokenizer.encode(sentence)
    index = _word_index(enc, sentence, word)
    query = [i for i, w in enumerate(enc.word_ids) if w == index]
    ids = torch.tensor([enc.ids], device=next(encoder.parameters()).device)  # (1, T)
    was_training = encoder.training
    encoder.eval()
    try:
        out = encoder(ids, output_attentions=True)
    finally:
        encoder.train(was_training)
    probs = torch.stack([a[0, :, query].mean(1) for a in out.attentions]).cpu()  # (L, A, T)
    hidden = torch.stack([h[0, query].mean(0) for h in out.hidden_states]).cpu()  # (L + 1, H)
    start, end = enc.offsets[query[0]][0], enc.offsets[query[-1]][1]
    return TokenAttention(sentence, sentence[start:end], index, list(enc.tokens), query, probs, hidden)


def plot_token_attention(results: Sequence[TokenAttention], path: str | Path, title: str = "") -> Path:
    """One heat map per sentence: rows = (layer, head), columns = key tokens, colour = probability.

    Layer boundaries are drawn as white lines; each layer's label names the context word it attends
    to most (:meth:`TokenAttention.strongest_keys`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reprlab.io import save_figure

    if not results:
        raise DataError("plot_token_attention: no sentences given")
    layers, heads = results[0].probabilities.shape[:2]
    width = sum(0.45 * len(r.tokens) + 1.4 for r in results) + 1.2
    fig, axes = plt.subplots(1, len(results), figsize=(width, 0.11 * layers * heads + 1.8), squeeze=False)
    for ax, r in zip(axes[0], results):
        grid = r.probabilities.reshape(layers * heads, -1).numpy()  # (L*A, T)
        im = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks(range(len(r.tokens)), r.tokens, rotation=60, ha="right", fontsize=8)
        ax.set_yticks([layer * heads + heads / 2 - 0.5 for layer in range(layers)],
                      [f"layer {layer + 1}\n→ {key}" for layer, key in enumerate(r.strongest_keys())], fontsize=8)
        for layer in range(1, layers):
            ax.axhline(layer * heads - 0.5, color="white", lw=1.2)
        for q in r.query:
            ax.get_xticklabels()[q].set_color("crimson")
        ax.set_title(f"\"{r.sentence}\"\nquery: {r.word!r} (red), {heads} heads per layer", fontsize=9)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.6, label="attention probability")
    fig.suptitle(title or "where one word's query looks: every head of every layer "
                          "(→ the context word it attends to most, heads averaged, [CLS]/[SEP] left out)", fontsize=9)
    return save_figure(fig, path, bbox_inches="tight")


__all__ = ["TokenAttention", "token_attention", "plot_token_attention", "JUNE_SENTENCES"]
