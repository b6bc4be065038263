"""Labelled texts: WordNet supersenses, words in context, the bundled fallbacks, fixed splits by item."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.data import labeled_text as lt
from reprlab.data.labeled_text import (
    LabeledTexts,
    read_labeled_tsv,
    split_of,
    wordnet_supersenses,
    wordnet_words_in_context,
)
from reprlab.errors import ConfigError, DataError, MissingDataError

HAVE_WORDNET = (Path("/usr/share/wordnet") / "data.noun").is_file()
needs_wordnet = pytest.mark.skipif(not HAVE_WORDNET, reason="apt-get install wordnet-base")


@pytest.fixture
def no_wordnet(monkeypatch, tmp_path):
    monkeypatch.setattr(lt, "WORDNET_DIR", tmp_path / "absent")


def test_split_is_a_fixed_function_of_the_item():
    assert [split_of(k) for k in ("noun.02084071", "verb.00001740", "dog", "")] == \
        [split_of(k) for k in ("noun.02084071", "verb.00001740", "dog", "")]
    assert [split_of(k) for k in ("noun.02084071", "1", "11")] == ["train", "test", "valid"]  # pinned: blake2b
    keys = [f"item{i}" for i in range(20_000)]
    share = {s: sum(split_of(k) == s for k in keys) / len(keys) for s in ("train", "valid", "test")}
    assert share["train"] == pytest.approx(0.8, abs=0.01) and share["test"] == pytest.approx(0.1, abs=0.01)


def test_splits_partition_the_items_and_survive_subsetting(no_wordnet):
    data = wordnet_supersenses()
    parts = {s: data.split(s) for s in ("train", "valid", "test")}
    assert sum(len(p) for p in parts.values()) == len(data)
    items = [set(p.items) for p in parts.values()]
    assert not (items[0] & items[1]) and not (items[0] & items[2]) and not (items[1] & items[2])
    half = data.subset(range(0, len(data), 2))  # what else was loaded does not move an item
    assert set(half.split("test").items) == set(parts["test"].items) & set(half.items)
    assert parts["train"].label_names == data.label_names  # one label space for every split


def test_bundled_fallback_when_wordnet_is_missing(no_wordnet, caplog):
    with caplog.at_level(logging.WARNING):
        data = wordnet_supersenses()
    assert len(data) == 3200 and len(data.label_names) == 8 and set(data.counts().values()) == {400}
    assert "apt-get install" in caplog.text
    assert len(wordnet_supersenses(max_per_label=50)) == 400
    with pytest.raises(MissingDataError, match="apt-get install --no-install-recommends wordnet-base"):
        wordnet_supersenses(fallback=False)
    with pytest.raises(MissingDataError, match="no data.noun"):
        wordnet_supersenses("/nonexistent/wordnet")
    wic = wordnet_words_in_context()
    assert len(wic) == 1440 and len(wic.label_names) == 12
    assert all(t[a:b].lower().startswith(w) for t, (a, b), w in zip(wic.texts, wic.spans, wic.items))


@needs_wordnet
def test_wordnet_supersenses_reads_every_gloss_with_its_lexicographer_file():
    data = wordnet_supersenses()
    assert len(data) == 117_659 and len(data.label_names) == 45
    i = data.items.index("noun.00005930")  # 'dwarf': lexicographer file 03 = noun.Tops
    assert data.texts[i] == "a plant or animal that is atypically small"
    assert data.label_names[int(data.labels[i])] == "noun.Tops"
    nouns = wordnet_supersenses(pos=["noun"], labels=["noun.animal", "noun.plant"])
    assert set(nouns.label_names) == {"noun.animal", "noun.plant"} and len(nouns) == 7509 + 8030


def test_per_label_caps_are_nested_and_do_not_bias_the_split(no_wordnet):
    small, large = wordnet_supersenses(max_per_label=60), wordnet_supersenses(max_per_label=120)
    assert set(small.counts().values()) == {60} and set(small.items) <= set(large.items)
    share = len(large.split("train")) / len(large)  # an unsalted cap would keep mostly training items
    assert 0.75 < share < 0.85


@needs_wordnet
def test_words_in_context_span_the_synsets_word():
    data = wordnet_words_in_context()
    assert len(data) == 19_820 and len(data.label_names) == 41
    for text, (a, b), lemma in list(zip(data.texts, data.spans, data.items))[::997]:
        word = text[a:b].lower()
        assert word.startswith(lemma) and word[len(lemma):] in ("", "s", "es", "ed", "d", "ing")
    test_words = set(data.split("test").items)
    assert test_words and not test_words & set(data.split("train").items)  # split by word


def test_bad_files_and_parameters_are_one_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("noun.animal\ta dog\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv:2: expected 'label<TAB>text'"):
        read_labeled_tsv(bad)
    with pytest.raises(ConfigError, match="pos=.*choose from"):
        wordnet_supersenses(pos=["nouns"])
    with pytest.raises(ConfigError, match="not WordNet supersenses"):
        wordnet_supersenses(labels=["noun.animals"])
    with pytest.raises(ConfigError, match="choose train, valid or test"):
        read_labeled_tsv(_good(tmp_path)).split("dev")
    with pytest.raises(DataError, match="2 texts, 1 labels"):
        LabeledTexts(["a", "b"], torch.tensor([0]), ("x",), ["a", "b"])


def _good(tmp_path: Path) -> Path:
    p = tmp_path / "good.tsv"
    p.write_text("a\tone\nb\ttwo\n", encoding="utf-8")
    return p


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.tuples(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs")), min_size=1,
                                       max_size=8),
                               st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
                                       max_size=30).filter(lambda t: t.strip() and "\x85" not in t)),
                     min_size=1, max_size=20))
def test_tsv_round_trips_odd_unicode(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("tsv") / "rows.tsv"
    path.write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    data = read_labeled_tsv(path)
    assert data.texts == [t.strip() for _, t in rows]
    assert [data.label_names[int(y)] for y in data.labels] == [label for label, _ in rows]
