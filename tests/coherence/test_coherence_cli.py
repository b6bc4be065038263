"""The coherence commands: outputs written, config errors reported as one line with exit 2."""

from __future__ import annotations

import json
import math

import pytest

from reprlab.cli.main import main


def test_imax_bound_writes_figure_and_numbers(tmp_path, capsys):
    assert main(["imax", "bound", "-o", str(tmp_path), "--batch-sizes", "8", "32", "--n-batches", "2"]) == 0
    data = json.loads((tmp_path / "infonce_bound.json").read_text())
    mis, small, big = data["true_mi"], data["estimates"]["8"], data["estimates"]["32"]
    for bsz, ests in (("8", small), ("32", big)):  # 10 nats of MI: each estimate sits at its log N ceiling
        assert ests[mis.index(10)] == pytest.approx(math.log(int(bsz)), abs=0.05)
    assert big[mis.index(10)] - small[mis.index(10)] == pytest.approx(math.log(4), abs=0.1)  # 4x the negatives
    assert big[mis.index(1)] == pytest.approx(1.0, abs=0.35)  # 1 nat, well under log 32: near the truth
    assert (tmp_path / "infonce_bound.png").stat().st_size > 1000
    assert "log N" in capsys.readouterr().out


def test_imax_train_tiny_run(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["imax", "train", "-o", str(out), "--set", "train.max_steps=20", "--set", "n_train=512",
                 "--set", "n_test=256", "--set", "data.surface='curved'", "--set", "data.n_patches=5",
                 "--set", "model.variant='neighbours'"])
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert {"abs_r", "imax_nats", "ksg_nats"} <= set(result)
    assert (out / "disparity_scatter.png").exists() and (out / "stereograms.png").exists()
    assert "|r| =" in capsys.readouterr().out


def test_config_errors_are_one_line(tmp_path, capsys):
    code = main(["imax", "train", "-o", str(tmp_path), "--set", "data.disparity_range=[0, 40]"])
    assert code == 2
    err = capsys.readouterr().err
    assert "smaller than patch_width=16" in err and err.count("\n") == 1
    assert main(["cpc", "train", "-o", str(tmp_path / "c"), "--set", "model.input='audio'"]) == 2
    assert "input='audio'" in capsys.readouterr().err
    assert main(["imax", "train", "--set", "model.bogus=1"]) == 2
    assert "unknown config key" in capsys.readouterr().err


def test_cpc_and_agreement_tiny_runs(tmp_path, capsys):
    assert main(["cpc", "train", "-o", str(tmp_path / "cpc"), "--set", "train.max_steps=5",
                 "--set", "n_train=32", "--set", "n_test=16", "--set", "length=64", "--set", "train.batch_size=8"]) == 0
    assert (tmp_path / "cpc" / "cpc_accuracy.png").exists()
    assert "linear probe R^2 of frequency" in capsys.readouterr().out
    assert main(["agreement", "-o", str(tmp_path / "ag"), "--data", "digits", "--set", "train.max_steps=5",
                 "--set", "data.limit=128", "--set", "n_test=64", "--set", "train.batch_size=32",
                 "--set", "model.widths=[8]", "--set", "model.hidden=16"]) == 0
    assert "probe accuracy" in capsys.readouterr().out


@pytest.mark.slow
def test_demo(tmp_path):
    from reprlab.coherence.cli import demo

    line = demo(tmp_path)
    assert "|r| = " in line
    r = float(line.split("|r| = ")[1].split()[0])
    assert r >= 0.9
    assert (tmp_path / "coherence" / "imax_disparity_scatter.png").exists()
