"""The one training loop of reprlab.

Every model (masked LM, SimCLR, VAE, RBM, CPC, ...) trains here through the :class:`Objective`
interface. The loop handles devices, mixed precision, gradient accumulation and clipping, the
optimizer and schedule, DDP under ``torchrun``, evaluation, logging and atomic checkpoints that
resume bit-identically on the CPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from reprlab.data.dataset import keep_batch
from reprlab.errors import CheckpointError, ConfigError, DataError, ReprlabError
from reprlab.io import remove_temporaries, write_json
from reprlab.train import distributed as dist_utils
from reprlab.train.callbacks import Callback, JSONLLogger, ProgressBar, TensorBoardLogger
from reprlab.train.checkpoint import (
    config_mismatch,
    latest_checkpoint,
    load_checkpoint,
    open_checkpoint,
    read_checkpoint_json,
    save_checkpoint,
    save_module,
    set_aside_checkpoint,
)
from reprlab.train.config import TrainConfig
from reprlab.train.objective import LossOutput, Objective
from reprlab.train.optim import build_optimizer, param_groups
from reprlab.train.sampler import ResumableSampler
from reprlab.train.schedule import lr_factor
from reprlab.train.seed import rng_state, seed_everything, set_rng_state

log = logging.getLogger(__name__)


class TrainingDiverged(ReprlabError, FloatingPointError):
    """The loss became NaN/inf; the message names the step and the last good checkpoint."""


@dataclass
class TrainResult:
    step: int
    run_dir: Path
    last_logs: dict[str, float]
    eval_logs: dict[str, float]


def move_to(batch: Any, device: torch.device) -> Any:
    """Move every tensor inside a (nested) batch to ``device``."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)) and not hasattr(batch, "_fields"):
        return type(batch)(move_to(v, device) for v in batch)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return dataclasses.replace(batch, **{f.name: move_to(getattr(batch, f.name), device)
                                             for f in dataclasses.fields(batch)})
    return batch


def _as_float(v: Any) -> float:
    return float(v.detach().float().mean()) if torch.is_tensor(v) else float(v)


class Trainer:
    """Train an :class:`Objective` on a map-style dataset.

    Parameters
    ----------
    objective:
        The module to train; ``objective(batch)`` returns a :class:`LossOutput`.
    config:
        :class:`TrainConfig` (steps, batch, optimizer, schedule, precision, checkpoints, ...).
    train_data:
        Map-style ``Dataset`` (``len`` and integer indexing).
    eval_data:
        Optional dataset evaluated every ``config.eval_every`` steps and at the end.
    collate_fn:
        Turns a list of items into a batch (default: torch's ``default_collate``, or
        :func:`reprlab.data.keep_batch` for datasets that fetch whole batches with ``__getitems__``,
        such as :class:`reprlab.data.ArrayDataset`).
    callbacks:
        Extra :class:`Callback` objects (e.g. an online linear probe).
    model_config:
        JSON-ready description saved as ``config.json`` (default: ``objective.config_dict()``).
    """

    def __init__(self, objective: Objective, config: TrainConfig, train_data: Dataset,
                 *, eval_data: Dataset | None = None, collate_fn: Callable | None = None,
                 callbacks: Sequence[Callback] = (), model_config: dict[str, Any] | None = None):
        self.objective = objective
        self.config = config
        self.train_data = train_data
        self.eval_data = eval_data
        self.collate_fn = collate_fn
        self.user_callbacks = list(callbacks)
        self.model_config = model_config if model_config is not None else objective.config_dict()
        self.run_dir = Path(config.output_dir)
        self.step = 0
        self.epoch = 0
        self.samples_in_epoch = 0  # per process, for resuming mid-epoch
        self.should_stop = False
        self.last_checkpoint: Path | None = None  # the newest checkpoint written or resumed from
        # the newest checkpoint a finite loss was computed from; the newer one is still on probation
        self.good_checkpoint: Path | None = None
        self._unconfirmed: Path | None = None
        self.device = dist_utils.resolve_device(config.device)
        self.optimizer: torch.optim.Optimizer | None = None
        self.scaler = torch.amp.GradScaler("cuda", enabled=False)  # fp16 loss scaling, set up by fit()
        self.model: torch.nn.Module = objective  # DDP wrapper when distributed

    # ----------------------------------------------------------------- set-up
    def _full_config(self) -> dict[str, Any]:
        return {"model": self.model_config, "train": dataclasses.asdict(self.config)}

    def _autocast(self) -> contextlib.AbstractContextManager:
        p = self.config.precision
        if p == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if p == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _loader(self, data: Dataset, sampler: ResumableSampler | None, batch_size: int,
                drop_last: bool) -> DataLoader:
        # Own generator: creating an iterator must not draw from the global RNG, or a resumed run
        # (which starts a fresh iterator mid-epoch) would see a shifted random stream.
        collate = self.collate_fn or (keep_batch if hasattr(data, "__getitems__") else None)
        return DataLoader(data, batch_size=batch_size, sampler=sampler, shuffle=False,
                          drop_last=drop_last, collate_fn=collate,
                          num_workers=self.config.num_workers,
                          generator=torch.Generator().manual_seed(self.config.seed),
                          pin_memory=self.device.type == "cuda")

    def _resume(self, callbacks: list[Callback]) -> None:
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is None:
            log.warning("--resume: %s holds no checkpoint yet; starting from step 0", self.run_dir)
            for cb in callbacks:  # rows a run killed before its first checkpoint logged are dropped
                cb.on_resume(self, 0)
            return
        state = open_checkpoint(ckpt)  # shape and checksums first: config.json may be the damaged file
        saved_model = read_checkpoint_json(ckpt, "config.json").get("model", {})
        if not isinstance(saved_model, dict):
            raise CheckpointError(f"{ckpt / 'config.json'}: field 'model' is not an object; the file was not "
                                  f"written by reprlab — delete {ckpt} to resume from an earlier one")
        diffs = config_mismatch(saved_model, self.model_config)
        if diffs:
            raise CheckpointError(f"{ckpt}: written for another model configuration: "
                                  + "; ".join(diffs[:5]) + ". Use the run's original config, or "
                                  "a new output_dir to start afresh.")
        assert self.optimizer is not None
        load_checkpoint(ckpt, self.objective, self.optimizer, state)
        self.step, self.epoch = state["step"], state["epoch"]
        self.samples_in_epoch = state["samples_in_epoch"]
        rngs = state["rng"]
        set_rng_state(rngs[dist_utils.rank()] if dist_utils.rank() < len(rngs) else rngs[0])
        self.last_checkpoint = self._unconfirmed = ckpt
        for cb in callbacks:
            cb.on_resume(self, self.step)
        log.info("resumed from %s at step %d", ckpt, self.step)

    def _save(self) -> None:
        bad = [name for name, t in self.objective.state_dict().items()
               if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if bad:
            raise self._diverged(f"weights are not finite after step {self.step} ({', '.join(bad[:3])})")
        rngs = [rng_state()]
        if dist_utils.world_size() > 1:
            gathered: list[Any] = [None] * dist_utils.world_size()
            torch.distributed.all_gather_object(gathered, rngs[0])
            rngs = gathered
        if dist_utils.is_main_process():
            assert self.optimizer is not None  # fit() built it before any save
            state = {"step": self.step, "epoch": self.epoch, "samples_in_epoch": self.samples_in_epoch,
                     "rng": rngs, "world_size": dist_utils.world_size()}
            self.last_checkpoint = save_checkpoint(self.run_dir, self.step, self.objective,
                                                   self.optimizer, state, self._full_config(),
                                                   keep=self.config.keep_checkpoints,
                                                   protect=self.good_checkpoint)
        self._unconfirmed = self.run_dir / f"checkpoint-{self.step:06d}"
        dist_utils.barrier()

    # --------------------------------------------------------------- evaluate
    @torch.no_grad()
    def evaluate(self, data: Dataset | None = None) -> dict[str, float]:
        """Average loss and metrics of the objective over ``data`` (default: ``eval_data``).

        Each batch's values are weighted by its ``LossOutput.num_items`` (else its number of
        items), so a short last batch counts for what it holds: for a per-item mean (accuracy, a
        per-sample loss) the result is the mean over the whole of ``data``, not a mean of batch
        means. A metric is averaged over the batches that report it (multi-task objectives).
        """
        data = data if data is not None else self.eval_data
        if data is None:
            return {}
        was_training = self.objective.training
        self.objective.eval()
        totals: dict[str, float] = {}
        weights: dict[str, float] = {}
        n_items = len(data) if isinstance(data, Sized) else None
        size = self.config.batch_size
        for i, batch in enumerate(self._loader(data, None, size, drop_last=False)):
            with self._autocast():
                out: LossOutput = self.objective(move_to(batch, self.device))
            weight = out.num_items if out.num_items is not None else \
                (min(size, n_items - i * size) if n_items is not None else 1)
            for k, v in {"loss": out.loss, **out.metrics}.items():
                totals[k] = totals.get(k, 0.0) + weight * _as_float(v)
                weights[k] = weights.get(k, 0.0) + weight
        self.objective.train(was_training)
        return {f"eval_{k}": v / weights[k] if weights[k] else float("nan") for k, v in totals.items()}

    # ------------------------------------------------------------------- fit
    def fit(self) -> TrainResult:
        """Run until ``config.max_steps`` optimizer steps; resume first if ``config.resume``."""
        cfg = self.config
        loader, sampler, callbacks, base_lrs = self._setup()
        for cb in callbacks:
            cb.on_train_begin(self)
        self.objective.train()
        assert self.optimizer is not None
        self.optimizer.zero_grad(set_to_none=True)
        window = _MetricWindow()
        logs: dict[str, float] = {}
        eval_logs: dict[str, float] = {}
        micro = 0
        batches = self._batches(loader, sampler)
        while self.step < cfg.max_steps and not self.should_stop:
            micro += 1
            last_micro = micro % cfg.grad_accum_steps == 0
            window.add(self._micro_step(next(batches), sync=last_micro), cfg.batch_size)
            if not last_micro:
                continue
            lr, grad_norm = self._optimizer_step(base_lrs)
            if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                logs = window.close(epoch=self.epoch, lr=lr, world=dist_utils.world_size(), grad_norm=grad_norm)
                self._logged(callbacks, logs)
            if cfg.eval_every and self.step % cfg.eval_every == 0 and self.eval_data is not None:
                eval_logs = self.evaluate()
                self._evaluated(callbacks, eval_logs)
            if cfg.save_every and self.step % cfg.save_every == 0 and self.step < cfg.max_steps:
                self._save()

        if self.eval_data is not None and (not cfg.eval_every or self.step % cfg.eval_every):
            eval_logs = self.evaluate()
            self._evaluated(callbacks, eval_logs)
        self._save()
        if dist_utils.is_main_process():
            save_module(self.objective, self.run_dir / "model.safetensors")
        for cb in callbacks:
            cb.on_train_end(self)
        if dist_utils.is_main_process():
            from reprlab.report import refresh_report

            refresh_report(self.run_dir)  # report.html + metrics.json; a failure to write them only warns
        return TrainResult(step=self.step, run_dir=self.run_dir, last_logs=logs, eval_logs=eval_logs)

    def _setup(self) -> tuple[DataLoader, ResumableSampler, list[Callback], list[float]]:
        """Seed, check the data, build the optimizer and callbacks, resume, wrap for DDP, make the loader.

        Returns the loader, its sampler, the callbacks and the optimizer's peak learning rates (read
        before a resume loads the optimizer state, which holds the last scheduled ones).
        """
        cfg = self.config
        if cfg.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError(f"train.precision='fp16' needs a CUDA device (device is {self.device}); "
                              "use bf16 or fp32 on the CPU")
        distributed = dist_utils.init_distributed(self.device)
        rank, world = dist_utils.rank(), dist_utils.world_size()
        seed_everything(cfg.seed + rank)
        if not isinstance(self.train_data, Sized):
            raise DataError(f"train data ({type(self.train_data).__name__}) has no len(): pass a map-style dataset")
        n_items = len(self.train_data)
        if n_items < cfg.batch_size * world:
            raise ConfigError(f"train data has {n_items} items, fewer than one global batch "
                              f"({cfg.batch_size} x {world} processes); lower train.batch_size")

        self.objective.to(self.device)
        if distributed and cfg.sync_batchnorm:
            dist_utils.convert_global_batchnorm(self.objective)
        groups = self.objective.param_groups(cfg.weight_decay) or param_groups(self.objective, cfg.weight_decay)
        self.optimizer = build_optimizer(groups, cfg)
        base_lrs = [g["lr"] for g in self.optimizer.param_groups]

        callbacks: list[Callback] = []
        if dist_utils.is_main_process():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            for stale in remove_temporaries(self.run_dir):  # left by a process killed mid-write
                log.info("removed %s, left by an interrupted write", stale)
            callbacks.append(JSONLLogger(self.run_dir / "metrics.jsonl"))
            if cfg.progress:
                callbacks.append(ProgressBar())
            if cfg.tensorboard:
                callbacks.append(TensorBoardLogger(self.run_dir / "tensorboard"))
        callbacks += self.user_callbacks

        if cfg.resume:
            self._resume(callbacks)
        elif dist_utils.is_main_process() and latest_checkpoint(self.run_dir) is not None:
            raise ConfigError(f"{self.run_dir} already holds checkpoints; pass --resume to continue "
                              "that run, or choose another output_dir")
        if dist_utils.is_main_process():
            write_json(self.run_dir / "config.json", self._full_config())

        if distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(
                self.objective, device_ids=ids,
                find_unused_parameters=not getattr(self.objective, "uses_every_parameter", True))
        else:
            self.model = self.objective

        sampler = ResumableSampler(n_items, shuffle=cfg.shuffle, seed=cfg.seed, rank=rank, world_size=world,
                                   drop_last=cfg.drop_last, batch_size=cfg.batch_size)
        loader = self._loader(self.train_data, sampler, cfg.batch_size, drop_last=True)
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16")
        return loader, sampler, callbacks, base_lrs

    def _batches(self, loader: DataLoader, sampler: ResumableSampler) -> Iterator[Any]:
        """Training batches across epochs, forever; ``epoch`` and ``samples_in_epoch`` track the position.

        Each epoch starts where the sampler left off (mid-epoch after a resume); the counters
        advance as batches are drawn, so a checkpoint written after a step records where to go on.
        """
        while True:
            sampler.set_epoch(self.epoch, self.samples_in_epoch)
            drawn = 0
            for batch in loader:
                self.samples_in_epoch += self.config.batch_size
                drawn += 1
                yield batch
            if not drawn and self.samples_in_epoch == 0:
                raise DataError("the training data loader gave no batch in a whole epoch")
            self.epoch += 1
            self.samples_in_epoch = 0

    def _micro_step(self, batch: Any, *, sync: bool) -> LossOutput:
        """Forward and backward of one micro-batch (gradients all-reduced only when ``sync``)."""
        model = self.model
        with model.no_sync() if isinstance(model, DistributedDataParallel) and not sync else contextlib.nullcontext():
            with self._autocast():
                out: LossOutput = model(move_to(batch, self.device))
            if not torch.isfinite(out.loss.detach()).all():
                raise self._diverged(f"loss is {out.loss.item()} at step {self.step}")
            if self._unconfirmed is not None:  # its weights gave a finite loss
                self.good_checkpoint, self._unconfirmed = self._unconfirmed, None
            self.scaler.scale(out.loss / self.config.grad_accum_steps).backward()
        return out

    def _diverged(self, what: str) -> TrainingDiverged:
        """The error for a run that diverged; the checkpoint whose weights diverged is set aside.

        A checkpoint counts as good once a finite loss was computed from its weights. The newest
        one, if it led straight to ``what``, is renamed ``checkpoint-N.diverged`` (kept for a look,
        never resumed from) and ``latest`` points at the last good one again.
        """
        cfg = self.config
        if self._unconfirmed is not None and dist_utils.is_main_process():
            set_aside_checkpoint(self.run_dir, self._unconfirmed, self.good_checkpoint)
        self._unconfirmed = None
        if cfg.max_grad_norm is None:
            fix = "lower train.lr or clip gradients with train.max_grad_norm (e.g. 1.0)"
        else:
            fix = f"lower train.lr (gradients are already clipped to train.max_grad_norm={cfg.max_grad_norm})"
        if self.good_checkpoint is None:
            return TrainingDiverged(f"{what}; last good checkpoint: none yet; {fix}")
        return TrainingDiverged(f"{what}; last good checkpoint: {self.good_checkpoint} ({fix}, then "
                                "--resume continues from it)")

    def _optimizer_step(self, base_lrs: list[float]) -> tuple[float, float | None]:
        """Set the scheduled learning rate, clip, step and zero the gradients: ``(lr, grad norm or None)``."""
        cfg = self.config
        assert self.optimizer is not None
        factor = lr_factor(self.step, schedule=cfg.schedule, max_steps=cfg.max_steps,
                           warmup_steps=cfg.warmup_steps, min_ratio=cfg.min_lr_ratio)
        for g, base in zip(self.optimizer.param_groups, base_lrs):
            g["lr"] = base * factor
        grad_norm = None
        if cfg.max_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.objective.parameters(), cfg.max_grad_norm))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.objective.on_step_end(self.step)
        return base_lrs[0] * factor, grad_norm

    def _logged(self, callbacks: list[Callback], logs: dict[str, float]) -> None:
        """Every callback's ``on_step_end`` with a logged window (main process only)."""
        if dist_utils.is_main_process():
            for cb in callbacks:
                cb.on_step_end(self, self.step, logs)
        self._follow_main_process()

    def _evaluated(self, callbacks: list[Callback], logs: dict[str, float]) -> None:
        """Every callback's ``on_evaluate`` with the evaluation's averages (main process only)."""
        if dist_utils.is_main_process():
            for cb in callbacks:
                cb.on_evaluate(self, self.step, logs)
        self._follow_main_process()

    def _follow_main_process(self) -> None:
        """Give every process the main process's ``should_stop`` and ``max_steps``.

        Callbacks run on rank 0 only, and some steer the run (early stopping, a time budget that
        stops it or re-estimates its schedule's horizon): without this the other ranks would keep
        stepping into collectives rank 0 no longer joins (a hang), or decay the learning rate on
        a different horizon (weights that drift apart).
        """
        if dist_utils.world_size() == 1:
            return
        control = torch.tensor([int(self.should_stop), self.config.max_steps], dtype=torch.int64, device=self.device)
        torch.distributed.broadcast(control, src=0)
        self.should_stop, self.config.max_steps = bool(control[0]), int(control[1])


class _MetricWindow:
    """Loss, metrics and throughput averaged over the micro-batches since the last logged step."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.loss, self.items, self.count = 0.0, 0, 0
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}  # batches that reported each metric (a multi-task step reports its task's)
        self.t0 = time.perf_counter()

    def add(self, out: LossOutput, batch_size: int) -> None:
        self.loss += out.loss.item()
        self.count += 1
        self.items += out.num_items if out.num_items is not None else batch_size
        for k, v in out.metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + _as_float(v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def close(self, *, epoch: int, lr: float, world: int, grad_norm: float | None) -> dict[str, float]:
        """The window's averages as a ``logs`` dict; the window starts afresh."""
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        n = max(self.count, 1)
        logs = {"epoch": epoch, "lr": lr, "loss": self.loss / n, "items_per_s": self.items * world / elapsed,
                **{k: v / self.counts[k] for k, v in self.sums.items()}}
        if grad_norm is not None:
            logs["grad_norm"] = grad_norm
        self.reset()
        return logs


def train(objective: Objective, train_data: Dataset, config: TrainConfig | None = None,
          **kwargs: Any) -> TrainResult:
    """Shortcut: ``Trainer(objective, config or TrainConfig(), train_data, **kwargs).fit()``."""
    return Trainer(objective, config or TrainConfig(), train_data, **kwargs).fit()


__all__ = ["Trainer", "TrainResult", "TrainingDiverged", "train", "move_to"]
