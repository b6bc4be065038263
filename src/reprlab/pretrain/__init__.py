"""reprlab.pretrain: corpus shards, BERT/RoBERTa/ALBERT instances and masking, GPT-style causal and
XLNet permutation LMs, pretraining runs.

>>> from reprlab.pretrain import prepare_shards, PrepareConfig, run_pretrain, PretrainRunConfig
>>> from reprlab.pretrain import load_pretrained, mask_tokens   # doctest: +SKIP
>>> model = load_pretrained("runs/roberta")                    # doctest: +SKIP
>>> model.encoder, model.heads["mlm"], model.tokenizer         # doctest: +SKIP

See docs/pretrain.md.

Names are imported lazily (PEP 562) so that ``reprlab --help`` and the tokenizer worker processes
of ``prepare`` do not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    # corpus
    "NAMED_CORPORA": "corpus", "iter_corpus": "corpus", "write_corpus_text": "corpus",
    # shards
    "PrepareConfig": "shards", "PrepareResult": "shards", "prepare_shards": "shards", "ShardSet": "shards",
    "ShardWriter": "shards", "EncodedDocument": "shards", "encode_document": "shards", "vocab_hash": "shards",
    "special_token_ids": "shards",
    # instances
    "InstanceConfig": "instances", "Instances": "instances", "BUILDERS": "instances",
    "build_instances": "instances", "nsp_instances": "instances", "sop_instances": "instances",
    "full_sentences": "instances", "doc_sentences": "instances", "group_by_tokens": "instances",
    "instance_lengths": "instances",
    # batches
    "Layout": "batches", "PretrainBatch": "batches", "InstanceDataset": "batches", "Collator": "batches",
    "collate": "batches",
    # masking
    "MaskingConfig": "masking", "mask_tokens": "masking", "keyed_uniform": "masking",
    "combine_keys": "masking", "non_special_ids": "masking",
    # knowledge masking (ERNIE 1.0) and SpanBERT spans
    "SpanConfig": "knowledge", "LexiconMatcher": "knowledge", "read_lexicon": "knowledge",
    "parse_lexicon": "knowledge", "collocations": "knowledge", "SpanDetector": "knowledge",
    "SpanEncoder": "knowledge", "prepare_knowledge_shards": "knowledge", "has_spans": "knowledge",
    "knowledge_groups": "knowledge_masking", "span_groups": "knowledge_masking", "stage_unit": "knowledge_masking",
    "masking_groups": "knowledge_masking",
    # objectives
    "PretrainModelConfig": "objectives", "PretrainingObjective": "objectives",
    "BertForPretraining": "objectives", "RobertaForPretraining": "objectives",
    "AlbertForPretraining": "objectives", "ObjectiveSpec": "objectives", "OBJECTIVES": "objectives",
    "register_objective": "objectives", "get_objective": "objectives",
    # evaluate
    "evaluate_pretraining": "evaluate", "evaluate_masked_lm": "evaluate", "unigram_counts": "evaluate",
    # pretrained
    "PretrainedModel": "pretrained", "load_pretrained": "pretrained", "fill_mask": "pretrained",
    "to_hf": "pretrained", "write_hf_tokenizer": "pretrained",
    # autoregressive objectives: causal LM (GPT) and permutation LM (XLNet)
    "CausalLMObjective": "causal", "evaluate_causal": "causal", "causal_layout": "causal",
    "end_of_text_id": "causal", "PermutationLMObjective": "xlnet", "evaluate_permutation": "xlnet",
    "PermutationMasks": "permutation", "permutation_masks": "permutation", "sample_orders": "permutation",
    "check_order": "permutation", "to_hf_masks": "permutation", "from_hf_masks": "permutation",
    "evaluate_tokens": "evaluate", "GenerateConfig": "generate", "generate_text": "generate",
    # runs
    "PretrainRunConfig": "runs", "PretrainResult": "runs", "run_pretrain": "runs",
    "PretrainEvalConfig": "runs", "run_eval": "runs",
}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'reprlab.pretrain' has no attribute {name!r}")
    return getattr(importlib.import_module(f"reprlab.pretrain.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
