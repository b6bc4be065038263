"""torch.distributed helpers for data-parallel training launched by ``torchrun``.

Backend: NCCL when the process drives a CUDA device, Gloo otherwise (CPU). Rank 0 alone logs and
writes checkpoints; every rank reads them on resume.

Objectives whose loss reduces over the batch (variances, in-batch negatives, BatchNorm) must see
the *global* batch to equal one process: :func:`gather_batch` concatenates every rank's rows with
gradients, :func:`all_reduce_with_grad` sums a statistic, and :class:`GlobalBatchNorm` (which the
Trainer swaps in for every BatchNorm under DDP, ``train.sync_batchnorm``) normalises with the
global batch's mean and variance (SimCLR's "global BN", Chen et al. 2020, sec. 2.2).
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist
from torch import nn


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


def launch_world_size() -> int:
    """The processes torchrun started (1 outside torchrun), known before :func:`init_distributed` runs.

    For code that lays out data before the Trainer joins the process group.
    """
    return int(os.environ["WORLD_SIZE"]) if launched_by_torchrun() else 1


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


def gather_batch(x: torch.Tensor, training: bool = True) -> torch.Tensor:
    """The global batch of ``x`` during distributed training, else ``x``.

    Under DDP every rank's rows are concatenated in rank order (with gradients), which with the
    Trainer's sampler is the single-process batch in its order. Evaluation (``training=False``)
    runs on the whole evaluation set on every rank, so it is not gathered.
    """
    return all_gather_with_grad(x) if training else x


class _AllReduceSumWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # every rank's loss depends on the sum
        return grad


def all_reduce_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over ranks, differentiable (the gradient reaching each rank is summed too).

    With one process it returns ``x``.
    """
    if world_size() == 1:
        return x
    return _AllReduceSumWithGrad.apply(x)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch under torch.distributed.

    A drop-in for ``nn.BatchNorm1d/2d/3d`` (same parameters, buffers and state-dict names) that
    also works with Gloo on the CPU, where ``torch.nn.SyncBatchNorm`` does not. The mean and the
    biased variance are summed over ranks (two passes, with gradients); the running variance gets
    the unbiased global one, as BatchNorm does. With one process, or in eval mode (every rank
    evaluates locally), it is BatchNorm.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"GlobalBatchNorm expects (N, C, ...) input, got {input.dim()}-d")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or world_size() == 1:
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]
        count = all_reduce_with_grad(input.new_tensor(float(input.numel() // input.shape[1])))
        mean = all_reduce_with_grad(input.sum(dims)) / count  # (C,)
        shape = [1, -1] + [1] * (input.dim() - 2)
        centred = input - mean.view(shape)
        var = all_reduce_with_grad(centred.pow(2).sum(dims)) / count  # biased, as BN normalises with
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        tracked, running_mean, running_var = self.num_batches_tracked, self.running_mean, self.running_var
        if self.track_running_stats and tracked is not None and running_mean is not None and running_var is not None:
            with torch.no_grad():
                tracked.add_(1)
                m = 1.0 / float(tracked) if self.momentum is None else self.momentum
                n = float(count)
                running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                running_var.mul_(1 - m).add_(var.detach() * (n / max(n - 1, 1)), alpha=m)
        return out


def convert_global_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm in ``module`` by a :class:`GlobalBatchNorm` (in place).

    The replacement holds the very same parameter and buffer tensors, so an optimizer built
    before, or a reference kept by the caller, stays valid. Returns ``module`` (or its
    replacement when ``module`` itself is a BatchNorm).
    """
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm.__new__(GlobalBatchNorm)
        new.__dict__.update(module.__dict__)  # same parameters, buffers, hooks and settings
        return new
    for name, child in module.named_children():
        replaced = convert_global_batchnorm(child)
        if replaced is not child:
            setattr(module, name, replaced)
    return module
