"""reprlab.pretrain: corpus shards, BERT/RoBERTa/ALBERT instances and masking, GPT-style causal and
XLNet permutation LMs, ERNIE knowledge masking and multi-task pretraining, pretraining runs.

>>> from reprlab.pretrain import prepare_shards, PrepareConfig, run_pretrain, PretrainRunConfig
>>> from reprlab.pretrain import load_pretrained, mask_tokens   # doctest: +SKIP
>>> model = load_pretrained("runs/roberta")                    # doctest: +SKIP
>>> model.encoder, model.heads["mlm"], model.tokenizer         # doctest: +SKIP

See docs/pretrain.md and docs/ernie.md.

Names are imported lazily (PEP 562) so that ``reprlab --help`` and the tokenizer worker processes
of ``prepare`` do not import torch.
"""

from __future__ import annotations

from reprlab._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "corpus": ("NAMED_CORPORA", "iter_corpus", "write_corpus_text"),
    "shards": (
        "PrepareConfig", "PrepareResult", "prepare_shards", "ShardSet", "ShardWriter", "EncodedDocument",
        "encode_document", "vocab_hash", "special_token_ids",
    ),
    "instances": (
        "InstanceConfig", "Instances", "BUILDERS", "build_instances", "nsp_instances", "sop_instances",
        "full_sentences", "doc_sentences", "group_by_tokens", "instance_lengths",
    ),
    "batches": ("Layout", "PretrainBatch", "InstanceDataset", "Collator", "collate"),
    "masking": ("MaskingConfig", "mask_tokens", "keyed_uniform", "combine_keys", "non_special_ids"),
    "knowledge": (
        "SpanConfig", "LexiconMatcher", "read_lexicon", "parse_lexicon", "collocations", "SpanDetector",
        "SpanEncoder", "prepare_knowledge_shards", "has_spans",
    ),
    "knowledge_masking": ("knowledge_groups", "span_groups", "stage_unit", "masking_groups"),
    "auxiliary": (
        "AuxiliaryConfig", "capitalization_flags", "token_document_labels", "ReorderInstances", "reorder_instances",
        "permutation_class", "class_permutation", "num_permutation_classes", "distance_pairs",
    ),
    "multitask": (
        "MultiTaskModelConfig", "MultiTaskObjective", "MultiTaskBatch", "TokenTaskDataset", "ReorderDataset",
        "task_datasets", "evaluate_multitask", "evaluate_task", "spread_rows",
    ),
    "continual": (
        "Stage", "load_stages", "check_stages", "TaskSchedule", "sequential_stages", "all_at_once_stages",
        "continual_stages",
    ),
    "ernie_experiment": ("ErnieExperimentConfig", "run_ernie_experiment"),
    "objectives": (
        "PretrainModelConfig", "PretrainingObjective", "BertForPretraining", "RobertaForPretraining",
        "AlbertForPretraining", "ObjectiveSpec", "OBJECTIVES", "register_objective", "get_objective",
    ),
    "evaluate": ("evaluate_pretraining", "evaluate_masked_lm", "unigram_counts", "evaluate_tokens"),
    "pretrained": ("PretrainedModel", "load_pretrained", "fill_mask", "to_hf", "write_hf_tokenizer"),
    "causal": ("CausalLMObjective", "evaluate_causal", "causal_layout", "end_of_text_id"),
    "xlnet": ("PermutationLMObjective", "evaluate_permutation"),
    "permutation": (
        "PermutationMasks", "permutation_masks", "sample_orders", "check_order", "to_hf_masks", "from_hf_masks",
    ),
    "generate": ("GenerateConfig", "generate_text"),
    "runs": ("PretrainRunConfig", "PretrainResult", "run_pretrain", "PretrainEvalConfig", "run_eval"),
})
