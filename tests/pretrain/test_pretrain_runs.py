"""reprlab pretrain run/eval/fill/export end to end: determinism, SIGKILL + resume, DDP, bad input."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from reprlab.cli.main import main
from reprlab.errors import ConfigError
from reprlab.pretrain.evaluate import evaluate_masked_lm
from reprlab.pretrain.instances import InstanceConfig
from reprlab.pretrain.pretrained import fill_mask, load_pretrained
from reprlab.pretrain.runs import PretrainRunConfig, run_pretrain
from reprlab.train import TrainConfig
from tests.launch import torchrun

QUICK = ["--model", "tiny", "--set", "instances.max_length=32", "--set", "train.batch_size=8",
         "--set", "train.progress=false", "--set", "train.log_every=1", "--set", "train.warmup_steps=2"]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "reprlab.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


def assert_same(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if atol:
            torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0, msg=k)
        else:
            assert torch.equal(a[k], b[k]), k


def quick_config(shards: Path, out: Path, objective: str = "roberta", seed: int = 0, steps: int = 6) -> PretrainRunConfig:
    return PretrainRunConfig(shards=str(shards), objective=objective, model="tiny", instances=InstanceConfig(max_length=32),
                             train=TrainConfig(output_dir=str(out), max_steps=steps, batch_size=8, warmup_steps=2,
                                               progress=False, save_every=None, eval_every=None, seed=seed))


def test_two_identical_runs_give_identical_weights(tmp_path, small_shards):
    results = [run_pretrain(quick_config(small_shards, tmp_path / name, "bert")) for name in ("a", "b")]
    assert_same(weights(tmp_path / "a"), weights(tmp_path / "b"))
    run_pretrain(quick_config(small_shards, tmp_path / "c", "bert", seed=1))
    assert not torch.equal(weights(tmp_path / "a")["encoder.embeddings.token.weight"],
                           weights(tmp_path / "c")["encoder.embeddings.token.weight"])
    ev = results[0].evaluation
    assert {"mlm_loss", "mlm_ppl", "mlm_acc", "nsp_acc", "nsp_balanced_acc", "unigram_loss",
            "most_frequent_acc"} <= ev.keys()
    assert json.loads((tmp_path / "a" / "evaluation.json").read_text())["mlm_loss"] == ev["mlm_loss"]


def test_load_pretrained_eval_and_fill(tmp_path, sample_shards, capsys):
    run = tmp_path / "run"
    run_pretrain(quick_config(sample_shards, run, "albert"))
    model = load_pretrained(run)
    assert set(model.heads) == {"mlm", "sop"} and model.encoder.config.sharing == "all"
    saved = weights(run)  # shared ALBERT layers are stored once
    assert_same({k: v for k, v in model.objective.state_dict().items() if k in saved}, saved)
    completions, filled = fill_mask(model, "in the beginning god created the [MASK] and the earth", top_k=3)
    assert len(completions) == 1 and len(completions[0].tokens) == 3
    assert abs(sum(completions[0].probabilities) - 1) < 1 and filled.startswith("in the beginning god created the")
    assert main(["pretrain", "eval", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    final = json.loads((run / "evaluation.json").read_text())
    assert out["mlm_loss"] == pytest.approx(final["mlm_loss"], abs=1e-9) and "sop_acc" in out
    assert main(["pretrain", "fill", str(run), "god said [MASK] there be light", "-k", "2"]) == 0
    assert "position" in capsys.readouterr().out


def test_sigkill_at_a_random_moment_then_resume_is_bit_identical(tmp_path, small_shards):
    """Dynamic masking, dropout and the data position mid-epoch all continue exactly."""
    args = ["pretrain", "run", "--shards", str(small_shards), *QUICK, "--set", "train.max_steps=16",
            "--set", "train.save_every=2", "--set", "instances.max_length=64", "--set", "train.batch_size=16"]
    # Both runs in fresh processes with one thread: an in-process run inherits whatever state earlier
    # tests of the worker left (bit-identity then failed by 1 ulp in the full suite, never alone).
    full = cli(*args, "-o", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr[-2000:]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "reprlab.cli.main", *args, "-o", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    # the kill lands within training whatever the machine's speed: after a random logged step (a
    # checkpoint every 2 steps, so before or after a save), plus a random fraction of a step
    target, metrics, deadline = random.Random().randint(2, 13), killed / "metrics.jsonl", time.time() + 240
    while proc.poll() is None and time.time() < deadline and \
            (not metrics.exists() or metrics.read_text().count("\n") < target):
        time.sleep(0.005)
    time.sleep(random.Random().uniform(0.0, 0.02))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -9, "the run finished before it could be killed; give it more steps"
    assert not (killed / "model.safetensors").exists()
    resumed = cli(*args, "-o", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same(weights(tmp_path / "full"), weights(killed))
    rows = [json.loads(line) for line in (killed / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert [r["step"] for r in train_rows] == list(range(1, 17))  # an epoch is 11 steps: it ended mid-run
    assert max(r["epoch"] for r in train_rows) == 1


@pytest.mark.distributed
def test_two_processes_equal_one_process(tmp_path, small_shards):
    """BERT (MLM + NSP) with dynamic masks: 2 gloo processes of batch 4 == 1 process of batch 8."""
    common = ["pretrain", "run", "--objective", "bert", "--shards", str(small_shards), *QUICK,
              "--set", "train.max_steps=6", "--set", "masking.mode='dynamic'",
              "--set", "model_overrides={hidden_dropout = 0.0, attention_dropout = 0.0}"]
    one = cli(*common, "--set", "train.batch_size=8", "-o", str(tmp_path / "one"))  # a fresh process, as torchrun's
    assert one.returncode == 0, one.stderr[-2000:]
    two = torchrun(["-m", "reprlab.cli.main", *common, "--set", "train.batch_size=4", "-o", str(tmp_path / "two")],
                   timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    assert_same(weights(tmp_path / "one"), weights(tmp_path / "two"), atol=2e-6)


def test_bad_input_is_one_line_exit_2(tmp_path, sample_shards, sample_tokenizer, capsys):
    base = ["pretrain", "run", "--shards", str(sample_shards), *QUICK, "-o", str(tmp_path / "r")]
    cases = [
        (["--set", "instances.max_length=4"], "instances.max_length=4: must be >= 8"),
        (["--set", "instances.max_length=4096"], "instances.max_length=4096 exceeds the model's 128 positions"),
        (["--objective", "gpt9"], "objective='gpt9': choose one of albert, bert, causal, ernie, roberta, xlnet"),
        (["--set", "masking.mlm_probability=2.0"], "masking.mlm_probability=2.0: must be in"),
        (["--set", "model_overrides={hidden_size = 30}"], "not divisible by num_heads"),
        (["--set", "instances.packing='nope'"], "instances.packing='nope': choose one of"),
    ]
    for extra, message in cases:
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert main(["pretrain", "run", "--shards", str(tmp_path / "none"), "-o", str(tmp_path / "r2")]) == 2
    assert "no such shard directory" in capsys.readouterr().err
    # a run evaluated on shards of another vocabulary
    run = tmp_path / "run"
    run_pretrain(quick_config(sample_shards, run, steps=2))
    from reprlab.tokenizers import train_wordpiece
    other_tok = train_wordpiece(["a b c d e f g"] * 20, 60).save_pretrained(tmp_path / "other_tok")
    (tmp_path / "c.txt").write_text("a b c\nd e f\n\ng a b\nc d\n")
    assert main(["pretrain", "prepare", str(tmp_path / "c.txt"), "--tokenizer", str(other_tok), "-o",
                 str(tmp_path / "other"), "--valid-fraction", "0", "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["pretrain", "eval", str(run), "--shards", str(tmp_path / "other"), "--split", "train"]) == 2
    err = capsys.readouterr().err
    assert "made with vocabulary" in err and "prepare the shards with that model's tokenizer" in err
    assert main(["pretrain", "fill", str(run), "no mask here"]) == 2
    assert "no [MASK] in" in capsys.readouterr().err


def test_corpus_command_and_demo(tmp_path, capsys):
    import math
    import re

    assert main(["pretrain", "corpus", "kjv-sample", "-o", str(tmp_path / "kjv.txt")]) == 0
    assert "84 documents, 2,557 sentences" in capsys.readouterr().out
    text = (tmp_path / "kjv.txt").read_text()
    assert text.count("\n\n") == 83 and text.startswith("In the beginning God created the heaven and the earth.\n")
    from reprlab.pretrain.runs import run_demo

    line = run_demo(tmp_path / "demo", steps=40)
    loss = float(re.search(r"loss ([0-9.]+) \(unigram", line).group(1))
    assert loss < math.log(2000)  # better than a uniform guess over the 2,000-token vocabulary
    assert line.count(" -> ") == 2


def test_balanced_sentence_accuracy_is_one_half_for_any_constant_prediction():
    labels = torch.tensor([1] * 68 + [0] * 32)  # a 68/32 held-out set, as BERT's builder gives on 9 chapters
    vocab = 5
    targets = torch.full((100, 1), 2)

    def batches():
        for lo in range(0, 100, 30):  # uneven batches: the metric is pooled over rows, not batch means
            yield SimpleNamespace(sentence_labels=labels[lo:lo + 30]), targets[lo:lo + 30], targets[lo:lo + 30]

    def run(pair_logits):
        return evaluate_masked_lm(lambda b, ids, pos: (torch.zeros(int(pos.sum()), vocab),
                                                       pair_logits(b.sentence_labels)), batches())

    always_random = run(lambda y: torch.tensor([[0.0, 1.0]]).expand(len(y), 2))
    assert always_random["pair_acc"] == pytest.approx(0.68) and always_random["pair_balanced_acc"] == 0.5
    assert always_random["pair_rows"] == 100 and always_random["pair_label_1_rate"] == pytest.approx(0.68)
    assert run(lambda y: torch.tensor([[1.0, 0.0]]).expand(len(y), 2))["pair_balanced_acc"] == 0.5
    perfect = run(lambda y: torch.nn.functional.one_hot(y, 2).float())
    assert perfect["pair_acc"] == 1.0 and perfect["pair_balanced_acc"] == 1.0
    # right on every label-0 row and on half of the label-1 rows: recalls 1 and 0.5
    half = run(lambda y: torch.nn.functional.one_hot(y * (torch.arange(len(y)) % 2), 2).float())
    assert half["pair_balanced_acc"] == pytest.approx(0.75)


def test_accuracy_on_replaced_pieces_leaves_out_the_kept_ones():
    """80/10/10 keeps 10% of the selected pieces unchanged; ``*_replaced`` scores only the others."""
    import numpy as np

    targets = torch.tensor([[2, 3, 2, 3, 2]] * 4)
    ids = targets.clone()
    ids[:, 1:] = 4  # [MASK] everywhere but the first column, which is kept as it is
    # the model copies its input where it can and otherwise predicts token 2
    predict = lambda b, x, pos: (torch.nn.functional.one_hot(torch.where(x == 4, 2, x)[pos], 5).float(), None)  # noqa: E731
    unigram = np.array([1, 1, 10, 5, 1])  # token 2 is the most frequent
    ev = evaluate_masked_lm(predict, [(SimpleNamespace(), ids, targets)], unigram=unigram)
    assert ev["kept_fraction"] == pytest.approx(0.2) and ev["masked_tokens"] == 20
    assert ev["mlm_acc"] == pytest.approx(12 / 20) and ev["mlm_acc_replaced"] == pytest.approx(8 / 16)
    assert ev["most_frequent_acc"] == pytest.approx(12 / 20) and ev["most_frequent_acc_replaced"] == pytest.approx(8 / 16)


def test_budget_schedule_ends_the_linear_decay_when_the_time_budget_ends(monkeypatch):
    """Cramming's budget schedule: the horizon is step + remaining time / mean step time, capped."""
    from reprlab.pretrain import runs
    from reprlab.train.schedule import lr_factor

    clock = [100.0]
    monkeypatch.setattr(runs.time, "perf_counter", lambda: clock[0])
    trainer = SimpleNamespace(step=0, config=TrainConfig(max_steps=1000, warmup_steps=2), should_stop=False)
    budget = runs.TimeBudget(10.0, schedule=True)
    budget.on_train_begin(trainer)
    horizons = []
    for step, seconds_per_step in enumerate([0.5, 0.5, 1.0, 1.0, 1.0, 1.0], start=1):
        clock[0] += seconds_per_step
        budget.on_step_end(trainer, step, {})
        horizons.append(trainer.config.max_steps)
    # after 2 steps of 0.5 s: 9 s left at 0.5 s/step -> 18 more; after 6 steps (5 s, 0.833 s/step): 6 more
    assert horizons[1] == 2 + 18 and horizons[-1] == 6 + 6 and not trainer.should_stop
    assert lr_factor(12, schedule="linear", max_steps=12, warmup_steps=2) == 0.0
    clock[0] += 5.0  # the budget is spent: stop, whatever the horizon
    budget.on_step_end(trainer, 7, {})
    assert trainer.should_stop
    capped = SimpleNamespace(step=0, config=TrainConfig(max_steps=5), should_stop=False)
    budget = runs.TimeBudget(10.0, schedule=True)
    budget.on_train_begin(capped)
    clock[0] += 0.1
    budget.on_step_end(capped, 1, {})
    assert capped.config.max_steps == 5  # never beyond train.max_steps
    fixed = SimpleNamespace(step=0, config=TrainConfig(max_steps=50), should_stop=False)
    budget = runs.TimeBudget(10.0)
    budget.on_train_begin(fixed)
    clock[0] += 1.0
    budget.on_step_end(fixed, 1, {})
    assert fixed.config.max_steps == 50  # without schedule=True the horizon is left alone
    with pytest.raises(ConfigError, match="set time_budget"):
        run_pretrain(PretrainRunConfig(shards="unused", budget_schedule=True))
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="torchrun"):
        run_pretrain(PretrainRunConfig(shards="unused", budget_schedule=True, time_budget=60))
