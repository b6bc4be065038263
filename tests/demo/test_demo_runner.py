"""The demo runner: per-stage cache and resume, Ctrl-C and SIGKILL mid-stage, foreign output directories."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reprlab.cli.main import main
from reprlab.demo import DemoConfig, Stage, run_demo
from reprlab.errors import ConfigError
from tests.demo.fake_stages import FAKE
from tests.demo.page_checks import numbers_not_in_document

ROOT = Path(__file__).resolve().parents[2]


def _run(out, stages=FAKE, names=(), **kw):
    lines = []
    kw["stages"] = list(names)
    result = run_demo(DemoConfig(output_dir=str(out), quick=kw.pop("quick", True), progress=False, **kw),
                      stages, echo=lines.append)
    return result, lines


def test_stages_are_cached_and_the_report_shows_them(tmp_path):
    result, lines = _run(tmp_path / "d")
    doc = result.document
    assert [s["id"] for s in doc["sections"]] == ["numbers", "text", "slow", "later"]
    assert [s["status"] for s in doc["sections"]] == ["done", "done", "done", "skipped"]
    assert "reprlab.nope is not in this build" in doc["sections"][3]["summary"]
    assert doc["sections"][0]["metrics"] == {"sum": 14} and doc["status"] == "complete"
    page = result.report.read_text(encoding="utf-8")
    assert numbers_not_in_document(page, doc) == [] and "naïve 🤗 text" in page
    # a rerun runs nothing: every stage comes from its cache, and the stage outputs are untouched
    before = (tmp_path / "d" / "numbers" / "done.txt").stat().st_mtime_ns
    _, again = _run(tmp_path / "d")
    assert all(line.startswith("[cached ]") for line in again[:4])
    assert (tmp_path / "d" / "numbers" / "done.txt").stat().st_mtime_ns == before
    # another size (not --quick) is another result: the stages run again
    _, default = _run(tmp_path / "d", quick=False)
    assert not any(line.startswith("[cached ]") for line in default[:4])


def test_ctrl_c_mid_stage_keeps_finished_stages_and_the_next_run_resumes(tmp_path):
    calls = []

    def interrupted(ctx):
        calls.append("text")
        raise KeyboardInterrupt

    def counted(ctx):
        calls.append("numbers")
        return "ok"

    broken = (Stage("numbers", "1. Numbers", counted), Stage("text", "2. Text", interrupted), FAKE[2])
    lines = []
    with pytest.raises(KeyboardInterrupt):
        run_demo(DemoConfig(output_dir=str(tmp_path / "d"), quick=True, progress=False), broken, echo=lines.append)
    assert "interrupted in stage text" in lines[-1] and "rerun the same command" in lines[-1]
    doc = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert [s["status"] for s in doc["sections"]] == ["done", "pending", "pending"] and doc["status"] == "partial"
    assert "pending" in (tmp_path / "d" / "report.html").read_text()
    fixed = (broken[0], FAKE[1], FAKE[2])
    result, lines = _run(tmp_path / "d", fixed)
    assert calls == ["numbers", "text"]  # numbers ran once: the rerun resumed at text
    assert lines[0].startswith("[cached ] numbers") and result.document["status"] == "complete"


def test_sigkill_mid_stage_then_rerun_resumes_at_that_stage(tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    (out / "sleep.txt").write_text("60")
    # sleep.txt alone would make the directory foreign: mark it as a demo directory
    (out / "demo.json").write_text(json.dumps({"kind": "reprlab-demo", "stages": []}))
    proc = subprocess.Popen([sys.executable, "-m", "tests.demo.fake_stages", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not (out / "slow" / "started.txt").exists():
        assert time.time() < deadline and proc.poll() is None, "the demo did not reach its third stage"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (out / "sleep.txt").write_text("0")
    assert main(["report", str(out)]) == 0  # the killed run's page: two stages done, the rest pending
    doc = json.loads((out / "metrics.json").read_text())
    assert [s["status"] for s in doc["sections"]] == ["done", "done", "pending", "pending"]
    before = (out / "numbers" / "done.txt").stat().st_mtime_ns
    result, lines = _run(out)
    assert lines[0].startswith("[cached ] numbers") and lines[1].startswith("[cached ] text")
    assert not lines[2].startswith("[cached") and result.document["status"] == "complete"
    assert (out / "numbers" / "done.txt").stat().st_mtime_ns == before


def test_foreign_directory_is_refused_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(["demo", "--quick", "-o", str(out), "--stages", "tokenizers"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "thesis.tex" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    result, _ = _run(out, overwrite=True)
    assert (out / "thesis.tex").read_text() == "precious" and result.document["status"] == "complete"
    # --overwrite on a demo directory starts again: no stage comes from the cache
    _, lines = _run(out, overwrite=True)
    assert not any(line.startswith("[cached ]") for line in lines)


def test_unknown_stage_is_one_line(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown stage 'bogus'; choose from numbers, text, slow, later"):
        run_demo(DemoConfig(output_dir=str(tmp_path / "d"), stages=["bogus"]), FAKE)
    assert main(["demo", "-o", str(tmp_path / "e"), "--stages", "tokenizers,bogus"]) == 2
    assert "unknown stage 'bogus'" in capsys.readouterr().err


def test_a_subset_run_keeps_earlier_stages_on_the_page(tmp_path):
    _run(tmp_path / "d", names=["numbers"])
    result, _ = _run(tmp_path / "d", names=["text"])
    assert [s["id"] for s in result.document["sections"]] == ["numbers", "text"]


def test_missing_fashion_mnist_falls_back_to_digits_and_names_the_package(monkeypatch, tmp_path):
    import reprlab.data
    from reprlab.demo.stage import StageContext
    from reprlab.demo.vision_stages import _image_data
    from reprlab.report import new_section

    ctx = StageContext(tmp_path, tmp_path, False, new_section("generative", "g"))
    monkeypatch.setattr(reprlab.data, "FASHION_MNIST_DIR", tmp_path / "absent")
    name, note = _image_data(ctx)
    assert name == "digits" and "apt-get install -y dataset-fashion-mnist" in note
    monkeypatch.setattr(reprlab.data, "FASHION_MNIST_DIR", tmp_path)
    assert _image_data(ctx)[0] == "fashion-mnist"
    assert _image_data(StageContext(tmp_path, tmp_path, True, ctx.section))[0] == "digits"  # --quick: digits


def test_a_stage_reruns_when_a_stage_it_reads_was_rerun(tmp_path):
    reader = Stage("reader", "2. Reader", lambda ctx: (ctx.run_dir / "numbers" / "done.txt").read_text(),
                   depends=("numbers",))
    stages = (FAKE[0], reader)
    _, first = _run(tmp_path / "d", stages)
    _, cached = _run(tmp_path / "d", stages)
    assert all(line.startswith("[cached ]") for line in cached[:2])
    (tmp_path / "d" / "stages" / "numbers.json").unlink()  # numbers runs again, so reader must too
    _, again = _run(tmp_path / "d", stages)
    assert not again[0].startswith("[cached ]") and not again[1].startswith("[cached ]")
