"""A tiny BERT really learns on the bundled KJV sample: held-out MLM beats both baselines, NSP beats chance."""

from __future__ import annotations

import pytest

from reprlab.pretrain.instances import InstanceConfig
from reprlab.pretrain.masking import MaskingConfig
from reprlab.pretrain.runs import PretrainRunConfig, pretraining_data, run_pretrain
from reprlab.pretrain.shards import ShardSet
from reprlab.train import TrainConfig


def quick_recipe(shards, out, objective: str, steps: int) -> PretrainRunConfig:
    return PretrainRunConfig(
        shards=str(shards), objective=objective, model="bert-tiny", instances=InstanceConfig(max_length=64),
        model_overrides={"hidden_dropout": 0.0, "attention_dropout": 0.0}, masking=MaskingConfig(mlm_probability=0.25),
        train=TrainConfig(output_dir=str(out), max_steps=steps, batch_size=32, lr=2e-3, schedule="linear",
                          warmup_steps=30, progress=False, save_every=None, eval_every=None))


@pytest.mark.slow
def test_masked_lm_beats_the_unigram_and_most_frequent_baselines(tmp_path, sample_shards):
    ev = run_pretrain(quick_recipe(sample_shards, tmp_path / "roberta", "roberta", 400)).evaluation
    assert ev["mlm_loss"] < ev["unigram_loss"] - 0.3, ev
    assert ev["mlm_acc"] > 1.5 * ev["most_frequent_acc"], ev


@pytest.mark.slow
def test_next_sentence_prediction_beats_the_majority_class(tmp_path, sample_shards):
    cfg = quick_recipe(sample_shards, tmp_path / "bert", "bert", 400)
    ev = run_pretrain(cfg).evaluation
    valid, _ = pretraining_data(ShardSet(sample_shards, "valid"), "nsp", cfg.instances, seed=0, batch_size=32,
                                evaluation=True)
    rate = float(valid.instances.label.mean())
    assert ev["nsp_acc"] > max(rate, 1 - rate) + 0.05, (ev, rate)
