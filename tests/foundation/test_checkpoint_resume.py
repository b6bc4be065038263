"""Atomic checkpoints, bit-identical resume after SIGKILL, and refusal of bad checkpoints."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from reprlab.errors import CheckpointError, ReprlabError
from reprlab.io import atomic_write
from reprlab.train import TrainConfig, Trainer
from reprlab.train.checkpoint import latest_checkpoint, load_module, load_tensors
from tests.foundation.toy import ToyConfig, ToyRegression, make_model, toy_data

SCRIPT = Path(__file__).with_name("run_toy.py")


def run_toy(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env)


def fit(tmp_path: Path, name: str, callbacks=(), **overrides) -> Trainer:
    cfg = TrainConfig(output_dir=str(tmp_path / name), max_steps=12, batch_size=8, lr=1e-2,
                      save_every=4, progress=False, log_every=1, **overrides)
    trainer = Trainer(make_model(), cfg, toy_data(), callbacks=list(callbacks))
    trainer.fit()
    return trainer


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert run_toy(str(full), "22").returncode == 0
    r = run_toy(str(killed), "22", "--kill-at", "10")
    assert r.returncode == -9, r.stderr
    assert latest_checkpoint(killed).name == "checkpoint-000008"
    assert not (killed / "model.safetensors").exists()
    assert not [p for p in killed.iterdir() if p.name.startswith(".")]  # no temp files left behind
    r = run_toy(str(killed), "22", "--resume")
    assert r.returncode == 0, r.stderr
    a, b = load_file(full / "model.safetensors"), load_file(killed / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # bit-identical on CPU, dropout included
    rows = [json.loads(line) for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 23))  # rows logged after step 8 were replaced
    full_rows = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss"] for r in rows] == [r["loss"] for r in full_rows]


class _Crash(Exception):
    pass


def test_resume_with_grad_accumulation_and_lars(tmp_path):
    """In-process variant (an exception stands in for the kill): accumulation + LARS + bf16 autocast."""
    from reprlab.train import LambdaCallback

    def config(name, resume=False):
        return TrainConfig(output_dir=str(tmp_path / name), max_steps=10, batch_size=4, grad_accum_steps=3,
                           optimizer="lars", lr=0.5, schedule="cosine", warmup_steps=2, save_every=3,
                           progress=False, precision="bf16", resume=resume, log_every=1)

    def crash(trainer, step, logs):
        if step == 7:
            raise _Crash

    Trainer(make_model(), config("full"), toy_data()).fit()
    with pytest.raises(_Crash):
        Trainer(make_model(), config("killed"), toy_data(), callbacks=[LambdaCallback(on_step_end=crash)]).fit()
    assert latest_checkpoint(tmp_path / "killed").name == "checkpoint-000006"
    Trainer(make_model(seed=5), config("killed", resume=True), toy_data()).fit()
    a, b = load_file(tmp_path / "full" / "model.safetensors"), load_file(tmp_path / "killed" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_before_the_first_checkpoint_drops_the_rows_the_crashed_run_logged(tmp_path):
    """A run killed before its first checkpoint restarts from step 0: metrics.jsonl logs each step once."""
    from reprlab.train import LambdaCallback

    def crash(trainer, step, logs):
        if step == 3:
            raise _Crash

    with pytest.raises(_Crash):
        fit(tmp_path, "run", callbacks=[LambdaCallback(on_step_end=crash)])
    assert latest_checkpoint(tmp_path / "run") is None
    fit(tmp_path, "run", resume=True)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 13))


def test_run_directory_layout_and_loss_decreases(tmp_path):
    trainer = fit(tmp_path, "run")
    run = tmp_path / "run"
    ckpt = latest_checkpoint(run)
    assert sorted(p.name for p in ckpt.iterdir()) == ["config.json", "model.safetensors",
                                                      "optimizer.safetensors", "trainer_state.json"]
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["step"] == 12 and state["optimizer"]["param_groups"][0]["lr"] > 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == {"class": "ToyConfig", "dim": 6, "hidden": 16, "dropout": 0.1}
    assert len([p for p in run.iterdir() if p.name.startswith("checkpoint-")]) == 2  # keep_checkpoints
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    before = Trainer(make_model(), trainer.config, toy_data()).evaluate(toy_data())["eval_loss"]
    assert trainer.evaluate(toy_data())["eval_loss"] < 0.8 * before
    assert {"lr", "loss", "mae", "items_per_s", "grad_norm", "epoch"} <= rows[0].keys()
    fresh = make_model(seed=1)
    load_module(fresh, run / "model.safetensors")
    for p, q in zip(fresh.parameters(), trainer.objective.parameters()):
        assert torch.equal(p, q)


def test_existing_run_needs_resume_flag(tmp_path):
    fit(tmp_path, "run")
    with pytest.raises(ReprlabError, match="already holds checkpoints; pass --resume"):
        fit(tmp_path, "run")


def test_resume_refuses_other_config(tmp_path):
    fit(tmp_path, "run")
    cfg = TrainConfig(output_dir=str(tmp_path / "run"), max_steps=16, batch_size=8, progress=False,
                      resume=True)
    other = ToyRegression(ToyConfig(hidden=32))
    with pytest.raises(CheckpointError, match=r"another model configuration: hidden \(checkpoint 16, now 32\)"):
        Trainer(other, cfg, toy_data()).fit()


def test_truncated_and_corrupt_checkpoints_are_named(tmp_path):
    fit(tmp_path, "run")
    ckpt = latest_checkpoint(tmp_path / "run")
    weights = ckpt / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:100])
    cfg = TrainConfig(output_dir=str(tmp_path / "run"), max_steps=16, batch_size=8, progress=False, resume=True)
    with pytest.raises(CheckpointError, match=r"model.safetensors: (corrupt or truncated|checksum mismatch) .* delete"):
        Trainer(make_model(), cfg, toy_data()).fit()
    state = (ckpt / "trainer_state.json").read_text()
    (ckpt / "trainer_state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"trainer_state.json: corrupt JSON"):
        Trainer(make_model(), cfg, toy_data()).fit()
    (ckpt / "trainer_state.json").write_text(state)  # state, then checksums, then config.json: restore the first two
    weights.write_bytes(good)
    (ckpt / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"config.json: missing; the checkpoint is incomplete"):
        Trainer(make_model(), cfg, toy_data()).fit()


def test_pickle_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="pickle/torch.save file; reprlab never unpickles"):
        load_tensors(path)
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_module(torch.nn.Linear(2, 1), path)


def test_mismatched_weights_are_named(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"weight": torch.zeros(3, 2), "bias": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match=r"weights do not fit this model"):
        load_module(torch.nn.Linear(2, 1), path)
    save_file({"weight": torch.zeros(1, 2)}, path)
    with pytest.raises(CheckpointError, match=r"missing tensors \['bias'\]"):
        load_module(torch.nn.Linear(2, 1), path)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write("partial")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_nan_loss_names_step_and_checkpoint(tmp_path):
    from reprlab.train import LossOutput, Objective, TrainingDiverged

    class Exploding(Objective):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))
            self.calls = 0

        def forward(self, batch):
            self.calls += 1
            return LossOutput(self.w.sum() * (float("nan") if self.calls > 1 else 1.0))

    cfg = TrainConfig(output_dir=str(tmp_path / "nan"), max_steps=5, batch_size=8, progress=False)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 1; last good checkpoint: none yet"):
        Trainer(Exploding(), cfg, toy_data()).fit()


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    from reprlab.io import atomic_dir, atomic_path

    mask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.txt") as f:
            f.write("x")
        with atomic_path(tmp_path / "b.bin") as p:
            p.write_bytes(b"x")
        with atomic_dir(tmp_path / "c") as d:
            (d / "f").write_text("x")
    finally:
        os.umask(mask)
    assert oct((tmp_path / "a.txt").stat().st_mode & 0o777) == oct(0o644)
    assert oct((tmp_path / "b.bin").stat().st_mode & 0o777) == oct(0o644)
    assert oct((tmp_path / "c").stat().st_mode & 0o777) == oct(0o755)


OBJECTIVE_SCRIPT = Path(__file__).with_name("run_objective.py")
# every objective a CLI command trains (imax/contrastive: `reprlab imax`, agreement, cpc, simclr, ae, vae, rbm)
CLI_OBJECTIVES = ["imax", "contrastive", "cpc", "agreement", "simclr", "autoencoder", "vae", "rbm"]


def _run_objective(names: list[str], out: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(OBJECTIVE_SCRIPT), ",".join(names), str(out), "16", "--save-every",
                           "3", "--noise", "0.2", *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_sigkill_at_a_random_moment_then_resume_is_bit_identical_for_every_cli_objective(tmp_path):
    """For each objective: a run SIGKILLed at a random moment of its training, then ``--resume``d,
    ends with the uninterrupted run's weights bit for bit and the same logged losses, no temporaries.

    One kill per process, so each killed run is its own process; the uninterrupted runs share one
    process and so do the resumes (start-up is most of a 16-step run's cost). The kill moment is
    drawn within the training itself (timed from ``on_train_begin``, after the optimizer is built),
    reproducibly per objective: mid-step, mid-checkpoint or mid-final-save.
    """
    import random

    full, killed = tmp_path / "full", tmp_path / "killed"
    r = _run_objective(CLI_OBJECTIVES, full)
    assert r.returncode == 0, r.stderr[-2000:]
    for name in CLI_OBJECTIVES:
        when = random.Random(name).uniform(0.1, 0.9) * float((full / name / "seconds").read_text())
        r = _run_objective([name], killed, "--kill-after", f"{when:.3f}")
        assert r.returncode in (0, -9), (name, r.stderr[-2000:])
    r = _run_objective(CLI_OBJECTIVES, killed, "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    failures = {}
    for name in CLI_OBJECTIVES:
        a, b = load_file(full / name / "model.safetensors"), load_file(killed / name / "model.safetensors")
        rows = [json.loads(line) for line in (killed / name / "metrics.jsonl").read_text().splitlines()]
        full_rows = [json.loads(line) for line in (full / name / "metrics.jsonl").read_text().splitlines()]
        checks = {"same tensors": a.keys() == b.keys(),
                  "bit-identical weights": a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a),
                  "steps 1-16 logged once": [r["step"] for r in rows] == list(range(1, 17)),
                  "same losses": [r["loss"] for r in rows] == [r["loss"] for r in full_rows],
                  "no temporaries": not [p.name for p in (killed / name).iterdir() if p.name.startswith(".")]}
        if not all(checks.values()):
            failures[name] = [k for k, ok in checks.items() if not ok]
    assert not failures, failures
