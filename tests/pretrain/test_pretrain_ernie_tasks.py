"""ERNIE 2.0 auxiliary tasks and continual multi-task learning: labels vs slow references, class
balance, scheduler frequencies, bad stage files and corpora (one line, exit 2), bit-exact resume."""

from __future__ import annotations

import itertools
import json
import math
from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from reprlab.cli.main import main
from reprlab.pretrain.auxiliary import (
    class_counts,
    distance_pairs,
    num_permutation_classes,
    reorder_instances,
    token_document_labels,
)
from reprlab.pretrain.continual import Stage, TaskSchedule, continual_stages, sequential_stages
from reprlab.pretrain.corpus import iter_corpus
from reprlab.pretrain.multitask import TASKS
from reprlab.pretrain.shards import encode_document
from reprlab.tokenizers import train_bpe, train_wordpiece

QUICK = ["--model", "tiny", "--set", "instances.max_length=48", "--set", "train.batch_size=4",
         "--set", "train.progress=false", "--set", "train.log_every=1", "--set", "train.warmup_steps=2"]


# ------------------------------------------------------------------------------------------ capitalization
@cache
def _tokenizers() -> tuple:
    kjv = [s for d in iter_corpus(["kjv-sample"]) for s in d][:3000]
    odd = ["École Ǆemal ǅar İstanbul ßtraße Σίσυφος Жук Ñandú élan ıi"] * 20
    return (train_wordpiece(kjv + odd, 600),  # uncased: lower-cases and strips accents, offsets map back
            train_bpe(kjv + odd, 600, byte_level=True))


LETTERS = "aAbBeEzZÉéÅåßǅǄǆİıΣσςЖжÑñΩω"
MARKS = "\u0301\u0308"
word = st.builds(lambda first, rest: first + rest, st.sampled_from(LETTERS),
                 st.text(alphabet=LETTERS + MARKS, max_size=6))
other = st.sampled_from([".", ",", ";", "!", "(", ")", "'", "中", "文", "3", "1999"])


def _reference_caps(tok, words: list[str], byte_level: bool) -> list[int]:
    """Slow and obvious: encode each raw word alone, label its first piece by its first character."""
    out: list[int] = []
    for i, w in enumerate(words):
        n = len(tok.encode_sequence((" " if byte_level and i else "") + w).ids)
        if n:
            out += [int(w[0].isupper() or w[0].istitle())] + [0] * (n - 1)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(word, other), min_size=1, max_size=12))
def test_capitalization_labels_equal_a_per_word_reference_for_wordpiece(words):
    tok = _tokenizers()[0]
    doc = encode_document(tok, [" ".join(words)])
    ref = _reference_caps(tok, words, byte_level=False)
    if doc is None:
        assert ref == []
        return
    assert doc.arrays["caps"].tolist() == ref
    assert set(np.nonzero(doc.arrays["caps"])[0]) <= set(np.nonzero(doc.arrays["word_start"])[0])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.builds(lambda a, b: a + b, st.sampled_from(LETTERS), st.text(alphabet=LETTERS, max_size=6)),
                min_size=1, max_size=10))
def test_capitalization_labels_equal_a_per_word_reference_for_byte_level_bpe(words):
    tok = _tokenizers()[1]
    doc = encode_document(tok, [" ".join(words)])
    assert doc is not None and doc.arrays["caps"].tolist() == _reference_caps(tok, words, byte_level=True)


def test_capitalization_on_the_bible_marks_god_and_verse_starts():
    tok = _tokenizers()[0]
    doc = encode_document(tok, ["In the beginning God created the heaven and the earth."])
    pieces = tok.encode_sequence("In the beginning God created the heaven and the earth.").tokens
    assert [p for p, c in zip(pieces, doc.arrays["caps"]) if c] == ["in", "god"]


# ------------------------------------------------------------------------------------------ documents
def _offsets(docs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Sentence token offsets (S+1,) and document sentence offsets (D+1,) from sentence lengths."""
    lengths = [n for d in docs for n in d]
    return (np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64))


documents = st.lists(st.lists(st.integers(1, 12), min_size=1, max_size=8), min_size=2, max_size=8).filter(
    lambda ds: any(len(d) >= 3 for d in ds))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=40), st.data())
def test_token_document_labels_equal_a_brute_force_loop(document, data):
    lo = data.draw(st.integers(0, len(document)))
    hi = data.draw(st.integers(lo, len(document)))
    got = token_document_labels(np.asarray(document), lo, hi).tolist()
    ref = [int(any(document[q] == document[p] for q in range(len(document)) if not lo <= q < hi))
           for p in range(lo, hi)]
    assert got == ref


def test_token_document_labels_reach_the_batch_at_the_right_positions(sample_shards):
    from reprlab.pretrain.auxiliary import AuxiliaryConfig
    from reprlab.pretrain.batches import Layout
    from reprlab.pretrain.instances import InstanceConfig
    from reprlab.pretrain.multitask import task_datasets
    from reprlab.pretrain.shards import ShardSet

    shards = ShardSet(sample_shards, "train")
    data = task_datasets(shards, ["capitalization", "token_document"], InstanceConfig(max_length=64),
                         AuxiliaryConfig(), Layout.from_special_ids(shards.special_ids), 0)["token_document"]
    tokens = shards.read("tokens", 0, shards.num_tokens)
    caps = shards.read("caps", 0, shards.num_tokens)
    starts = shards.document_token_offsets()
    for i in range(0, len(data), max(1, len(data) // 25)):
        item = data.item(i)
        lo, hi = int(data.instances.a_lo[i]), int(data.instances.a_hi[i])
        d = int(np.searchsorted(starts, lo, side="right")) - 1
        doc = range(int(starts[d]), int(starts[d + 1]))
        ref = [int(any(tokens[q] == tokens[p] for q in doc if not lo <= q < hi)) for p in range(lo, hi)]
        body = ~item["special"]
        assert item["token_document"][body].tolist() == ref
        assert item["caps"][body].tolist() == caps[lo:hi].tolist()
        assert item["token_document"][item["special"]].tolist() == [0, 0]


# ------------------------------------------------------------------------------------------ reordering
def _all_classes(max_segments: int) -> list[tuple[int, ...]]:
    return [p for n in range(1, max_segments + 1) for p in itertools.permutations(range(n))]


@settings(max_examples=80, deadline=None)
@given(documents, st.integers(1, 4), st.integers(12, 40), st.integers(0, 2**16))
def test_sentence_reordering_labels_equal_the_permutation_index(docs, max_segments, max_length, seed):
    so, do = _offsets(docs)
    table = reorder_instances(so, do, max_length=max_length, max_segments=max_segments, seed=seed)
    classes = _all_classes(max_segments)
    assert len(classes) == num_permutation_classes(max_segments)
    doc_start_tokens = set(so[do[:-1]].tolist())
    covered = 0
    for r in range(len(table)):
        shown = table.pieces(r)
        original = sorted(shown)
        for (_, a_hi), (b_lo, _) in zip(original, original[1:]):
            assert a_hi == b_lo  # the pieces tile one contiguous chunk
        lo, hi = original[0][0], original[-1][1]
        d = int(np.searchsorted(so[do], lo, side="right")) - 1
        assert so[do[d]] <= lo and hi <= so[do[d + 1]]  # inside one document
        assert lo in so.tolist() and hi - lo <= max_length - 1 - max_segments and hi > lo
        perm = tuple(original.index(p) for p in shown)
        assert classes[int(table.label[r])] == perm
        covered += lo in doc_start_tokens
    assert covered == len(docs)  # every document yields chunks, the first starting at its first token


# ------------------------------------------------------------------------------------------ distance
@settings(max_examples=80, deadline=None)
@given(documents, st.lists(st.integers(0, 4), min_size=3, max_size=3).filter(lambda b: b[0] > 0 and b[1] > 0
                                                                              and b[2] > 0),
       st.integers(0, 2**16))
def test_sentence_distance_labels_equal_a_reference_and_are_balanced_as_configured(docs, balance, seed):
    so, do = _offsets(docs)
    rows = distance_pairs(so, do, max_length=64, balance=balance, seed=seed)
    sentence_doc = [d for d, doc in enumerate(docs) for _ in doc]
    ends, starts = so[1:].tolist(), so[:-1].tolist()
    for a_lo, a_hi, b_lo, b_hi, label in rows.tolist():
        sa, sb = ends.index(a_hi), starts.index(b_lo)  # A keeps its end, B its start
        if sentence_doc[sa] != sentence_doc[sb]:
            ref = 2
        elif sb == sa + 1:
            ref = 0
        elif abs(sb - sa) >= 2:
            ref = 1
        else:
            ref = None  # the same sentence, or B just before A: never generated
        assert ref == label
        assert a_hi - a_lo <= (64 - 3) // 2 and b_hi - b_lo <= (64 - 3) // 2
    n = len(rows)
    assert n == sum(len(d) - 1 for d in docs)  # one pair per sentence with a successor
    counts = np.bincount(rows[:, 4], minlength=3)
    assert counts.tolist() == class_counts(n, balance).tolist()
    assert np.all(np.abs(counts - n * np.asarray(balance) / sum(balance)) < 1)


def test_sentence_distance_with_a_zero_class_never_draws_it():
    so, do = _offsets([[3, 4, 5, 6], [2, 2, 2]])
    rows = distance_pairs(so, do, max_length=32, balance=[1, 0, 1], seed=0)
    assert set(rows[:, 4].tolist()) == {0, 2}


# ------------------------------------------------------------------------------------------ scheduler
@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=3, max_size=3).filter(lambda w: sum(w) > 0), st.integers(0, 100))
def test_scheduler_frequencies_match_the_weights(weights, seed):
    tasks = ["mlm", "capitalization", "sentence_distance"]
    stages = [Stage({"mlm": 1.0}, steps=100), Stage(dict(zip(tasks, map(float, weights))))]
    s = TaskSchedule(stages, tasks, 4100, seed)
    assert s.bounds == [100, 4100] and set(s.task_of[:100].tolist()) == {0}
    freq = s.frequencies(1)
    for t, w in zip(tasks, weights):
        p = w / sum(weights)
        assert abs(freq[t] - p) <= 4 * math.sqrt(p * (1 - p) / 4000) + 1e-12, (t, freq, weights)
    # the batch number of each step counts that task's earlier steps
    for step in (0, 99, 100, 2000, 4099):
        assert s.occurrence[step] == int(np.sum(s.task_of[:step] == s.task_of[step]))
    assert np.array_equal(TaskSchedule(stages, tasks, 4100, seed).task_of, s.task_of)


def test_continual_keeps_every_earlier_task_and_sequential_drops_it():
    tasks = ["mlm", "capitalization", "token_document"]
    assert [sorted(s.tasks) for s in continual_stages(tasks)] == [["mlm"], ["capitalization", "mlm"],
                                                                    ["capitalization", "mlm", "token_document"]]
    seq = TaskSchedule(sequential_stages(tasks), tasks, 30, 0)
    assert seq.task_of.tolist() == [0] * 10 + [1] * 10 + [2] * 10


# ------------------------------------------------------------------------------------------ bad input
def test_bad_stage_files_and_corpora_are_one_line_exit_2(tmp_path, sample_shards, sample_tokenizer, capsys):
    base = ["pretrain", "run", "--shards", str(sample_shards), *QUICK, "-o", str(tmp_path / "r")]
    files = {
        "unknown.toml": ("[[stage]]\ntasks = {mlm = 1.0, capitalisation = 0.5}\n", "stage 1: unknown task 'capitalisation'"),
        "zero.toml": ("[[stage]]\ntasks = {mlm = 1.0}\nsteps = 2\n[[stage]]\ntasks = {mlm = 0.0, capitalization = 0}\n",
                      "stage 2: the task weights sum to 0"),
        "negative.toml": ("[[stage]]\ntasks = {mlm = -1.0}\n", "weights are numbers >= 0"),
        "long.toml": ("[[stage]]\ntasks = {mlm = 1.0}\nsteps = 500\n", "the stages cover 500 steps but train.max_steps=4"),
        "typo.toml": ("[[stage]]\ntasks = {mlm = 1.0}\nstep = 2\n", "stage 1: unknown key(s) ['step']"),
    }
    for name, (text, message) in files.items():
        (tmp_path / name).write_text(text)
        assert main(base + ["--stages", str(tmp_path / name), "--set", "train.max_steps=4"]) == 2, name
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert main(base + ["--tasks", "mlm=1,capitalization=x"]) == 2
    assert "is not a number" in capsys.readouterr().err
    assert main(base + ["--objective", "roberta", "--tasks", "mlm"]) == 2
    assert "pass --objective ernie" in capsys.readouterr().err
    # a corpus of one-sentence documents: the sentence tasks refuse it, the token tasks run
    (tmp_path / "single.txt").write_text("\n\n".join(f"In the beginning God made thing {i} ." for i in range(40)) + "\n")
    single = tmp_path / "single"
    assert main(["pretrain", "prepare", str(tmp_path / "single.txt"), "--tokenizer", str(sample_tokenizer), "-o",
                 str(single), "--valid-fraction", "0", "--workers", "1"]) == 0
    capsys.readouterr()
    for task in ("sentence_reordering", "sentence_distance"):
        assert main(["pretrain", "run", "--shards", str(single), *QUICK, "-o", str(tmp_path / task),
                     "--tasks", f"mlm,{task}"]) == 2
        err = capsys.readouterr().err.strip()
        assert "needs multi-sentence documents" in err and len(err.splitlines()) == 1, err
    # shards written before the caps array existed
    old = tmp_path / "old"
    assert main(["pretrain", "prepare", str(tmp_path / "single.txt"), "--tokenizer", str(sample_tokenizer), "-o",
                 str(old), "--valid-fraction", "0", "--workers", "1"]) == 0
    meta = json.loads((old / "meta.json").read_text())
    del meta["arrays"]["caps"]
    (old / "meta.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["pretrain", "run", "--shards", str(old), *QUICK, "-o", str(tmp_path / "o"),
                 "--tasks", "capitalization"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no 'caps' array" in err and "re-run `reprlab pretrain prepare" in err and len(err.splitlines()) == 1


# ------------------------------------------------------------------------------------------ training, resume
def test_multitask_run_logs_every_task_and_resumes_bit_identically(tmp_path, small_shards, capsys):
    """Interrupted after stage 1 (its checkpoint), resumed: the weights equal the uninterrupted run's."""
    (tmp_path / "stages.toml").write_text(
        "[[stage]]\ntasks = {mlm = 1.0, capitalization = 1.0}\nsteps = 4\n"
        "[[stage]]\ntasks = {mlm = 1.0, capitalization = 0.5, token_document = 0.5, sentence_reordering = 1.0, "
        "sentence_distance = 1.0}\n")
    args = ["pretrain", "run", "--stages", str(tmp_path / "stages.toml"), "--shards", str(small_shards), *QUICK,
            "--set", "train.max_steps=10", "--set", "train.save_every=4", "--set", "train.eval_every=5",
            "--set", "auxiliary.task_embedding=true", "--set", "auxiliary.eval_rows=8"]
    assert main(args + ["-o", str(tmp_path / "full")]) == 0
    part = tmp_path / "part"
    assert main(args + ["-o", str(part)]) == 0
    import shutil

    shutil.rmtree(part / "checkpoint-000010")  # as if killed after the step-8 checkpoint (mid stage 2)
    (part / "model.safetensors").unlink()
    assert main(args + ["-o", str(part), "--resume"]) == 0
    a, b = load_file(str(tmp_path / "full" / "model.safetensors")), load_file(str(part / "model.safetensors"))
    assert a.keys() == b.keys() and "task_vectors.weight" in a and "aux.sentence_distance.classifier.weight" in a
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if "loss" in r]
    assert {r.get("capitalization_acc") is not None for r in train[:4]} <= {True, False}
    assert all("token_document_acc" not in r and "sentence_distance_acc" not in r for r in train[:4])
    evals = [r for r in rows if "eval_loss" in r]
    assert {"eval_mlm_acc", "eval_capitalization_acc", "eval_token_document_acc", "eval_sentence_reordering_acc",
            "eval_sentence_distance_acc"} <= evals[0].keys()
    ev = json.loads((tmp_path / "full" / "evaluation.json").read_text())
    for t in ("capitalization", "token_document", "sentence_reordering", "sentence_distance"):
        assert 0.0 <= ev[f"{t}_acc"] <= 1.0 and 0.0 < ev[f"{t}_chance"] <= 1.0 and ev[f"{t}_labels"] > 0
    from reprlab.pretrain.pretrained import load_pretrained

    model = load_pretrained(tmp_path / "full")
    assert {"mlm", "capitalization", "sentence_distance"} <= model.heads.keys()
    capsys.readouterr()
    assert main(["pretrain", "export", str(tmp_path / "full"), "-o", str(tmp_path / "hf")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["note: the ERNIE heads capitalization, token_document, sentence_reordering, sentence_distance "
                   "have no place in BertForMaskedLM and are not exported; its MLM task embedding is folded into "
                   "the position table"]


@pytest.mark.distributed
def test_two_processes_equal_one_process_with_every_task(tmp_path, small_shards):
    """All five tasks, task embedding on: 2 gloo processes of 4 rows == 1 process of 8 rows, within 1e-6.

    Every step's task is the same on both processes, each takes its half of that task's global
    batch, and the heads a step does not train keep no gradient (find_unused_parameters).
    """
    import os
    import sys

    from tests.launch import run_group, torchrun

    common = ["-m", "reprlab.cli.main", "pretrain", "run", "--objective", "ernie", "--shards", str(small_shards),
              *QUICK, "--tasks", ",".join(f"{t}=1" for t in TASKS), "--set", "train.max_steps=6",
              "--set", "auxiliary.task_embedding=true",
              "--set", "model_overrides={hidden_dropout = 0.0, attention_dropout = 0.0}"]
    one = run_group([sys.executable, *common, "--set", "train.batch_size=8", "-o", str(tmp_path / "one")],
                    timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert one.returncode == 0, one.stderr[-3000:]
    two = torchrun([*common, "--set", "train.batch_size=4", "-o", str(tmp_path / "two")], timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = load_file(str(tmp_path / "one" / "model.safetensors")), load_file(str(tmp_path / "two" / "model.safetensors"))
    assert a.keys() == b.keys() and "aux.sentence_reordering.classifier.weight" in a
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0, msg=k)
    rows = [json.loads(line) for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
    trained = {k.removesuffix("_loss") for r in rows for k in r if k.endswith("_loss") and k != "loss"}
    assert len([r for r in rows if "loss" in r]) == 6 and len(trained) >= 3  # rank 0 alone logged, several tasks


def test_trainer_averages_a_metric_over_the_batches_that_report_it():
    from reprlab.train import LossOutput
    from reprlab.train.trainer import _MetricWindow

    w = _MetricWindow()
    w.add(LossOutput(torch.tensor(1.0), {"mlm_acc": 0.2}), 4)
    w.add(LossOutput(torch.tensor(3.0), {"capitalization_acc": 0.9}), 4)
    w.add(LossOutput(torch.tensor(2.0), {"mlm_acc": 0.4}), 4)
    logs = w.close(epoch=0, lr=1.0, world=1, grad_norm=None)
    assert logs["loss"] == 2.0 and logs["capitalization_acc"] == 0.9 and abs(logs["mlm_acc"] - 0.3) < 1e-12


def test_the_ernie_names_of_docs_ernie_md_import_from_reprlab_pretrain():
    """Every ERNIE 2.0 class and function docs/ernie.md names is public API: ``from reprlab.pretrain import X``."""
    import re
    from pathlib import Path

    import reprlab.pretrain as pretrain
    from reprlab.pretrain import auxiliary, continual, ernie_experiment, multitask

    doc = (Path(__file__).resolve().parents[2] / "docs" / "ernie.md").read_text()
    section = doc.split("## Auxiliary tasks and continual multi-task learning (ERNIE 2.0)")[1]
    modules = (auxiliary, multitask, continual, ernie_experiment)
    named = {n for n in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", section)
             if any(n in m.__all__ for m in modules) and not n.isupper()}
    assert {"capitalization_flags", "MultiTaskObjective", "TaskSchedule", "load_stages",
            "continual_stages", "evaluate_multitask"} <= named
    for name in named:
        owner = next(m for m in modules if name in m.__all__)
        assert name in pretrain.__all__ and getattr(pretrain, name) is getattr(owner, name), name
    assert pretrain.ErnieExperimentConfig is ernie_experiment.ErnieExperimentConfig


def test_the_summary_line_of_a_run_without_the_mlm_task():
    # an ernie run of sentence tasks only has no mlm_loss; its summary used to fail with KeyError 'plm_loss'
    from reprlab.pretrain.cli import _evaluation_summary

    ev = {"sentence_reordering_acc": 0.755, "sentence_reordering_chance": 0.489, "sentence_reordering_loss": 0.37}
    assert _evaluation_summary(ev) == "sentence_reordering accuracy 75.5% (chance 48.9%)"
