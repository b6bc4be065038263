"""SimCLR's NT-Xent loss, with DDP-wide negatives, built on reprlab's one InfoNCE.

InfoNCE (van den Oord, Li & Vinyals 2018, "Representation Learning with Contrastive Predictive
Coding", https://arxiv.org/abs/1807.03748): for a query ``q`` with one positive key among a set of
candidate keys,

    L = -log( exp(q . k+ / tau) / sum_{k in candidates} exp(q . k / tau) )

(:func:`reprlab.coherence.info_nce_from_scores`, shared by every contrastive loss in reprlab).

NT-Xent (Chen et al. 2020, SimCLR, https://arxiv.org/abs/2002.05709, eq. 1) is InfoNCE over the
2N views of a batch of N images with cosine similarity ``sim(u, v) = u.v / (|u| |v|)``: for the
pair (i, j) of two views of one image,

    l(i, j) = -log( exp(sim(z_i, z_j) / tau) / sum_{k != i} exp(sim(z_i, z_k) / tau) ),

averaged over all 2N ordered pairs; the other 2N - 2 views are the negatives. Under
``torchrun`` the keys are gathered from every process with :func:`reprlab.train.all_gather_with_grad`
so negatives span the *global* batch, while each process computes the rows of its own views
(the usual sharded layout: memory ``O(n N)`` per process instead of ``O(N^2)``). Averaged over
processes this is exactly the single-process loss on the concatenated batch, and DDP's gradient
averaging turns the all-reduced key gradients into that loss's gradient.

Large batches by gradient accumulation are *not* equivalent: accumulating k micro-batches of n
averages k losses that each see only 2n - 2 negatives, whereas one batch of k n sees 2 k n - 2.
Use more processes (DDP) to grow the set of negatives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.coherence import check_temperature, info_nce_from_scores
from reprlab.errors import DataError
from reprlab.train import all_gather_with_grad
from reprlab.train.distributed import rank, world_size


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, *,
            gather: bool = True) -> torch.Tensor:
    """NT-Xent loss of paired views (SimCLR eq. 1), averaged over the 2N views.

    Parameters
    ----------
    z1, z2: Tensor, shape ``(n, D)`` — projections of the two views; row i of each comes from the
        same image.
    temperature: tau > 0 (SimCLR: 0.5 for CIFAR-10, 0.1 for ImageNet with large batches).
    gather: under torch.distributed, use every process's views as negatives (all-gather with
        gradients); the returned value is this process's share (its own 2n rows).

    Returns
    -------
    Scalar tensor. For identical embeddings of all 2N views the value is ``log(2N - 1)``.

    Raises
    ------
    DataError: shapes differ or the global batch has fewer than 2 pairs (no negatives).
    ConfigError: temperature <= 0.
    """
    check_temperature(temperature)
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise DataError(f"nt_xent: z1 and z2 must both be (n, D); got {tuple(z1.shape)} and {tuple(z2.shape)}")
    n = z1.shape[0]
    world = world_size() if gather else 1
    if n * world < 2:
        raise DataError(f"nt_xent: batch of {n * world} pair(s); at least 2 are needed so that each view "
                        "has a negative — raise train.batch_size")
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    if world > 1:
        keys = torch.cat([all_gather_with_grad(z1), all_gather_with_grad(z2)])  # (2N, D)
        offset = rank() * n
    else:
        keys = torch.cat([z1, z2])  # (2N, D)
        offset = 0
    big_n = n * world
    local = torch.arange(n, device=z1.device) + offset  # global index of this process's images
    query = torch.cat([z1, z2])  # (2n, D)
    self_index = torch.cat([local, local + big_n])  # (2n,)
    positive = torch.cat([local + big_n, local])  # (2n,)
    logits = query @ keys.T / temperature  # (2n, 2N)
    return info_nce_from_scores(logits, positive, exclude=self_index)


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent`: ``NTXentLoss(temperature)(z1, z2)``.

    Shape: ``z1``, ``z2``: ``(batch_size, embedding_size)``; output: scalar.
    """

    def __init__(self, temperature: float = 0.5, gather: bool = True):
        super().__init__()
        check_temperature(temperature)
        self.temperature = temperature
        self.gather = gather

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        return nt_xent(z1, z2, self.temperature, gather=self.gather)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, gather={self.gather}"


__all__ = ["nt_xent", "NTXentLoss"]
