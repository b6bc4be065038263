"""TrainConfig: every knob of the shared training loop, one dataclass with commented defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal, get_args

from reprlab.config import check_choices
from reprlab.errors import ConfigError

OptimizerName = Literal["adamw", "adam", "sgd", "lamb", "lars"]
ScheduleName = Literal["constant", "linear", "cosine"]
Precision = Literal["fp32", "bf16", "fp16"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)
PRECISIONS: tuple[str, ...] = get_args(Precision)


@dataclass
class TrainConfig:
    output_dir: str = "runs/run"  # run directory: config.json, checkpoints, metrics.jsonl
    max_steps: int = 1000  # optimizer steps (each = grad_accum_steps micro-batches)
    batch_size: int = 32  # micro-batch size *per process*; global batch = this x accum x world
    grad_accum_steps: int = 1
    optimizer: OptimizerName = "adamw"
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.01  # not applied to biases and norm weights
    betas: tuple[float, float] = (0.9, 0.999)  # Adam/AdamW/LAMB
    eps: float = 1e-8  # Adam/AdamW; LAMB uses 1e-6 as in You et al. (2019)
    momentum: float = 0.9  # SGD/LARS
    lars_eta: float = 0.001  # LARS trust coefficient (You et al. 2017; SimCLR uses 1e-3)
    schedule: ScheduleName = "constant"  # after warmup
    warmup_steps: int = 0  # linear warmup from lr/(warmup+1) to lr
    min_lr_ratio: float = 0.0  # floor of linear/cosine decay, as a fraction of lr
    max_grad_norm: float | None = 1.0  # global-norm clipping; None disables
    precision: Precision = "fp32"  # bf16: autocast, CPU or CUDA; fp16: CUDA, with GradScaler
    device: str = "auto"  # auto (cuda > mps > cpu) | cpu | cuda | cuda:1 | mps
    seed: int = 0  # seeds torch/numpy/random and the data order
    shuffle: bool = True
    drop_last: bool = True
    num_workers: int = 0  # DataLoader workers (0 keeps the data order and RNG fully reproducible)
    sync_batchnorm: bool = True  # under DDP, BatchNorm uses the global batch's statistics (SimCLR's global BN)
    log_every: int = 10  # steps between metrics.jsonl rows
    eval_every: int | None = None  # steps between evaluations on eval data
    save_every: int | None = 500  # steps between checkpoints; the final step is always saved
    keep_checkpoints: int = 2  # how many checkpoint-* directories to keep
    progress: bool = True  # tqdm progress bar (rank 0 only)
    tensorboard: bool = False  # also write TensorBoard events to <output_dir>/tensorboard (needs tensorboard)
    resume: bool = False  # continue from the newest checkpoint in output_dir

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the field when a value is out of range."""
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"train.{name}={getattr(self, name)!r}: {why}")

        check_choices(self, "train.")
        for f in fields(self):
            value = getattr(self, f.name)
            numbers = value if isinstance(value, tuple) else (value,)
            if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
                raise bad(f.name, "must be a finite number")
        if self.num_workers < 0:
            raise bad("num_workers", "must be >= 0 (0 loads data in the training process)")
        for name in ("max_steps", "batch_size", "grad_accum_steps", "log_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise bad(name, "must be >= 1")
        if self.warmup_steps < 0:
            raise bad("warmup_steps", "must be >= 0")
        if self.lr <= 0:
            raise bad("lr", "must be > 0")
        if self.weight_decay < 0:
            raise bad("weight_decay", "must be >= 0")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise bad("min_lr_ratio", "must be in [0, 1]")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise bad("max_grad_norm", "must be > 0, or None to disable clipping (`none` in TOML or --set)")
        for name in ("eval_every", "save_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise bad(name, "must be >= 1, or None to disable (`none` in TOML or --set)")
        betas = tuple(float(b) for b in self.betas)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise bad("betas", "must be two numbers in [0, 1)")
        self.betas = (betas[0], betas[1])
