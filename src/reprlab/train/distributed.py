"""torch.distributed helpers for data-parallel training launched by ``torchrun``.

Backend: NCCL when the process drives a CUDA device, Gloo otherwise (CPU). Rank 0 alone logs and
writes checkpoints; every rank reads them on resume.
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA (the process's LOCAL_RANK device), then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        from reprlab.errors import ConfigError
        raise ConfigError(f"device={name!r}: {e}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        from reprlab.errors import ConfigError
        raise ConfigError(f"device={name!r} but CUDA is not available here; use --device cpu or auto")
    return device


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed(device: torch.device) -> bool:
    """Join the process group torchrun set up (no-op for a single process). Returns True if joined."""
    if dist.is_available() and dist.is_initialized():
        return True
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) < 2:
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    return True


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process() -> bool:
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


class _AllGatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(out, x.contiguous())
        return torch.cat(out, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)  # each rank's loss depends on every slice: sum the contributions
        n = grad.shape[0] // dist.get_world_size()
        return grad[dist.get_rank() * n:(dist.get_rank() + 1) * n]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (shape ``(n, ...)``, equal ``n`` on every rank) along dim 0 across ranks.

    Gradients flow back to each rank's own slice, so a loss over the gathered tensor (e.g. NT-Xent
    with negatives from every process) trains as if the whole global batch were local. With one
    process it returns ``x`` unchanged.
    """
    if world_size() == 1:
        return x
    return _AllGatherWithGrad.apply(x)
