"""``reprlab report RUN_DIR``: metrics.json and report.html of training runs, partial runs, and non-runs."""

from __future__ import annotations

import json

import pytest

from reprlab.cli.main import main
from reprlab.report import build_document, write_report
from reprlab.train import TrainConfig, Trainer
from tests.demo.page_checks import numbers_not_in_document, page_text
from tests.foundation.toy import ToyRegression, toy_data


def _train(run_dir, steps=20, save_every=None):
    cfg = TrainConfig(output_dir=str(run_dir), max_steps=steps, batch_size=16, lr=1e-2, log_every=2,
                      save_every=save_every, progress=False)
    Trainer(ToyRegression(), cfg, toy_data(), eval_data=toy_data(32, seed=1)).fit()


def test_training_run_ends_with_a_report_whose_numbers_are_metrics_json(tmp_path):
    _train(tmp_path / "run")
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    doc = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert doc["kind"] == "run" and doc["status"] == "complete" and doc["config"]["train"]["max_steps"] == 20
    curves = {c["title"]: c["series"] for c in next(s for s in doc["sections"] if s["id"] == "curves")["curves"]}
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # the curves are metrics.jsonl's rows: train loss every 2 steps, eval loss at the end
    assert curves["loss"]["train"] == [[r["step"], r["loss"]] for r in rows if "loss" in r]
    assert curves["loss"]["eval"] == [[r["step"], r["eval_loss"]] for r in rows if "eval_loss" in r]
    assert "mae" in curves and doc["environment"]["torch"]
    assert numbers_not_in_document(page, doc) == []
    # self-contained: no script, no external resource
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<svg" in page


def test_report_of_a_killed_run_renders_what_exists(tmp_path):
    run = tmp_path / "run"
    _train(run, steps=20, save_every=10)
    (run / "model.safetensors").unlink()  # as if killed before the end
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 22, "loss": 0.5')  # a row torn by the kill
    assert main(["report", str(run)]) == 0
    doc = json.loads((run / "metrics.json").read_text())
    assert doc["status"] == "partial" and "partial" in page_text((run / "report.html").read_text())
    assert max(p[0] for p in doc["sections"][1]["curves"][0]["series"]["train"]) == 20


def test_report_of_a_run_with_figures_and_results_embeds_them(tmp_path):
    import matplotlib.pyplot as plt

    from reprlab.io import save_figure, write_json

    run = tmp_path / "run"
    _train(run)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    save_figure(fig, run / "curve.png")
    write_json(run / "evaluation.json", {"test_acc": 0.8125, "nested": {"k": 3}})
    write_report(run)
    page = (run / "report.html").read_text()
    doc = json.loads((run / "metrics.json").read_text())
    assert page.count('<img src="data:image/png;base64,') == 1
    results = next(s for s in doc["sections"] if s["id"] == "results")["tables"][0]
    assert results["title"] == "evaluation.json" and ["test_acc", 0.8125] in results["rows"]
    assert ["nested.k", 3] in results["rows"] and "0.8125" in page_text(page)
    assert numbers_not_in_document(page, doc) == []


@pytest.mark.parametrize("kind", ["empty", "foreign", "missing", "file"])
def test_report_on_a_non_run_is_one_line_exit_2(tmp_path, capsys, kind):
    target = tmp_path / "x"
    if kind == "empty":
        target.mkdir()
    elif kind == "foreign":
        target.mkdir()
        (target / "notes.txt").write_text("hello")
    elif kind == "file":
        target.write_text("hello")
    assert main(["report", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(target) in err and "Traceback" not in err
    assert ("no such directory" if kind == "missing" else "not a reprlab run directory") in err
    assert not (tmp_path / "x" / "report.html").exists() if kind != "file" else True


def test_a_report_that_cannot_be_written_only_warns(tmp_path, monkeypatch, caplog):
    """A full disk at the end of training must not lose the finished run (weights are already saved)."""
    import reprlab.report.writer

    def full_disk(run_dir, document=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(reprlab.report.writer, "write_report", full_disk)
    _train(tmp_path / "run")
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert "could not write the run report" in caplog.text and "No space left" in caplog.text


def test_odd_unicode_in_values_is_escaped(tmp_path):
    run = tmp_path / "run"
    _train(run)
    from reprlab.io import write_json

    write_json(run / "result.json", {"label": "<b>naïve 🤗 \u202e</b>", "score": 1.5})
    write_report(run)
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "<b>naïve" not in page and "&lt;b&gt;naïve 🤗" in page
    assert build_document(run)["sections"][2]["tables"][0]["rows"][0][1].startswith("<b>")


def test_a_training_verb_reports_the_results_it_wrote_after_training(tmp_path, capsys):
    run = tmp_path / "imax"
    assert main(["imax", "train", "-o", str(run), "--set", "train.max_steps=20", "--set", "n_train=512",
                 "--set", "n_test=256"]) == 0
    doc = json.loads((run / "metrics.json").read_text())
    result = json.loads((run / "result.json").read_text())  # written by the run after Trainer.fit
    rows = dict(next(t for s in doc["sections"] if s["id"] == "results" for t in s["tables"]
                     if t["title"] == "result.json")["rows"])
    assert rows["abs_r"] == result["abs_r"]
    figures = [f["path"] for s in doc["sections"] for f in s["figures"]]
    assert "disparity_scatter.png" in figures and "stereograms.png" in figures
    assert numbers_not_in_document((run / "report.html").read_text(), doc) == []
