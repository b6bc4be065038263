"""Temporary intra-op thread count: tiny models often run faster on one thread than two."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Set ``torch.set_num_threads(n)`` inside the block and restore it after (``None``: no change).

    On small CPUs every small op pays a thread-pool synchronisation, so models of a few thousand
    parameters train faster on one thread (measurements: docs/benchmarks.md, "Threads").
    """
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
