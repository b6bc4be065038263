"""Sentence embeddings from a text encoder, and a small kNN retrieval helper.

sentence-transformers' formula (Reimers & Gurevych 2019, "Sentence-BERT",
https://arxiv.org/abs/1908.10084, section 3; the all-MiniLM-L6-v2 model card): mean of the last
layer's token vectors over real tokens, ``u = sum_t m_t h_t / sum_t m_t``, then ``u / ||u||_2``.
Texts are encoded in batches sorted by length (less padding), returned in the input order.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from reprlab.errors import ConfigError, DataError
from reprlab.text import pool

if TYPE_CHECKING:
    from reprlab.transfer.text_model import TextModel


@torch.no_grad()
def encode(model: TextModel, texts: list[str] | str, *, pooling: str = "mean", normalize: bool = True,
           batch_size: int = 32, max_length: int | None = None, progress: bool = False) -> torch.Tensor:
    """Embed ``texts`` with ``model``: float32 (N, H) on the CPU (one text: (H,)).

    Parameters
    ----------
    model : a :class:`~reprlab.transfer.TextModel`.
    texts : str or list of str.
    pooling : ``mean`` (sentence-transformers), ``cls``, ``max`` or ``pooler``.
    normalize : L2-normalise every vector (cosine similarity = dot product).
    batch_size : texts per forward pass.
    max_length : tokens per text, special tokens included (default: the model's); longer texts keep their head.
    progress : show a tqdm progress bar.
    """
    single = isinstance(texts, str)
    items = [texts] if single else list(texts)
    if not items:
        raise DataError("encode: no texts given")
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise DataError(f"encode: text {i} is a {type(t).__name__}, not a str")
    if pooling not in ("mean", "cls", "max", "pooler"):
        raise ConfigError(f"pooling={pooling!r}: choose mean, cls, max or pooler")
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size}: must be >= 1")
    enc_model, tok = model.encoder, model.tokenizer
    if pooling == "pooler" and enc_model.pooler is None:
        raise ConfigError("pooling='pooler': this model has no pooler; use mean, cls or max")
    length = min(max_length or model.max_length, model.max_length)
    device = next(enc_model.parameters()).device
    encs = tok.encode_batch(items, max_length=length, truncation=True)
    order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
    out = torch.empty(len(items), enc_model.config.hidden_size)
    starts: Any = range(0, len(order), batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="encode", unit="batch", disable=None)  # None: only on a terminal
    was = enc_model.training
    enc_model.eval()
    try:
        for s in starts:
            idx = order[s:s + batch_size]
            rows = [torch.tensor(encs[i].ids) for i in idx]
            ids = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=model.pad_id).to(device)
            lengths = torch.tensor([len(r) for r in rows], device=device)
            mask = (torch.arange(ids.shape[1], device=device) < lengths[:, None]).long()  # (B, T)
            res = enc_model(ids, mask, output_hidden_states=False)  # the last layer only: no unpacked copies
            vec = res.pooled if pooling == "pooler" else pool(res.last_hidden_state, mask, pooling)
            out[idx] = vec.float().cpu()
    finally:
        enc_model.train(was)
    if normalize:
        out = F.normalize(out, dim=-1)
    return out[0] if single else out


def knn_search(queries: torch.Tensor, corpus: torch.Tensor, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` most cosine-similar corpus rows for each query: ``(scores (Q, k), indices (Q, k))``, best first."""
    if queries.dim() == 1:
        queries = queries[None]
    if corpus.dim() != 2 or queries.shape[1] != corpus.shape[1]:
        raise DataError(f"knn_search: queries {tuple(queries.shape)} and corpus {tuple(corpus.shape)} must be "
                        "(Q, D) and (N, D) with the same D")
    if k < 1:
        raise ConfigError(f"k={k}: must be >= 1")
    sim = F.normalize(queries.float(), dim=-1) @ F.normalize(corpus.float(), dim=-1).T  # (Q, N)
    scores, idx = sim.topk(min(k, corpus.shape[0]), dim=1)
    return scores, idx


def read_texts(path: str | Path) -> list[str]:
    """Texts to embed: ``.jsonl``/``.csv`` rows' ``text`` column, else every non-empty line of a text file."""
    from reprlab.data.task_files import read_task_file
    from reprlab.errors import MissingDataError

    path = Path(path)
    if path.suffix.lower() in (".jsonl", ".csv"):
        return [r.text or "" for r in read_task_file(path, "seq-cls", labels_required=False)]
    if not path.is_file():
        raise MissingDataError(f"{path}: no such file; give a text file (one text per line), .jsonl or .csv")
    from reprlab.data import iter_lines

    texts = [t for t in iter_lines([path]) if t.strip()]  # UTF-8 errors are reported as file:line
    if not texts:
        raise DataError(f"{path}: no text (every line is empty)")
    return texts


def save_vectors(vectors: torch.Tensor, path: str | Path) -> Path:
    """Write float32 vectors as ``.npy`` atomically, without pickle (:func:`reprlab.data.save_npy`)."""
    from reprlab.data import save_npy

    return save_npy(path, vectors.float().numpy())


__all__ = ["encode", "knn_search", "read_texts", "save_vectors"]
