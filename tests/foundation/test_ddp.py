"""Two gloo processes under torchrun reach the same weights as one process with the same global batch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.launch import run_group, torchrun

SCRIPT = Path(__file__).with_name("run_toy.py")


@pytest.mark.distributed
def test_two_process_ddp_equals_single_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "one"), "8", "--batch", "8",
                             "--no-dropout"], capture_output=True, text=True, env=env)
    assert single.returncode == 0, single.stderr
    ddp = torchrun([str(SCRIPT), str(tmp_path / "two"), "8", "--batch", "4", "--no-dropout"], timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)
    # rank 0 alone wrote the run directory
    assert (tmp_path / "two" / "metrics.jsonl").read_text().count("\n") == 8


@pytest.mark.distributed
def test_a_run_steered_by_a_rank_0_callback_stops_and_decays_alike_on_every_rank(tmp_path):
    """A time budget runs on rank 0 only; it shortens the schedule at step 2 and stops at step 5."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    steer = ["--steer", "2", "5", "--no-dropout"]
    single = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "one"), "12", "--batch", "8", *steer],
                            capture_output=True, text=True, env=env)
    assert single.returncode == 0, single.stderr
    # without the hand-over the other rank hangs: the timeout kills every rank, not only torchrun
    ddp = torchrun([str(SCRIPT), str(tmp_path / "two"), "12", "--batch", "4", *steer], timeout=120)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert (tmp_path / "two" / "metrics.jsonl").read_text().count("\n") == 5
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)


OBJECTIVE_SCRIPT = Path(__file__).with_name("run_objective.py")
# every objective whose loss reduces over the batch (variances, in-batch negatives, BatchNorm)
BATCH_OBJECTIVES = ["imax", "imax-gaussian", "contrastive", "cpc", "agreement", "simclr", "autoencoder"]


def _train_objectives(names: list[str], out: Path, world: int, steps: int = 8, global_batch: int = 16):
    """Weights of each objective trained by ``world`` processes: one launch trains them all in turn."""
    args = [str(OBJECTIVE_SCRIPT), ",".join(names), str(out), str(steps), "--batch", str(global_batch // world)]
    if world == 1:
        r = run_group([sys.executable, *args], timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    else:
        r = torchrun(args, nproc=world, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return {name: load_file(out / name / "model.safetensors") for name in names}


@pytest.mark.slow
@pytest.mark.distributed
def test_two_processes_equal_one_for_batch_statistic_objectives(tmp_path):
    """Every objective of BATCH_OBJECTIVES: 2 processes of 8 items each reach the weights of 1 process of 16 within 1e-6.

    One launch per world size trains all of them in turn (seeded alike), so the test pays the
    start-up of 1 + 2 processes once instead of once per objective.
    """
    one = _train_objectives(BATCH_OBJECTIVES, tmp_path / "one", 1)
    two = _train_objectives(BATCH_OBJECTIVES, tmp_path / "two", 2)
    worst = {}
    for name in BATCH_OBJECTIVES:
        assert one[name].keys() == two[name].keys(), name
        worst[name] = max(float((one[name][k].double() - two[name][k].double()).abs().max()) for k in one[name])
    assert all(w < 1e-6 for w in worst.values()), f"max |2 processes - 1 process| per objective: {worst}"


@pytest.mark.slow
@pytest.mark.distributed
def test_under_torchrun_only_rank_0_prints_and_writes(tmp_path):
    out = tmp_path / "imax"
    r = torchrun(["-m", "reprlab.cli.main", "imax", "train", "-o", str(out), "--set", "n_train=256", "--set", "n_test=64",
                  "--set", "train.max_steps=4", "--set", "train.batch_size=32", "--set", "train.log_every=1"], timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("stereograms (pair): |r| =") == 1, r.stdout
    assert (out / "model.safetensors").is_file() and (out / "metrics.jsonl").read_text().count("\n") == 4
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
