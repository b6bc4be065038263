"""reprlab.transfer: using a pretrained encoder — frozen features (probes, kNN) or fine-tuning.

Images and text share the routes: :func:`extract_features` / :func:`linear_probe` / :func:`fit_classifier`
for image encoders, and for text :class:`TextModel` (any reprlab run or HF directory,
:func:`load_text_model`), :class:`TextTaskModel` (sequence / pair classification, tagging,
multiple choice; pooling and layer choice), :func:`fit_text_task` with ``mode="features"`` or
``"finetune"``, long documents (:class:`LongText`) and sentence embeddings (:meth:`TextModel.encode`).

>>> from reprlab.transfer import extract_features, linear_probe, knn_accuracy, fit_classifier
>>> from reprlab.transfer import load_text_model, TextTransferConfig, fit_text_task
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reprlab._lazy import lazy_exports

if TYPE_CHECKING:
    from reprlab.transfer.embeddings import encode, knn_search
    from reprlab.transfer.evaluate import EvalConfig, EvalMode, evaluate_encoder
    from reprlab.transfer.extract import extract_features
    from reprlab.transfer.finetune import ClassifierObjective, FinetuneResult, classifier_accuracy, fit_classifier
    from reprlab.transfer.layerwise import LayerwiseProbe, layerwise_probe, word_features
    from reprlab.transfer.long_text import LongText
    from reprlab.transfer.probe import ProbeResult, knn_accuracy, knn_predict, linear_probe, ridge_probe
    from reprlab.transfer.subsets import class_balanced_indices, parse_fraction
    from reprlab.transfer.text_inputs import TextWindows, align_word_labels
    from reprlab.transfer.text_model import TextModel, load_text_model, random_text_model
    from reprlab.transfer.text_runs import (
        TextTransferConfig,
        export_hf,
        fit_text_task,
        load_finetuned,
        predict_file,
        run_finetune,
    )
    from reprlab.transfer.text_tasks import ScalarMix, TextTaskModel

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "embeddings": ("encode", "knn_search"),
    "evaluate": ("EvalConfig", "EvalMode", "evaluate_encoder"),
    "extract": ("extract_features",),
    "finetune": ("ClassifierObjective", "FinetuneResult", "classifier_accuracy", "fit_classifier"),
    "layerwise": ("LayerwiseProbe", "layerwise_probe", "word_features"),
    "long_text": ("LongText",),
    "probe": ("ProbeResult", "knn_accuracy", "knn_predict", "linear_probe", "ridge_probe"),
    "subsets": ("class_balanced_indices", "parse_fraction"),
    "text_inputs": ("TextWindows", "align_word_labels"),
    "text_model": ("TextModel", "load_text_model", "random_text_model"),
    "text_runs": ("TextTransferConfig", "export_hf", "fit_text_task", "load_finetuned", "predict_file", "run_finetune"),
    "text_tasks": ("ScalarMix", "TextTaskModel"),
})
