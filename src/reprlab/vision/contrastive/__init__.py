"""Contrastive learning of image representations: SimCLR (Chen et al. 2020).

Batched seeded augmentations, ResNet/small-CNN backbones, the projection head and NT-Xent; the
runs behind ``reprlab simclr train|eval|report`` are in :mod:`reprlab.vision.contrastive.runs`.
See docs/simclr.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprlab._lazy import lazy_exports

if TYPE_CHECKING:
    from reprlab.vision.contrastive.augment import AugmentConfig, SimCLRAugment, TwoViews
    from reprlab.vision.contrastive.backbones import (
        ResNet,
        SmallCNN,
        build_backbone,
        resnet18,
        resnet34,
        resnet50,
        small_cnn,
    )
    from reprlab.vision.contrastive.losses import NTXentLoss, nt_xent
    from reprlab.vision.contrastive.runs import (
        SimCLRReport,
        SimCLRReportConfig,
        SimCLRResult,
        SimCLRRunConfig,
        evaluate_run,
        run_simclr,
        run_simclr_report,
    )
    from reprlab.vision.contrastive.simclr import ProjectionHead, SimCLRConfig, SimCLRObjective

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "augment": ("AugmentConfig", "SimCLRAugment", "TwoViews"),
    "backbones": ("ResNet", "SmallCNN", "build_backbone", "resnet18", "resnet34", "resnet50", "small_cnn"),
    "losses": ("NTXentLoss", "nt_xent"),
    "runs": ("SimCLRReport", "SimCLRReportConfig", "SimCLRResult", "SimCLRRunConfig", "evaluate_run", "run_simclr", "run_simclr_report"),
    "simclr": ("ProjectionHead", "SimCLRConfig", "SimCLRObjective"),
})
