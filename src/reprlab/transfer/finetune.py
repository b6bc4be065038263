"""Fine-tuning: an encoder plus a linear task head trained end to end on labelled data.

The second transfer route (the first is feature extraction, :mod:`reprlab.transfer.extract`): the
pretrained encoder keeps learning together with a new classification head. With a randomly
initialised encoder the same objective is the *supervised-from-scratch* baseline, which is how
SimCLR (Chen et al. 2020, section 6, table 7) shows what pretraining buys when only 1% or 10% of
the labels are known.

:class:`ClassifierObjective` is a :class:`reprlab.train.Objective`, so fine-tuning runs through the
shared Trainer (optimiser, schedule, checkpoints). :func:`fit_classifier` wires it up and reports
test accuracy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reprlab.data import ArrayDataset
from reprlab.errors import DataError
from reprlab.train import LossOutput, Objective, TrainConfig, Trainer, param_groups
from reprlab.transfer.extract import extract_features

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class ClassifierObjective(Objective):
    """Cross-entropy of ``head(encoder(x))``; optional train-time augmentation and frozen encoder.

    Parameters
    ----------
    encoder: module ``(B, ...) -> (B, feature_dim)``.
    feature_dim: width of the encoder output.
    num_classes: classes of the linear head.
    augment: ``augment(x, generator) -> x'`` applied to training batches only (e.g. crop + flip).
    freeze_encoder: train the head alone on frozen features (a linear probe by SGD).
    seed: seeds the augmentation generator together with the step.
    encoder_lr: learning rate of the encoder's parameters (None: the optimizer's lr, like the
        head). Fine-tuning a pretrained encoder usually wants a smaller one than the fresh head.
    """

    def __init__(self, encoder: nn.Module, feature_dim: int, num_classes: int, *,
                 augment: Augment | None = None, freeze_encoder: bool = False, seed: int = 0,
                 encoder_lr: float | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(feature_dim, num_classes)
        self.augment = augment
        self.freeze_encoder = freeze_encoder
        self.seed = seed
        self.encoder_lr = encoder_lr
        self.aug_step: torch.Tensor  # optimizer steps taken, saved with the weights (same views on resume)
        self.register_buffer("aug_step", torch.zeros((), dtype=torch.long))
        if freeze_encoder:
            for p in self.encoder.parameters():
                p.requires_grad_(False)
        self.config = {"feature_dim": feature_dim, "num_classes": num_classes,
                       "freeze_encoder": freeze_encoder, "encoder": type(encoder).__name__}

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]] | None:
        """Default decay/no-decay split, with the encoder's groups at ``encoder_lr`` if given."""
        if self.encoder_lr is None:
            return None
        groups = []
        for module, lr in ((self.encoder, self.encoder_lr), (self.head, None)):
            for g in param_groups(module, weight_decay):
                if g["params"]:
                    groups.append(g if lr is None else {**g, "lr": lr})
        return groups

    def train(self, mode: bool = True) -> ClassifierObjective:
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()  # frozen BN statistics as well as weights
        return self

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))  # (B, num_classes)

    def forward(self, batch: Any) -> LossOutput:
        x, y = batch[0], batch[1]
        if self.training and self.augment is not None:
            gen = torch.Generator(device=x.device).manual_seed(self.seed * 1_000_003 + int(self.aug_step))
            x = self.augment(x, gen)
        logits = self.logits(x)
        loss = F.cross_entropy(logits, y)
        return LossOutput(loss, {"acc": (logits.argmax(1) == y).float().mean()}, num_items=len(y))

    def on_step_end(self, step: int) -> None:
        self.aug_step.fill_(step)


@torch.no_grad()
def classifier_accuracy(objective: ClassifierObjective, data: ArrayDataset, batch_size: int = 512) -> float:
    """Top-1 accuracy of ``objective`` on a dataset with ``.x``/``.y`` (eval mode, no augmentation)."""
    x, y = data.x, data.y
    was_training = objective.training
    objective.eval()
    device = next(objective.parameters()).device
    try:
        preds = torch.cat([objective.logits(x[i:i + batch_size].to(device)).argmax(1).cpu()
                           for i in range(0, len(x), batch_size)])
    finally:
        objective.train(was_training)
    return float((preds == y).float().mean())


@dataclass
class FinetuneResult:
    accuracy: float
    n_train: int
    steps: int
    objective: ClassifierObjective


def fit_classifier(encoder: nn.Module, feature_dim: int, num_classes: int, train_data: ArrayDataset,
                   test_data: ArrayDataset, config: TrainConfig, *, augment: Augment | None = None,
                   freeze_encoder: bool = False, copy_encoder: bool = True,
                   encoder_lr_scale: float = 1.0) -> FinetuneResult:
    """Train encoder + head with the shared Trainer on ``train_data``; return test accuracy.

    ``copy_encoder`` trains a deep copy so the caller's pretrained encoder is left untouched (one
    pretrained encoder, several label fractions). ``encoder_lr_scale`` multiplies the encoder's
    learning rate relative to the head's (``config.lr``).
    """
    if len(train_data) < config.batch_size:
        raise DataError(f"fit_classifier: {len(train_data)} labelled examples, fewer than one batch "
                        f"of {config.batch_size}; lower train.batch_size")
    enc = copy.deepcopy(encoder) if copy_encoder else encoder
    objective = ClassifierObjective(enc, feature_dim, num_classes, augment=augment,
                                    freeze_encoder=freeze_encoder, seed=config.seed,
                                    encoder_lr=None if encoder_lr_scale == 1.0 else config.lr * encoder_lr_scale)
    result = Trainer(objective, config, train_data).fit()
    return FinetuneResult(classifier_accuracy(objective, test_data), len(train_data),
                          result.step, objective)


__all__ = ["ClassifierObjective", "classifier_accuracy", "fit_classifier", "FinetuneResult",
           "extract_features"]
