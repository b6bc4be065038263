"""``reprlab simclr train|eval``, image folders with unreadable files, and the demo figure."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from reprlab.cli.main import main
from reprlab.data import DataSpec, load_image_folder, load_split
from reprlab.errors import DataError, MissingDataError
from reprlab.vision.contrastive.runs import save_views_figure


def _image_folder(root, n_per_class=6, size=10, mode="L"):
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (root / c).mkdir(parents=True)
        for i in range(n_per_class):
            shape = (size, size) if mode == "L" else (size, size, 3)
            Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(root / c / f"{i}.png")
    (root / "dog" / "broken.png").write_bytes(b"not a png at all")
    (root / "dog" / "notes.txt").write_text("ignored: not an image suffix")
    return root


def test_image_folder_skips_unreadable_files_with_a_count(tmp_path, caplog):
    root = _image_folder(tmp_path / "imgs", mode="RGB")
    with caplog.at_level(logging.WARNING):
        data = load_image_folder(root, image_size=8)
    assert data.x.shape == (12, 3, 8, 8) and data.classes == ("cat", "dog")
    assert torch.bincount(data.y).tolist() == [6, 6]
    assert 0 <= float(data.x.min()) and float(data.x.max()) <= 1
    assert "skipped 1 unreadable image file(s)" in caplog.text
    with pytest.raises(DataError, match="broken.png: unreadable image.*--strict"):
        load_image_folder(root, strict=True)
    with pytest.raises(MissingDataError, match="class sub-directories"):
        load_image_folder(tmp_path / "nothing")
    spec = DataSpec(str(root), image_size=8)
    train, test = load_split(spec, "train"), load_split(spec, "test")
    assert len(train) + len(test) == 12 and len(test) >= 2


def test_train_then_eval_from_the_command_line(tmp_path, capsys):
    root = _image_folder(tmp_path / "imgs", n_per_class=12, size=8)
    run = tmp_path / "run"
    code = main(["simclr", "train", "--data", str(root), "-o", str(run), "--set", "data.image_size=8",
                 "--set", "train.max_steps=3", "--set", "train.batch_size=8", "--set", "train.progress=false",
                 "--set", "model.width=4", "--set", "model.proj_hidden=16", "--set", "model.num_classes=2"])
    assert code == 0
    assert "simclr: 3 steps" in capsys.readouterr().out
    saved = json.loads((run / "simclr.json").read_text())
    assert saved["model"]["in_channels"] == 1 and saved["data"]["name"] == str(root)
    assert main(["simclr", "eval", str(run), "--mode", "knn"]) == 0
    assert "simclr eval knn with 100% labels (19 examples)" in capsys.readouterr().out
    assert main(["simclr", "eval", str(run), "--mode", "finetune", "--labels", "50%", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "supervised from scratch" in out
    result = json.loads((run / "eval" / "finetune-50pct-seed0.json").read_text())
    assert result["n_labelled"] == 10
    assert result["accuracy"] == _finetuned_accuracy(run, run / "eval" / "finetune-50pct-seed0")
    assert main(["simclr", "report", str(run), "--fractions", "50%", "--steps", "2", "--no-baseline"]) == 0
    table = (run / "report.md").read_text()
    assert "| knn | 100% (19) |" in table and "| finetune | 50% (10) |" in table
    assert "t-SNE map of h for 5 test images: 2-D kNN accuracy" in table  # 2000 asked, 5 in the test split
    assert (run / "tsne_h.png").stat().st_size > 1000


def _finetuned_accuracy(run, finetune_dir) -> float:
    """Test accuracy of the fine-tuned network saved in ``finetune_dir``, recomputed from its weights."""
    from reprlab.train.checkpoint import load_module
    from reprlab.transfer import ClassifierObjective, classifier_accuracy
    from reprlab.vision.contrastive.backbones import build_backbone, encoder_feature_dim
    from reprlab.vision.contrastive.runs import read_run

    cfg, _ = read_run(run)
    m = cfg.model
    encoder = build_backbone(m.backbone, m.in_channels, cifar_stem=m.cifar_stem, width=m.width)
    classifier = ClassifierObjective(encoder, encoder_feature_dim(encoder), num_classes=2)
    load_module(classifier, finetune_dir / "model.safetensors")
    return classifier_accuracy(classifier, load_split(cfg.data, "test"))


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["simclr", "eval", str(tmp_path)]) == 2
    assert "simclr.json: not found" in capsys.readouterr().err
    assert main(["simclr", "train", "--data", "digits", "-o", str(tmp_path / "r"),
                 "--set", "model.temperature=0"]) == 2
    assert "model.temperature=0.0: must be > 0" in capsys.readouterr().err
    assert main(["simclr", "train", "--data", "digits", "-o", str(tmp_path / "r"),
                 "--set", "train.batch_size=1", "--set", "train.max_steps=1", "--set", "train.progress=false"]) == 2
    assert "at least 2 are needed" in capsys.readouterr().err


def test_views_figure_is_written(tmp_path):
    save_views_figure(torch.rand(3, 1, 8, 8), tmp_path / "views.png", n_images=3, n_views=2)
    assert (tmp_path / "views.png").stat().st_size > 1000
