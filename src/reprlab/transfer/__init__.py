"""reprlab.transfer: using a pretrained encoder — frozen features (linear probe, kNN) or fine-tuning.

>>> from reprlab.transfer import extract_features, linear_probe, knn_accuracy, fit_classifier
"""

from reprlab.transfer.evaluate import EvalConfig, EvalMode, evaluate_encoder
from reprlab.transfer.extract import extract_features
from reprlab.transfer.finetune import ClassifierObjective, FinetuneResult, classifier_accuracy, fit_classifier
from reprlab.transfer.layerwise import LayerwiseProbe, layerwise_probe, word_features
from reprlab.transfer.probe import ProbeResult, knn_accuracy, knn_predict, linear_probe, ridge_probe
from reprlab.transfer.subsets import class_balanced_indices, parse_fraction

__all__ = ["EvalConfig", "EvalMode", "evaluate_encoder", "extract_features", "ClassifierObjective", "FinetuneResult", "classifier_accuracy",
           "fit_classifier", "LayerwiseProbe", "layerwise_probe", "word_features", "ProbeResult", "knn_accuracy", "knn_predict", "linear_probe", "ridge_probe",
           "class_balanced_indices", "parse_fraction"]
