"""``reprlab experiment simclr``: seeds, validation-chosen settings, resume, and the few-label claim."""

from __future__ import annotations

import json

import pytest
import torch

from reprlab.cli.main import main
from reprlab.data import load_dataset
from reprlab.vision.contrastive.runs import _split_validation

# the digits version of the recipe: 8x8 images want a narrow CNN, milder crops and no flips
DIGITS = ["--data", "digits", "--set", "model.width=16", "--set", "model.proj_hidden=64",
          "--set", "model.proj_dim=32", "--set", "model.augment.crop_scale=[0.5, 1.0]",
          "--set", "model.augment.flip_p=0.0", "--set", "train.batch_size=128", "--set", "train.lr=3e-3"]


def test_validation_split_is_class_balanced_disjoint_and_per_seed():
    train = load_dataset("digits")
    rest, val = _split_validation(train, 200, seed=0)
    assert len(rest) + len(val) == len(train)
    counts = torch.bincount(val.y)
    assert int(counts.min()) >= 19 and int(counts.max()) <= 21  # 10 classes, ~20 each
    key = lambda d: {tuple(r.flatten().tolist()) for r in d.x}  # noqa: E731
    assert not key(rest) & key(val)
    _, val1 = _split_validation(train, 200, seed=1)
    assert not torch.equal(val.x, val1.x)


def test_experiment_two_seeds_summary_resume_and_refusal(tmp_path, capsys):
    out = tmp_path / "exp"
    args = ["experiment", "simclr", *DIGITS, "-o", str(out), "--set", "seeds=[0, 1]", "--set", "epochs=1",
            "--set", "validation=200", "--set", "labels='10%'", "--set", "finetune_steps=5",
            "--set", "finetune_lrs=[1e-3, 3e-3]", "--set", "probe_cs=[0.1, 1.0]"]
    assert main(args) == 0
    exp = json.loads((out / "experiment.json").read_text())
    rows, summary = exp["seeds"], exp["summary"]
    assert [r["seed"] for r in rows] == [0, 1] and abs(rows[0]["n_validation"] - 200) <= 5  # class-balanced rounding
    for key in ("linear_100", "knn_100", "linear_few", "finetune_few", "supervised_few"):
        accs = torch.tensor([r[key]["accuracy"] for r in rows], dtype=torch.float64)
        assert summary[key]["mean"] == pytest.approx(float(accs.mean()))
        assert summary[key]["std"] == pytest.approx(float(accs.std()))
    for key, grid, name in (("linear_100", [0.1, 1.0], "C"), ("finetune_few", [1e-3, 3e-3], "lr")):
        assert all(r[key][name] in grid and 0 < r[key]["val_accuracy"] <= 1 for r in rows)
    assert "± " in (out / "report.md").read_text()
    # the accuracy-vs-epochs curve: the online probe's final evaluation on validation lands at epoch 1
    for r in rows:
        curve = exp["curves"][str(r["seed"])]
        assert curve[-1]["epoch"] == pytest.approx(r["pretrain_steps"] * 128 / r["n_train"], abs=1e-3)
        assert abs(curve[-1]["epoch"] - 1.0) < 0.1 and all(0 <= c["probe_acc"] <= 1 for c in curve)
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG"
    # the same command again (seed 0 alone, elsewhere): identical weights and numbers
    assert main([*args[:args.index("-o")], "-o", str(tmp_path / "again"), *args[args.index("-o") + 2:],
                 "--set", "seeds=[0]"]) == 0
    assert (tmp_path / "again/seed-0/pretrain/model.safetensors").read_bytes() == \
        (out / "seed-0/pretrain/model.safetensors").read_bytes()
    same = json.loads((tmp_path / "again/seed-0/result.json").read_text())
    timing = ("pretrain_seconds", "seconds_per_epoch", "total_seconds")
    assert {k: v for k, v in same.items() if k not in timing} == {k: v for k, v in rows[0].items() if k not in timing}
    # a finished seed is reused by --resume (same numbers, nothing retrained); without it: one line, exit 2
    (out / "seed-1" / "result.json").unlink()
    capsys.readouterr()
    assert main(args + ["--resume"]) == 0
    again = json.loads((out / "experiment.json").read_text())["seeds"]
    assert again[0] == rows[0]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_simclr_few_label_advantage_on_digits(tmp_path):
    """Shortened recipe (digits, 3 seeds, ~30-60 s): the frozen SimCLR h with 5% of the labels beats the same
    network trained from scratch on them with the same augmentations, on every seed."""
    out = tmp_path / "exp"
    assert main(["experiment", "simclr", *DIGITS, "-o", str(out), "--set", "epochs=8", "--set", "validation=200",
                 "--set", "labels='5%'", "--set", "finetune_steps=150", "--set", "finetune_lrs=[3e-3]"]) == 0
    exp = json.loads((out / "experiment.json").read_text())
    # measured: 5% linear 0.922 / 0.892 / 0.864 against supervised 0.850 / 0.867 / 0.803 (mean +5.3 points)
    for r in exp["seeds"]:
        assert r["linear_few"]["accuracy"] > r["supervised_few"]["accuracy"], r
    summary = exp["summary"]
    assert summary["linear_few"]["mean"] > summary["supervised_few"]["mean"] + 0.03, summary
    assert summary["linear_100"]["mean"] > 0.95
