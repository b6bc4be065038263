"""A tiny BERT really learns on the bundled KJV sample: held-out MLM beats both baselines, NSP beats chance."""

from __future__ import annotations

import dataclasses

import pytest

from reprlab.pretrain import load_pretrained
from reprlab.pretrain.evaluate import evaluate_pretraining
from reprlab.pretrain.instances import InstanceConfig
from reprlab.pretrain.masking import MaskingConfig
from reprlab.pretrain.runs import PretrainRunConfig, layout_pad, pretraining_data, run_pretrain
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
@pytest.mark.xfail(strict=False, reason=(
    "open (issue 15): after 400 steps bert-tiny predicts 'random next' for every held-out pair "
    "(balanced accuracy exactly 0.5 on seeds 0-4); NSP alone for 1,000 steps at lr 3e-4..3e-3 stays at the "
    "label prior (loss 0.67-0.68), and so does HF BertForPreTraining on the same batches (0.68 at 1,000 "
    "steps), while a logistic regression on overlap/length features gets 70%: see docs/pretrain.md, NSP and SOP"))
def test_next_sentence_prediction_beats_chance_on_both_labels(tmp_path, sample_shards):
    """Balanced NSP accuracy (mean per-label recall) over five held-out chunkings is well above 0.5.

    BERT's builder is not 50/50: a one-segment chunk always takes a random next, and a document
    that draws a short target length (probability ``short_seq_prob``) is all one-segment chunks.
    The held-out split is 9 chapters, so one such chapter makes a 68/32 set (seed 0: 65 of its
    184 instances are forced random); plain accuracy against the majority class was a coin toss
    over 184 rows. Balanced accuracy is 0.5 for every constant prediction, and five seeds of the
    held-out builder (about 900 rows) keep its noise near 0.02. ``dupe_factor=5`` (BERT: 10) gives
    7k distinct training pairs instead of 1.5k seen nine times each.
    """
    cfg = quick_recipe(sample_shards, tmp_path / "bert", "bert", 400)
    cfg.instances = dataclasses.replace(cfg.instances, dupe_factor=5)
    run_pretrain(cfg)
    objective = load_pretrained(cfg.train.output_dir).objective
    held_out = ShardSet(sample_shards, "valid")
    evs = [evaluate_pretraining(objective, pretraining_data(held_out, "nsp", cfg.instances, seed=seed, batch_size=32,
                                                            evaluation=True)[0], pad_id=layout_pad(held_out.special_ids))
           for seed in range(5)]
    balanced = sum(ev["nsp_balanced_acc"] for ev in evs) / len(evs)
    summary = [(round(ev["nsp_acc"], 3), round(ev["nsp_balanced_acc"], 3), round(ev["nsp_label_1_rate"], 3))
               for ev in evs]
    assert balanced > 0.56, (balanced, summary)
