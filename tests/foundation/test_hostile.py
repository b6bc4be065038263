"""The foundation under a hostile user (issue 13): odd headers, flipped bytes, bad configs, full disks."""

import dataclasses
import json
import pickle
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from reprlab.config import load_config
from reprlab.errors import CheckpointError, ConfigError
from reprlab.train import TrainConfig, Trainer
from reprlab.train.checkpoint import latest_checkpoint, load_tensors, refuse_pickle
from tests.foundation.toy import ToyConfig, ToyRegression, make_model, toy_data


@dataclass
class RunConfig:
    train: TrainConfig = field(default_factory=TrainConfig)


def _safetensors_with_header_length(n: int) -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}, separators=(",", ":"))
    header += " " * (n - len(header))
    return struct.pack("<Q", n) + header.encode() + torch.arange(3, dtype=torch.float32).numpy().tobytes()


def test_safetensors_of_every_header_length_residue_load(tmp_path):
    # the header length's low byte is the file's first byte: 0x80 (128) looked like a pickle
    path = tmp_path / "w.safetensors"
    for n in range(256, 512):
        path.write_bytes(_safetensors_with_header_length(n))
        refuse_pickle(path)
        assert torch.equal(load_tensors(path)["w"], torch.arange(3.0)), n
        assert torch.equal(load_file(path)["w"], torch.arange(3.0))


@pytest.mark.parametrize("kind", ["zip", "legacy", "pickle2", "pickle5"])
def test_pickles_and_torch_archives_are_refused(tmp_path, kind):
    path = tmp_path / "model.safetensors"
    obj = {"w": torch.zeros(2)}
    if kind == "zip":
        torch.save(obj, path)
    elif kind == "legacy":
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps({"w": [0.0, 0.0]}, protocol=int(kind[-1])))
    with pytest.raises(CheckpointError, match="pickle/torch.save file; reprlab never unpickles"):
        load_tensors(path)


def test_garbage_starting_like_a_pickle_is_called_corrupt(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x80\x04" + b"\x00" * 40)  # protocol opcode, no STOP: not a pickle
    with pytest.raises(CheckpointError, match="corrupt or truncated safetensors"):
        load_tensors(path)


# ------------------------------------------------------------------ 2: identical commands, identical weights
_COMMANDS = {
    "autoencoder": ["autoencoder", "train", "--data", "digits", "--set", "model.input_dim=64",
                    "--set", "model.hidden=[16]", "--set", "model.code_dim=4"],
    "vae": ["vae", "train", "--data", "digits", "--set", "model.hidden=[16]", "--set", "model.latent_dim=2",
            "--set", "iwae_k=2", "--set", "eval_limit=20"],
    "simclr": ["simclr", "train", "--data", "digits", "--set", "model.width=4", "--set", "model.proj_hidden=8",
               "--set", "model.proj_dim=4", "--set", "train.batch_size=16", "--set", "train.progress=false"],
}


@pytest.mark.parametrize("command", sorted(_COMMANDS))
def test_two_identical_commands_give_identical_weights(tmp_path, command):
    from reprlab.cli.main import main

    weights = []
    for i, name in enumerate(("a", "b")):
        torch.manual_seed(1000 + i)  # a fresh process starts from a random torch seed
        out = tmp_path / name
        assert main([*_COMMANDS[command], "-o", str(out), "--set", "train.max_steps=2"]) == 0
        weights.append(load_file(out / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    for k in weights[0]:
        assert torch.equal(weights[0][k], weights[1][k]), k


# ------------------------------------------------------------------ 7: flag values are values, not TOML source
@pytest.mark.parametrize("path", ["runs/a\\b", "runs/it's \"quoted\"", "runs/ünï cödé/\\n"])
def test_output_device_and_data_flags_keep_their_exact_text(path):
    import argparse

    from reprlab.cli.common import config_from_args
    from reprlab.vision.generative.runs import AutoencoderRunConfig

    args = argparse.Namespace(config=None, overrides=[], data=path + "/data", device="cpu", output=path,
                              resume=False)
    cfg = config_from_args(AutoencoderRunConfig, args)
    assert cfg.train.output_dir == str(Path(path))
    assert cfg.data.name == path + "/data"


# ------------------------------------------------------------------ 6: a table given a value is not dropped
def test_toml_value_for_a_table_is_an_error_naming_file_and_key(tmp_path, capsys):
    from reprlab.cli.main import main

    toml = tmp_path / "run.toml"
    toml.write_text("train = 5\n")
    assert main(["autoencoder", "train", "--config", str(toml), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{toml}: train=5: train is a table of fields" in err and err.count("\n") == 1
    assert main(["autoencoder", "train", "--set", "train=5", "--device", "cpu", "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--set: train=5: train is a table of fields" in err and "device" not in err


# ------------------------------------------------------------------ 4: the last good checkpoint is good
class _ExplodesAfterStep3(ToyRegression):
    def on_step_end(self, step):
        if step == 3:
            with torch.no_grad():
                for p in self.parameters():
                    p.mul_(1e30)  # finite, but the next loss is not


@pytest.mark.parametrize("clip", [1.0, None])
def test_divergence_names_a_checkpoint_whose_weights_gave_a_finite_loss(tmp_path, clip):
    from reprlab.train import TrainingDiverged

    run = tmp_path / "run"
    cfg = TrainConfig(output_dir=str(run), max_steps=10, batch_size=8, optimizer="sgd", lr=1e-2, save_every=1,
                      progress=False, max_grad_norm=clip)
    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged) as e:
        Trainer(_ExplodesAfterStep3(ToyConfig(dropout=0.0)), cfg, toy_data()).fit()
    msg = str(e.value)
    assert f" at step 3; last good checkpoint: {run / 'checkpoint-000002'}" in msg
    assert ("already clipped to train.max_grad_norm=1.0" if clip else "clip gradients with train.max_grad_norm") in msg
    assert latest_checkpoint(run).name == "checkpoint-000002"
    assert (run / "checkpoint-000003.diverged").is_dir()  # set aside, never resumed from
    assert max(float(t.abs().max()) for t in load_file(run / "checkpoint-000002" / "model.safetensors").values()) < 10


def test_lr_1e30_never_names_the_exploded_checkpoint(tmp_path):
    from reprlab.train import TrainingDiverged

    run = tmp_path / "run"
    cfg = TrainConfig(output_dir=str(run), max_steps=10, batch_size=8, optimizer="sgd", lr=1e30, save_every=1,
                      progress=False)
    with pytest.raises(TrainingDiverged, match=r"at step 1; last good checkpoint: none yet; lower train.lr \("):
        Trainer(make_model(dropout=0.0), cfg, toy_data()).fit()
    assert latest_checkpoint(run) is None  # --resume starts afresh instead of diverging at once


@pytest.mark.parametrize("setting,match", [
    ("train.lr=nan", "train.lr=nan: expected a finite number"),
    ("train.lr=inf", "train.lr=inf: expected a finite number"),
    ("train.max_grad_norm=nan", "train.max_grad_norm=nan: expected a finite number"),
    ("train.betas=[0.9, nan]", r"train.betas\[1\]=nan: expected a finite number"),
    ("train.num_workers=-1", "train.num_workers=-1: must be >= 0"),
])
def test_non_finite_and_negative_settings_are_config_errors(setting, match):
    with pytest.raises(ConfigError, match=match):
        load_config(RunConfig, None, [setting], dataclasses.asdict(RunConfig()))


def test_non_finite_settings_from_python_are_refused():
    for kwargs in ({"lr": float("nan")}, {"max_grad_norm": float("inf")}, {"momentum": float("nan")}):
        with pytest.raises(ConfigError, match="must be a finite number"):
            TrainConfig(**kwargs)


# ------------------------------------------------------------------ 5: one line, exit 2, never a traceback
_TINY_AE = ["autoencoder", "train", "--data", "digits", "--set", "model.input_dim=64", "--set", "model.hidden=[8]",
            "--set", "model.code_dim=2", "--set", "train.max_steps=2"]


def _one_line_error(capsys, *fragments):
    err = capsys.readouterr().err
    assert err.startswith("reprlab: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and ".tmp" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_full_disk_is_one_line_naming_the_target(tmp_path, monkeypatch, capsys):
    import errno
    import os

    from reprlab.cli.main import main

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("reprlab.io.os.fsync", full)
    assert main([*_TINY_AE, "-o", str(tmp_path / "run")]) == 2
    _one_line_error(capsys, f"{tmp_path / 'run' / 'config.json'}: cannot write", "the disk is full")


def test_read_only_output_directory_is_one_line(tmp_path, monkeypatch, capsys):
    import errno
    import os

    from reprlab.cli.main import main

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    assert main([*_TINY_AE, "-o", str(tmp_path / "run")]) == 2
    _one_line_error(capsys, str(tmp_path / "run"), "read-only: choose a writable output directory")


def test_config_given_a_directory_is_one_line(tmp_path, capsys):
    from reprlab.cli.main import main

    assert main([*_TINY_AE, "--config", str(tmp_path), "-o", str(tmp_path / "run")]) == 2
    _one_line_error(capsys, f"{tmp_path}: is a directory; --config takes a TOML file")


def _fit(tmp_path, max_steps=8, **kw):
    cfg = TrainConfig(output_dir=str(tmp_path / "run"), max_steps=max_steps, batch_size=8, lr=1e-2, save_every=4,
                      progress=False, log_every=1, **kw)
    return Trainer(make_model(), cfg, toy_data()).fit()


@pytest.mark.parametrize("edit,match", [
    (lambda s: {k: v for k, v in s.items() if k != "rng"}, "field 'rng' is missing, expected a list of RNG states"),
    (lambda s: [s], "expected a JSON object, found a list"),
    (lambda s: {**s, "step": "8"}, "field 'step' is '8', expected an integer >= 0"),
    (lambda s: {**s, "optimizer": []}, "field 'optimizer' is [], expected an object"),
])
def test_trainer_state_of_the_wrong_shape_is_named(tmp_path, edit, match):
    _fit(tmp_path)
    ckpt = latest_checkpoint(tmp_path / "run")
    path = ckpt / "trainer_state.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    with pytest.raises(CheckpointError, match=re.escape(match)):
        _fit(tmp_path, 12, resume=True)


def test_checkpoint_config_that_is_a_list_is_named(tmp_path):
    _fit(tmp_path)
    ckpt = latest_checkpoint(tmp_path / "run")
    state = json.loads((ckpt / "trainer_state.json").read_text())
    state.pop("sha256")  # as a checkpoint written before checksums
    (ckpt / "trainer_state.json").write_text(json.dumps(state))
    (ckpt / "config.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="config.json: expected a JSON object, found a list"):
        _fit(tmp_path, 12, resume=True)


def test_torn_last_metrics_line_is_dropped_on_resume(tmp_path):
    _fit(tmp_path)
    metrics = tmp_path / "run" / "metrics.jsonl"
    with open(metrics, "a") as f:
        f.write('{"step": 9, "lo')  # a full disk's torn write
    _fit(tmp_path, 12, resume=True)
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 13))


def test_corrupt_simclr_json_is_one_line(tmp_path, capsys):
    from reprlab.cli.main import main

    (tmp_path / "simclr.json").write_text('{"model": {"backbone": ')
    assert main(["simclr", "eval", str(tmp_path)]) == 2
    _one_line_error(capsys, "simclr.json: corrupt JSON")
    (tmp_path / "simclr.json").write_text('["not", "a", "config"]')
    assert main(["simclr", "eval", str(tmp_path)]) == 2
    _one_line_error(capsys, "simclr.json: expected a JSON object, found a list")


def test_object_npy_for_tsne_is_one_line(tmp_path, capsys):
    import numpy as np

    from reprlab.cli.main import main

    np.save(tmp_path / "x.npy", np.array([[1, "a"], [2, None]], dtype=object), allow_pickle=True)
    assert main(["tsne", str(tmp_path / "x.npy"), "-o", str(tmp_path / "map.npy")]) == 2
    _one_line_error(capsys, "x.npy: not a plain numeric .npy array")


# ------------------------------------------------------------------ 6: nothing damaged passes silently
def test_flipped_byte_in_tensor_data_is_refused_on_resume(tmp_path):
    _fit(tmp_path)
    ckpt = latest_checkpoint(tmp_path / "run")
    for name in ("model.safetensors", "optimizer.safetensors"):
        path = ckpt / name
        data = bytearray(path.read_bytes())
        data[-3] ^= 0x10  # inside the last tensor: the header still parses
        path.write_bytes(bytes(data))
        load_tensors(path)  # safetensors itself cannot tell
        with pytest.raises(CheckpointError, match=f"{name}: checksum mismatch .* delete .*checkpoint-000008"):
            _fit(tmp_path, 12, resume=True)
        data[-3] ^= 0x10
        path.write_bytes(bytes(data))
    _fit(tmp_path, 12, resume=True)  # restored: resumes


def test_resume_without_a_checkpoint_says_so(tmp_path, caplog):
    with caplog.at_level("WARNING"):
        _fit(tmp_path, 4, resume=True)
    assert f"--resume: {tmp_path / 'run'} holds no checkpoint yet; starting from step 0" in caplog.text


# ------------------------------------------------------------------ 8: temporaries of a killed write are removed
def test_temporaries_of_an_interrupted_checkpoint_are_removed_on_resume(tmp_path):
    _fit(tmp_path)
    run = tmp_path / "run"
    leftover = run / ".checkpoint-000012.k3j9x_.tmp"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"\0" * 10)
    (run / ".latest.a8d7.tmp").write_text("checkpoint-0000")
    (run / ".model.zz1.tmp.safetensors").write_bytes(b"")
    keep = run / "notes.txt"
    keep.write_text("mine")
    _fit(tmp_path, 12, resume=True)
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []
    assert keep.read_text() == "mine"
