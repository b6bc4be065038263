"""Layer-wise probing: how well each layer's representation of a word predicts a property of it.

"Word-piece embeddings refined layer by layer" (Hinton, SIGIR 2020), measured as in Tenney et al.
(2019, "BERT rediscovers the classical NLP pipeline", https://arxiv.org/abs/1905.05950) and
Liu et al. (2019, "Linguistic knowledge and transferability of contextual representations"):
freeze the encoder, take a word's vector from layer l (the mean of its word pieces, l = 0 the
embedding output), fit a linear probe (:func:`reprlab.transfer.linear_probe`) per layer on
training words and report held-out accuracy per layer — a curve over depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reprlab.errors import DataError
from reprlab.transfer.probe import linear_probe


@torch.no_grad()
def word_features(encoder: Any, tokenizer: Any, texts: Sequence[str], spans: Sequence[tuple[int, int]], *,
                  batch_size: int = 64) -> torch.Tensor:
    """Every layer's vector of one word per text: ``(N, L + 1, H)`` float32 on the CPU.

    The word is given by its character span ``[start, end)`` in the text; its vector at a layer is
    the mean of the hidden states of the word pieces whose offsets overlap the span. The encoder
    runs in eval mode (restored afterwards) on its own device.

    Raises
    ------
    DataError
        When a span covers no word piece (empty, outside the text, or cut off by truncation).
    """
    if len(texts) != len(spans):
        raise DataError(f"word_features: {len(texts)} texts but {len(spans)} spans")
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    out = []
    try:
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start:start + batch_size])
            encs = tokenizer.encode_batch(chunk, padding="longest")
            ids = torch.tensor([e.ids for e in encs], device=device)  # (B, T)
            mask = torch.tensor([e.attention_mask for e in encs], device=device)
            weights = torch.zeros(ids.shape, dtype=torch.float32)  # (B, T): 1/n on the word's pieces
            for b, (e, (lo, hi)) in enumerate(zip(encs, spans[start:start + batch_size])):
                pieces = [t for t, (a, z) in enumerate(e.offsets)
                          if e.special_tokens_mask[t] == 0 and a < hi and z > lo and z > a]
                if not pieces:
                    raise DataError(f"text {start + b} ({chunk[b][:60]!r}): span {(lo, hi)} covers no word piece")
                weights[b, pieces] = 1.0 / len(pieces)
            hidden = torch.stack(encoder(ids, mask).hidden_states, 1).float().cpu()  # (B, L + 1, T, H)
            out.append(torch.einsum("blth,bt->blh", hidden, weights))
    finally:
        encoder.train(was_training)
    return torch.cat(out)


@dataclass
class LayerwiseProbe:
    """Held-out accuracy of a linear probe on each layer (index 0: the embedding output)."""

    accuracy: list[float]
    majority: float  # accuracy of always predicting the most frequent training label
    n_train: int
    n_test: int
    n_classes: int

    @property
    def best_layer(self) -> int:
        return int(np.argmax(self.accuracy))


def layerwise_probe(features: torch.Tensor, labels: torch.Tensor, train: Sequence[int], test: Sequence[int], *,
                    C: float = 1.0, max_iter: int = 1000) -> LayerwiseProbe:
    """Fit :func:`~reprlab.transfer.linear_probe` on ``features[train, l]`` for every layer l.

    Parameters
    ----------
    features : Tensor (N, L + 1, H)
        From :func:`word_features` (or any per-layer features).
    labels : LongTensor (N,)
    train, test : index sequences into the N rows (e.g. a split by word, so test words are unseen).
    """
    if features.dim() != 3 or len(features) != len(labels):
        raise DataError(f"layerwise_probe: features must be (N, layers, H) with N = {len(labels)} labels; "
                        f"got {tuple(features.shape)}")
    tr, te = torch.as_tensor(list(train), dtype=torch.long), torch.as_tensor(list(test), dtype=torch.long)
    if len(tr) == 0 or len(te) == 0:
        raise DataError(f"layerwise_probe: {len(tr)} training and {len(te)} test rows; both must be non-empty")
    acc = [linear_probe(features[tr, layer], labels[tr], features[te, layer], labels[te], C=C,
                        max_iter=max_iter).accuracy for layer in range(features.shape[1])]
    majority = float((labels[te] == torch.bincount(labels[tr]).argmax()).float().mean())
    return LayerwiseProbe(acc, majority, len(tr), len(te), int(len(torch.unique(labels[tr]))))


__all__ = ["word_features", "layerwise_probe", "LayerwiseProbe"]
