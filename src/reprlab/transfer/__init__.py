"""reprlab.transfer: using a pretrained encoder — frozen features (linear probe, kNN) or fine-tuning.

>>> from reprlab.transfer import extract_features, linear_probe, knn_accuracy, fit_classifier
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprlab._lazy import lazy_exports

if TYPE_CHECKING:
    from reprlab.transfer.evaluate import EvalConfig, EvalMode, evaluate_encoder
    from reprlab.transfer.extract import extract_features
    from reprlab.transfer.finetune import ClassifierObjective, FinetuneResult, classifier_accuracy, fit_classifier
    from reprlab.transfer.layerwise import LayerwiseProbe, layerwise_probe, word_features
    from reprlab.transfer.probe import ProbeResult, knn_accuracy, knn_predict, linear_probe, ridge_probe
    from reprlab.transfer.subsets import class_balanced_indices, parse_fraction

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "evaluate": ("EvalConfig", "EvalMode", "evaluate_encoder"),
    "extract": ("extract_features",),
    "finetune": ("ClassifierObjective", "FinetuneResult", "classifier_accuracy", "fit_classifier"),
    "layerwise": ("LayerwiseProbe", "layerwise_probe", "word_features"),
    "probe": ("ProbeResult", "knn_accuracy", "knn_predict", "linear_probe", "ridge_probe"),
    "subsets": ("class_balanced_indices", "parse_fraction"),
})
