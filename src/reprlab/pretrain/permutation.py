"""XLNet's factorization orders and the two attention masks they define.

Yang et al. 2019, "XLNet: Generalized Autoregressive Pretraining for Language Understanding"
(https://arxiv.org/abs/1906.08237), section 2.2-2.3. For an order z (a permutation of the
positions 1..T) the permutation LM maximizes

    E_z [ sum_{t > c} log p(x_{z_t} | x_{z_<t}) ]                               (eq. 5)

with two streams per layer: the content stream h_{z_t} attends to z_<=t (it sees its own token),
the query stream g_{z_t} attends to z_<t (it knows the position z_t, not the token it predicts).
Only the last T - c tokens of the order are predicted (partial prediction, c = T (1 - 1/K),
K = 6 or 7 in the paper); the first c form the context. As in XLNet's own data pipeline
(``_local_perm`` in zihangdai/xlnet ``data_utils.py``), context tokens see the whole context in
both streams and no target, and a target sees the context plus the targets before it in the order.

Masks are indexed ``[query position, key position]`` in the *original* positions, with reprlab's
convention **True = may attend** (:mod:`reprlab.text.masks`). :func:`to_hf_masks` converts them to
HF transformers' ``perm_mask`` (1 = may *not* attend) and ``target_mapping``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from reprlab.errors import ConfigError, DataError


class PermutationMasks(NamedTuple):
    """What :func:`permutation_masks` returns (unpacks as ``content, query, targets``).

    Attributes
    ----------
    content : BoolTensor (..., T, T)
        Content stream: ``content[i, j]`` — position i may attend to position j (z_<=t).
    query : BoolTensor (..., T, T)
        Query stream: as ``content`` but a target never sees its own token (z_<t).
    targets : BoolTensor (..., T)
        Positions that are predicted (the last ``num_predict`` of the order).
    """

    content: torch.Tensor
    query: torch.Tensor
    targets: torch.Tensor


def check_order(order: torch.Tensor) -> None:
    """Raise :class:`DataError` unless every row of ``order`` is a permutation of 0..T-1."""
    if order.dim() not in (1, 2) or order.shape[-1] == 0:
        raise DataError(f"order has shape {tuple(order.shape)}; expected (T,) or (B, T) with T >= 1")
    if order.dtype in (torch.bool,) or order.is_floating_point():
        raise DataError(f"order has dtype {order.dtype}; expected integer positions 0..T-1")
    t = order.shape[-1]
    expected = torch.arange(t, device=order.device)
    bad = (order.sort(-1).values != expected).any(-1).reshape(-1)
    if bool(bad.any()):
        row = int(bad.nonzero()[0])
        values = order.reshape(-1, t)[row].tolist()
        raise DataError(f"order row {row} = {values[:12]}{' ...' if t > 12 else ''} is not a permutation of "
                        f"0..{t - 1}: every position must appear exactly once")


def sample_orders(batch: int, length: int, *, generator: torch.Generator | None = None,
                  device: torch.device | str | None = None) -> torch.Tensor:
    """Uniformly random factorization orders (B, T): row b lists the positions in prediction order."""
    keys = torch.rand(batch, length, generator=generator, device=device)
    return keys.argsort(-1)  # (B, T)


def permutation_masks(order: torch.Tensor, num_predict: int | torch.Tensor | None = None) -> PermutationMasks:
    """Content- and query-stream masks for factorization orders.

    Parameters
    ----------
    order : LongTensor (T,) or (B, T)
        ``order[t]`` is the position of the t-th token in the factorization order (z_t, 0-based).
        The seed's example [x3, x2, x4, x1] is ``order = [2, 1, 3, 0]``.
    num_predict : int or LongTensor (B,), optional
        Predict only the last ``num_predict`` tokens of the order (partial prediction); the
        earlier ones are the context. A tensor gives each row its own count. ``None`` predicts
        every token.

    Returns
    -------
    PermutationMasks
        ``content``, ``query`` (..., T, T) and ``targets`` (..., T), True = may attend / predicted.

    Raises
    ------
    DataError
        ``order`` is not a permutation of 0..T-1 in every row.
    ConfigError
        ``num_predict`` outside [1, T - 1] (with no context the first target would see nothing).

    Examples
    --------
    >>> m = permutation_masks(torch.tensor([2, 1, 3, 0]))
    >>> m.query.int().tolist()  # x1 (position 0) is last: it sees x2, x3, x4
    [[0, 1, 1, 1], [0, 0, 1, 0], [0, 0, 0, 0], [0, 1, 1, 0]]
    """
    check_order(order)
    t = order.shape[-1]
    context: int | torch.Tensor = 0
    if isinstance(num_predict, torch.Tensor):  # one count per row
        if num_predict.shape != order.shape[:-1] or bool(((num_predict < 1) | (num_predict >= t)).any()):
            raise ConfigError(f"num_predict has shape {tuple(num_predict.shape)} / values "
                              f"{num_predict.reshape(-1)[:8].tolist()}; expected one count in [1, {t - 1}] per row")
        context = (t - num_predict)[..., None]  # (..., 1)
    elif num_predict is not None:
        if isinstance(num_predict, bool) or not isinstance(num_predict, int) or not 1 <= num_predict < t:
            raise ConfigError(f"num_predict={num_predict!r} for sequences of {t} tokens: must be in [1, {t - 1}] "
                              "so that at least one token is context (the paper predicts ~T/6: K = 6)")
        context = t - num_predict
    rank = torch.empty_like(order)
    rank.scatter_(-1, order, torch.arange(t, device=order.device).expand_as(order))  # rank[pos] = t
    targets = rank >= context  # (..., T)
    # The context collapses to one step of the order: it is seen by everyone and sees itself whole.
    step = torch.where(targets, rank, torch.zeros_like(rank))  # (..., T)
    content = step[..., None, :] <= step[..., :, None]  # [i, j]: j is no later than i in the order
    earlier = step[..., None, :] < step[..., :, None]  # [i, j]: j strictly earlier than i
    query = torch.where(targets[..., :, None], earlier, content)  # context rows (not predicted): as content
    return PermutationMasks(content=content, query=query, targets=targets)


def to_hf_masks(masks: PermutationMasks) -> tuple[torch.Tensor, torch.Tensor]:
    """HF ``XLNetModel`` inputs ``(perm_mask, target_mapping)`` for reprlab's masks.

    ``perm_mask[b, i, j] = 1`` means i may **not** attend to j (HF's query-stream mask; HF derives the
    content stream by letting every position see itself). ``target_mapping[b, k, j] = 1`` when the
    k-th prediction is at position j, targets listed in position order. Shapes (B, T, T) and
    (B, P, T) float, with P targets per row (every row must have the same number).
    """
    query, targets = masks.query, masks.targets
    if query.dim() == 2:
        query, targets = query[None], targets[None]
    counts = targets.sum(-1)
    if bool((counts != counts[0]).any()):
        raise DataError(f"rows predict different numbers of tokens {counts.tolist()}; HF's target_mapping needs "
                        "the same num_predict in every row")
    b, t = targets.shape
    p = int(counts[0])
    where = targets.nonzero()[:, 1].view(b, p)  # (B, P) positions in ascending order
    mapping = torch.zeros(b, p, t, dtype=torch.float32, device=query.device)
    mapping.scatter_(-1, where[..., None], 1.0)
    return (~query).float(), mapping


def from_hf_masks(perm_mask: torch.Tensor, target_mapping: torch.Tensor) -> PermutationMasks:
    """Inverse of :func:`to_hf_masks`: content = (perm_mask == 0) plus the diagonal."""
    query = perm_mask == 0
    eye = torch.eye(query.shape[-1], dtype=torch.bool, device=query.device)
    return PermutationMasks(content=query | eye, query=query, targets=target_mapping.sum(-2) > 0)
