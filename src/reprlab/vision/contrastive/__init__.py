"""Contrastive learning of image representations: SimCLR (Chen et al. 2020).

Batched seeded augmentations, ResNet/small-CNN backbones, the projection head and NT-Xent; the
runs behind ``reprlab simclr train|eval|report`` are in :mod:`reprlab.vision.contrastive.runs`.
See docs/simclr.md.
"""

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

__all__ = [
    "AugmentConfig", "SimCLRAugment", "TwoViews", "build_backbone", "ResNet", "SmallCNN", "resnet18",
    "resnet34", "resnet50", "small_cnn", "nt_xent", "NTXentLoss", "ProjectionHead", "SimCLRConfig",
    "SimCLRObjective", "SimCLRRunConfig", "SimCLRResult", "run_simclr", "evaluate_run", "SimCLRReportConfig",
    "SimCLRReport", "run_simclr_report",
]
