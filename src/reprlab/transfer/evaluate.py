"""One entry point for the standard representation evaluations on a labelled image set.

``evaluate_encoder`` runs one protocol on a frozen or fine-tuned encoder with a fraction of the
training labels (class-balanced, fixed by seed — :mod:`reprlab.transfer.subsets`):

* ``linear``: logistic regression on frozen features (:func:`reprlab.transfer.probe.linear_probe`);
* ``knn``: temperature-weighted cosine kNN on frozen features (k = 200, tau = 0.07);
* ``finetune``: encoder + linear head trained end to end through the shared Trainer (the
  pretrained encoder at ``finetune_encoder_lr_scale`` times the head's learning rate); with
  ``baseline=True`` the same network from random initialisation is trained on the same labels,
  steps, batch and augmentation, every parameter at the full rate — SimCLR's semi-supervised
  comparison (Chen et al. 2020, table 7).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from torch import nn

from reprlab.config import check_choices
from reprlab.errors import ConfigError
from reprlab.train import TrainConfig
from reprlab.transfer.extract import extract_features
from reprlab.transfer.finetune import Augment, fit_classifier
from reprlab.transfer.probe import knn_accuracy, linear_probe
from reprlab.transfer.subsets import class_balanced_indices, parse_fraction

log = logging.getLogger(__name__)
EvalMode = Literal["linear", "knn", "finetune"]
MODES: tuple[str, ...] = get_args(EvalMode)


@dataclass
class EvalConfig:
    """How to evaluate an encoder (``reprlab simclr eval``)."""

    mode: EvalMode = "linear"
    labels: str = "100%"  # fraction of training labels, class-balanced: 1%, 10%, 100% or 0.05
    seed: int = 0  # fixes the label subset and the fine-tuning run
    knn_k: int = 200  # neighbours (Wu et al. 2018)
    knn_temperature: float = 0.07
    probe_c: float = 1.0  # inverse L2 strength of the logistic regression
    finetune_steps: int = 300  # optimizer steps, identical for fine-tuning and the baseline
    finetune_batch: int = 128  # capped at the number of labelled examples
    finetune_lr: float = 3e-3  # AdamW peak lr, cosine decay after 10% warmup
    finetune_encoder_lr_scale: float = 1.0  # pretrained encoder's lr relative to the new head's
    baseline: bool = True  # finetune mode: also train the same network from scratch
    device: str = "auto"

    def __post_init__(self) -> None:
        check_choices(self, "eval.")
        parse_fraction(self.labels)
        if self.finetune_steps < 1 or self.finetune_batch < 1:
            raise ConfigError("eval.finetune_steps and eval.finetune_batch must be >= 1")


def finetune_config(cfg: EvalConfig, n_labelled: int, output_dir: Path) -> TrainConfig:
    """The TrainConfig shared by fine-tuning and the from-scratch baseline.

    An evaluation is re-run from scratch: an earlier run directory at ``output_dir`` is replaced.
    """
    if output_dir.is_dir():
        log.info("replacing the earlier evaluation run %s", output_dir)
        shutil.rmtree(output_dir)
    return TrainConfig(output_dir=str(output_dir), max_steps=cfg.finetune_steps,
                       batch_size=min(cfg.finetune_batch, n_labelled), optimizer="adamw",
                       lr=cfg.finetune_lr, weight_decay=1e-4, schedule="cosine",
                       warmup_steps=cfg.finetune_steps // 10, seed=cfg.seed, save_every=None,
                       progress=False, log_every=max(1, cfg.finetune_steps // 10), device=cfg.device)


def evaluate_encoder(encoder: nn.Module, feature_dim: int, train_data: Any, test_data: Any,
                     cfg: EvalConfig, *, output_dir: str | Path,
                     make_encoder: Callable[[], nn.Module] | None = None,
                     augment: Augment | None = None,
                     feature_cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``cfg.mode`` with ``cfg.labels`` of ``train_data``'s labels; return a JSON-ready dict.

    Parameters
    ----------
    encoder: pretrained encoder ``(B, C, H, W) -> (B, feature_dim)``.
    train_data, test_data: :class:`reprlab.data.ArrayDataset` (``.x``, ``.y``, ``.subset``).
    output_dir: where fine-tuning runs write their run directories.
    make_encoder: builds a freshly initialised encoder for the from-scratch baseline.
    augment: train-time augmentation for fine-tuning and the baseline (e.g. crop + flip).
    feature_cache: a dict shared between calls on the same encoder and data, so frozen features
        are extracted once for several linear/kNN evaluations.
    """
    fraction = parse_fraction(cfg.labels)
    idx = class_balanced_indices(train_data.y, fraction, cfg.seed)
    labelled = train_data.subset(idx) if fraction < 1 else train_data
    num_classes = int(max(train_data.y.max(), test_data.y.max())) + 1
    out: dict[str, Any] = {"mode": cfg.mode, "labels": cfg.labels, "n_labelled": len(labelled),
                           "seed": cfg.seed}
    t0 = time.perf_counter()
    if cfg.mode in ("linear", "knn"):
        cache = feature_cache if feature_cache is not None else {}
        for key, data in (("train", train_data), ("test", test_data)):
            if key not in cache:
                cache[key] = extract_features(encoder, data)
        tr_x, tr_y = cache["train"]
        te_x, te_y = cache["test"]
        if fraction < 1:
            tr_x, tr_y = tr_x[idx], tr_y[idx]
        if cfg.mode == "linear":
            out["accuracy"] = linear_probe(tr_x, tr_y, te_x, te_y, C=cfg.probe_c).accuracy
        else:
            out["accuracy"] = knn_accuracy(tr_x, tr_y, te_x, te_y, k=cfg.knn_k,
                                           temperature=cfg.knn_temperature).accuracy
    else:
        output_dir = Path(output_dir)
        tag = cfg.labels.replace("%", "pct")
        train_cfg = finetune_config(cfg, len(labelled), output_dir / f"finetune-{tag}-seed{cfg.seed}")
        res = fit_classifier(encoder, feature_dim, num_classes, labelled, test_data, train_cfg, augment=augment,
                             encoder_lr_scale=cfg.finetune_encoder_lr_scale)
        out["accuracy"] = res.accuracy
        out["steps"] = res.steps
        if cfg.baseline:
            if make_encoder is None:
                raise ConfigError("finetune baseline needs make_encoder (a fresh encoder factory)")
            torch.manual_seed(cfg.seed)
            base_cfg = finetune_config(cfg, len(labelled), output_dir / f"supervised-{tag}-seed{cfg.seed}")
            base = fit_classifier(make_encoder(), feature_dim, num_classes, labelled, test_data, base_cfg,
                                  augment=augment, copy_encoder=False)
            out["supervised_accuracy"] = base.accuracy
    out["seconds"] = round(time.perf_counter() - t0, 1)
    log.info("eval %s", out)
    return out


__all__ = ["EvalConfig", "EvalMode", "MODES", "evaluate_encoder", "finetune_config"]
