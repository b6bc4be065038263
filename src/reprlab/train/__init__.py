"""Shared training machinery: one Trainer for every model, optimizers, schedules, checkpoints.

>>> from reprlab.train import Trainer, TrainConfig, Objective, LossOutput
"""

from reprlab.train.callbacks import Callback, JSONLLogger, KeepBest, LambdaCallback, ProgressBar, read_metrics
from reprlab.train.config import TrainConfig
from reprlab.train.distributed import (
    GlobalBatchNorm,
    all_gather_with_grad,
    all_reduce_with_grad,
    convert_global_batchnorm,
    gather_batch,
    is_main_process,
    resolve_device,
)
from reprlab.train.objective import LossOutput, Objective, batch_inputs
from reprlab.train.optim import LAMB, LARS, build_optimizer, param_groups
from reprlab.train.schedule import lr_factor
from reprlab.train.seed import seed_everything
from reprlab.train.threads import torch_threads
from reprlab.train.trainer import Trainer, TrainingDiverged, TrainResult, move_to, train

__all__ = [
    "Callback", "JSONLLogger", "KeepBest", "LambdaCallback", "ProgressBar", "TrainConfig", "LossOutput",
    "Objective", "batch_inputs", "LAMB", "LARS", "build_optimizer", "param_groups", "lr_factor", "seed_everything",
    "Trainer", "TrainingDiverged", "TrainResult", "train", "all_gather_with_grad",
    "is_main_process", "resolve_device", "move_to", "torch_threads", "read_metrics", "GlobalBatchNorm",
    "all_reduce_with_grad", "convert_global_batchnorm", "gather_batch",
]
