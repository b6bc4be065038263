"""reprlab pretrain run --objective causal|xlnet and reprlab generate, end to end on the KJV sample."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from reprlab.cli.main import main
from reprlab.errors import ConfigError
from reprlab.pretrain.batches import Collator
from reprlab.pretrain.causal import causal_layout
from reprlab.pretrain.instances import InstanceConfig
from reprlab.pretrain.pretrained import load_pretrained, to_hf
from reprlab.pretrain.runs import PretrainRunConfig, pretraining_data, run_pretrain
from reprlab.pretrain.shards import ShardSet
from reprlab.text import generate
from reprlab.train import TrainConfig

from .test_pretrain_runs import QUICK, assert_same, cli, weights


def config(shards: Path, out: Path, objective: str, steps: int = 6, **train) -> PretrainRunConfig:
    return PretrainRunConfig(shards=str(shards), objective=objective, model="tiny", instances=InstanceConfig(max_length=32),
                             train=TrainConfig(output_dir=str(out), max_steps=steps, batch_size=8, warmup_steps=2,
                                               progress=False, save_every=None, eval_every=None, **train))


def test_causal_blocks_are_packed_text_joined_by_end_of_text(small_shards):
    shards = ShardSet(small_shards, "train")
    special = shards.special_ids
    layout = causal_layout(special)
    data, _ = pretraining_data(shards, "full-sentences", InstanceConfig(max_length=32), seed=0, batch_size=8,
                               layout=layout)
    batch = Collator(layout.pad)([data[i] for i in range(len(data))])
    eot = special["sep"]  # a WordPiece vocabulary: [SEP] is the end-of-text token
    assert (batch.input_ids[:, 0] == eot).all()  # every block starts with end-of-text
    assert special["cls"] not in batch.input_ids.tolist()[0]  # no [CLS]
    full = batch.attention_mask.sum(1)
    assert (full[:-1] == 31).all()  # 30 text tokens + the leading end-of-text: no padding but the last block
    stream = torch.cat([torch.as_tensor(data[i]["input_ids"][1:]) for i in range(len(data))])
    tokens = torch.as_tensor(shards.read("tokens", 0, shards.num_tokens).astype("int64"))
    assert torch.equal(stream[stream != eot], tokens)  # every token exactly once, in corpus order
    assert 0 < int((stream == eot).sum()) <= shards.num_documents - 1  # between documents inside a block


@pytest.mark.parametrize("objective, prefix", [("causal", "lm"), ("xlnet", "plm")])
def test_autoregressive_runs_are_deterministic_and_evaluated(tmp_path, small_shards, objective, prefix):
    a = run_pretrain(config(small_shards, tmp_path / "a", objective))
    run_pretrain(config(small_shards, tmp_path / "b", objective))
    assert_same(weights(tmp_path / "a"), weights(tmp_path / "b"))
    ev = a.evaluation
    assert {f"{prefix}_loss", f"{prefix}_ppl", f"{prefix}_acc", "unigram_loss"} <= ev.keys()
    assert ev[f"{prefix}_ppl"] == pytest.approx(2.718281828 ** ev[f"{prefix}_loss"], rel=1e-6)
    model = load_pretrained(tmp_path / "a")
    assert model.config.objective == objective
    again = main(["pretrain", "eval", str(tmp_path / "a")])
    assert again == 0


def test_causal_run_generates_and_exports_as_gpt2(tmp_path, small_shards, capsys):
    transformers = pytest.importorskip("transformers")
    run_pretrain(config(small_shards, tmp_path / "gpt", "causal", steps=4))
    model = load_pretrained(tmp_path / "gpt")
    out = to_hf(model, tmp_path / "hf")
    hf = transformers.GPT2LMHeadModel.from_pretrained(out).eval()
    ids = torch.randint(0, model.config.encoder.vocab_size, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(hf(ids).logits, model.objective.lm(ids), atol=1e-4)
    assert main(["generate", str(tmp_path / "gpt"), "in the beginning", "-n", "12", "--temperature", "0"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("in the beginning") and len(printed.strip()) > len("in the beginning")
    # the CLI's text is the greedy continuation of the library call
    tok = model.tokenizer
    eot = model.tokenizer.vocab["[SEP]"]
    prompt = [eot] + tok.encode("in the beginning", add_special_tokens=False).ids
    ids = generate(model.objective.lm, [prompt], 12, temperature=0, eos_id=eot).as_lists()[0]
    ids = [i for i in ids if i != eot]
    expected = tok.decode(prompt[1:] + ids)[len(tok.decode(prompt[1:])):]
    assert printed.rstrip("\n") == "in the beginning" + expected


def test_generate_refuses_a_masked_lm_run_and_xlnet_has_no_hf_export(tmp_path, small_shards, capsys):
    run_pretrain(config(small_shards, tmp_path / "mlm", "roberta", steps=2))
    assert main(["generate", str(tmp_path / "mlm"), "and god said"]) == 2
    assert "cannot generate" in capsys.readouterr().err
    run_pretrain(config(small_shards, tmp_path / "plm", "xlnet", steps=2))
    with pytest.raises(ConfigError, match="relative positions"):
        to_hf(load_pretrained(tmp_path / "plm"), tmp_path / "x")
    assert main(["generate", str(tmp_path / "plm"), "x", "-n", "500"]) == 2


def test_prompt_longer_than_the_positions_is_refused(tmp_path, small_shards, capsys):
    run_pretrain(config(small_shards, tmp_path / "gpt", "causal", steps=2))
    assert main(["generate", str(tmp_path / "gpt"), "and god said " * 60, "-n", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shorten the prompt" in err
    assert main(["generate", str(tmp_path / "gpt"), "x", "--top-p", "1.5"]) == 2
    assert "top_p" in capsys.readouterr().err


def test_xlnet_sigkill_then_resume_draws_the_same_orders(tmp_path, small_shards):
    """The keyed orders follow the saved step: a resumed XLNet run equals the uninterrupted one bit for bit."""
    args = ["pretrain", "run", "--objective", "xlnet", "--shards", str(small_shards), *QUICK,
            "--set", "train.max_steps=10", "--set", "train.save_every=2"]
    full = cli(*args, "-o", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr[-2000:]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "reprlab.cli.main", *args, "-o", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 240
    while not (killed / "latest").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(random.Random().uniform(0.0, 0.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -9, "the run finished before it could be killed; give it more steps"
    resumed = cli(*args, "-o", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same(weights(tmp_path / "full"), weights(killed))


def test_orders_put_special_tokens_first_and_predict_a_sixth(small_shards):
    from reprlab.pretrain.objectives import PretrainModelConfig
    from reprlab.pretrain.xlnet import PermutationLMObjective
    from reprlab.text import EncoderConfig

    shards = ShardSet(small_shards, "train")
    data, _ = pretraining_data(shards, "full-sentences", InstanceConfig(max_length=32), seed=0, batch_size=8)
    batch = Collator(shards.special_ids["pad"])([data[i] for i in range(8)])
    obj = PermutationLMObjective(PretrainModelConfig(encoder=EncoderConfig.preset("tiny", vocab_size=1000),
                                                     objective="xlnet"))
    obj.train()
    m = obj.masks(batch)
    special = batch.special_tokens_mask
    assert not (m.targets & special).any()
    text = (~special).sum(1)
    assert torch.equal(m.targets.sum(1), (text.float() / 6).round().long().clamp(min=1))
    for b in range(8):  # specials are context: every target sees them
        seen = m.query[b][m.targets[b]]  # (P, T)
        assert seen[:, special[b]].all()
    first = obj.masks(batch).query
    assert torch.equal(obj.masks(batch).query, first)  # a step's orders are a function of (seed, instance, step)
    obj.on_step_end(1)
    assert not torch.equal(obj.masks(batch).query, first)  # the next step draws new orders
    obj.eval()
    assert torch.equal(obj.masks(batch).targets, obj.masks(batch).targets)  # evaluation orders are fixed
