"""Span detection for ERNIE knowledge masking: the trie matcher, lexicon parsing, NPMI, entities, prepare."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.errors import ConfigError, DataError, MissingDataError
from reprlab.pretrain.knowledge import (
    ENTITY,
    PHRASE,
    CorpusStats,
    LexiconMatcher,
    SpanConfig,
    SpanDetector,
    SpanEncoder,
    auto_span_arrays,
    collocations,
    parse_lexicon,
    prepare_knowledge_shards,
    proper_words,
    read_lexicon,
    span_arrays,
    word_counts,
)
from reprlab.pretrain.shards import PrepareConfig, ShardSet, encode_document
from reprlab.tokenizers.loading import load_tokenizer


def brute_force_match(keys: Sequence[str], entries: Sequence[tuple[str, ...]]) -> list[tuple[int, int, int]]:
    """The leftmost-longest rule the slow, obvious way: every entry tried at every position.

    Returns ``(start, end, entry)`` with ``entry`` the first index of the winning entry.
    """
    out = []
    i = 0
    while i < len(keys):
        best = None
        for index, e in enumerate(entries):
            if e and tuple(keys[i:i + len(e)]) == tuple(e) and (best is None or len(e) > best[1] - best[0]):
                best = (i, i + len(e), index)
        if best is None:
            i += 1
        else:
            out.append(best)
            i = best[1]
    return out


WORDS = st.sampled_from(["a", "b", "c", "d"])


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=40), st.lists(st.lists(WORDS, max_size=4).map(tuple), max_size=8))
def test_matcher_equals_brute_force(stream, entries):
    # duplicate and empty entries included: the first of duplicates wins, empty ones never match
    got = [(s, e, i) for s, e, _, i in LexiconMatcher(entries).match(stream)]
    assert got == brute_force_match(stream, entries)
    for s, e, i in got:
        assert tuple(stream[s:e]) == entries[i]
    assert all(a[1] <= b[0] for a, b in zip(got, got[1:]))  # never overlapping


def test_overlap_rule_is_leftmost_longest():
    m = LexiconMatcher([("a", "b"), ("b", "c"), ("a", "b", "c", "d"), ("c",)])
    assert [(s, e) for s, e, _, _ in m.match(["a", "b", "c"])] == [(0, 2), (2, 3)]  # [a b] [c], not a [b c]
    assert [(s, e) for s, e, _, _ in m.match(["a", "b", "c", "d"])] == [(0, 4)]  # longest wins
    blocked = [False, True, False]
    assert [(s, e) for s, e, _, _ in m.match(["a", "b", "c"], blocked)] == [(2, 3)]


def test_parse_lexicon_reports_what_it_drops(sample_tokenizer):
    tok = load_tokenizer(sample_tokenizer)
    lines = ["Pharaoh", "", "   ", "burnt offering", "BURNT  offering", "the land of egypt\tphrase",
             "land of\tentity", "burnt", " ".join(["and"] * 20)]
    lex = parse_lexicon(lines, tok, max_span_pieces=16)
    assert lex.empty == 2 and lex.duplicates == 1 and lex.too_long == 1  # case and spacing do not matter
    assert lex.entries[:2] == [("pharaoh",), ("burnt", "offering")]
    assert lex.kinds == [ENTITY, PHRASE, PHRASE, ENTITY, PHRASE]  # capitalised -> entity unless a kind is given
    assert lex.prefixes == 1  # "burnt" is a prefix of "burnt offering"
    with pytest.raises(DataError, match=r"lex:2: kind 'place'"):
        parse_lexicon(["a", "b\tplace"], tok, source="lex")


def test_read_lexicon_errors(tmp_path, sample_tokenizer):
    tok = load_tokenizer(sample_tokenizer)
    with pytest.raises(MissingDataError, match="lexicon file not found"):
        read_lexicon(tmp_path / "nope.txt", tok)
    with pytest.raises(DataError, match="is a directory"):
        read_lexicon(tmp_path, tok)
    (tmp_path / "bad.txt").write_bytes(b"god\nmo\xffses\n")
    with pytest.raises(DataError, match=r"bad.txt:2: not valid UTF-8"):
        read_lexicon(tmp_path / "bad.txt", tok)
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(DataError, match="no entries"):
        read_lexicon(tmp_path / "empty.txt", tok)


def test_npmi_closed_form():
    st_ = CorpusStats()
    st_.words.update({"x": 4, "y": 4, "z": 12})
    st_.pairs.update({("x", "y"): 4, ("z", "z"): 6, ("x", ","): 9})
    got = collocations(st_, -1.0, 1)
    pxy, px, py = 4 / 19, 4 / 20, 4 / 20
    assert got[("x", "y")] == pytest.approx(math.log(pxy / (px * py)) / -math.log(pxy))
    assert ("x", ",") not in got  # punctuation never joins a phrase
    assert set(collocations(st_, -1.0, 5)) == {("z", "z")}  # min_count
    assert set(collocations(st_, got[("x", "y")] + 1e-9, 1)) == {p for p, v in got.items() if v > got[("x", "y")]}


def test_auto_spans_entities_first_then_phrases():
    stats = CorpusStats()
    stats.inner.update({"moses": 3, "aaron": 2, "holy": 5, "i": 9})
    stats.inner_caps.update({"moses": 3, "aaron": 2, "holy": 1, "i": 9})
    proper = proper_words(stats, 0.5)
    assert proper == {"moses", "aaron"}  # "holy" mostly lower-case, "I" one character
    det = SpanDetector(colloc=frozenset({("burnt", "offering"), ("offering", "unto"), ("unto", "moses")}),
                       proper=proper, max_span_words=4)
    keys = "and moses and aaron made a burnt offering unto moses".split()
    caps = [True, True, False, True] + [False] * 5 + [True]
    assert det.spans(keys, caps) == [(1, 2, ENTITY), (3, 4, ENTITY), (6, 9, PHRASE), (9, 10, ENTITY)]
    # sentence-initial "And" is capitalised but no name; a capitalised run needs a name in it
    assert det.spans(["and", "holy", "moses"], [True, True, True]) == [(1, 3, ENTITY)]
    assert det.spans(["holy", "ghost"], [True, True]) == []


def test_long_phrase_chains_are_cut_into_chunks():
    # a chain of 5 collocated pairs (6 words), max_span_words=4: [w0..w3] [w4 w5]; 3 pairs, max 2: [w0 w1] [w2 w3]
    keys = ["w0", "w1", "w2", "w3", "w4", "w5"]
    det = SpanDetector(colloc=frozenset(zip(keys, keys[1:])), max_span_words=4)
    assert det.spans(keys, [False] * 6) == [(0, 4, PHRASE), (4, 6, PHRASE)]
    det = SpanDetector(colloc=frozenset(zip(keys[:3], keys[1:4])), max_span_words=3)
    assert det.spans(keys, [False] * 6) == [(0, 3, PHRASE)]  # a one-word rest (w3) stays a plain word


KEYS = ["a", "b", "c", "d", "ee", "ff", "x"]
SENTENCE = st.lists(st.tuples(st.sampled_from(KEYS), st.booleans(), st.integers(1, 3)), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(SENTENCE, min_size=1, max_size=5), st.sets(st.tuples(st.sampled_from(KEYS), st.sampled_from(KEYS))),
       st.sets(st.sampled_from(KEYS)), st.integers(1, 4))
def test_vectorized_spans_and_counts_equal_the_per_sentence_reference(doc, colloc, proper, max_words):
    # auto_span_arrays / word_counts (whole shards at once, numbered words) against SpanDetector.spans +
    # span_arrays / CorpusStats.add (one sentence at a time, string keys)
    det = SpanDetector(colloc=frozenset(colloc), proper=frozenset(proper), max_span_words=max_words)
    number = {k: i for i, k in enumerate(KEYS)}
    ref_start, ref_kind, word_start, key, upper, lengths = [], [], [], [], [], []
    stats = CorpusStats()
    for sentence in doc:
        keys, caps, pieces = [w for w, _, _ in sentence], [c for _, c, _ in sentence], [n for _, _, n in sentence]
        starts = np.concatenate([[0], np.cumsum(pieces)[:-1]]).astype(int)
        s, k = span_arrays(starts, sum(pieces), det.spans(keys, caps))
        ref_start.append(s)
        ref_kind.append(k)
        ws = np.zeros(sum(pieces), np.uint8)
        ws[starts] = 1
        word_start.append(ws)
        key.append(np.repeat([number[w] for w in keys], pieces))
        upper.append(np.repeat(caps, pieces))
        lengths.append(sum(pieces))
        stats.add(keys, caps)
    sentences = np.concatenate([[0], np.cumsum(lengths)])
    codes = np.sort(np.array([number[x] * len(KEYS) + number[y] for x, y in colloc], dtype=np.int64))
    ws = np.concatenate(word_start)
    start, kind = auto_span_arrays(ws, sentences, np.concatenate(key), np.concatenate(upper),
                                   proper=np.array([w in proper for w in KEYS]),
                                   long_key=np.array([len(w) >= 2 for w in KEYS]), colloc=codes, vocab=len(KEYS),
                                   max_span_words=max_words)
    np.testing.assert_array_equal(start, np.concatenate(ref_start))
    np.testing.assert_array_equal(kind, np.concatenate(ref_kind))
    first = np.flatnonzero(ws)
    initial = np.isin(first, sentences[:-1])
    words, inner, inner_caps, pair_codes, pair_counts = word_counts(np.concatenate(key)[first],
                                                                    np.concatenate(upper)[first], initial, len(KEYS))
    for got, counter in ((words, stats.words), (inner, stats.inner), (inner_caps, stats.inner_caps)):
        assert got.tolist() == [counter[w] for w in KEYS]
    assert {(KEYS[c // len(KEYS)], KEYS[c % len(KEYS)]): n for c, n in zip(pair_codes, pair_counts)} == stats.pairs


def test_span_arrays_mark_group_starts():
    start, kind = span_arrays([0, 2, 3, 5], 7, [(1, 3, PHRASE)])  # words of 2, 1, 2, 2 pieces
    assert start.tolist() == [1, 0, 1, 0, 0, 1, 0]
    assert kind.tolist() == [0, 0, 1, 1, 1, 0, 0]


def test_span_encoder_keeps_the_base_arrays(sample_tokenizer):
    tok = load_tokenizer(sample_tokenizer)
    sentences = ["And Moses and Aaron went in unto Pharaoh.", "", "And the LORD spake unto Moses, saying,"]
    det = SpanDetector(colloc=frozenset({("spake", "unto")}), proper=frozenset({"moses", "aaron", "pharaoh", "lord"}))
    doc = SpanEncoder(det)(tok, sentences)
    base = encode_document(tok, sentences)
    for name, arr in base.arrays.items():
        np.testing.assert_array_equal(doc.arrays[name], arr)
    s, k = doc.arrays["span_start"], doc.arrays["span_kind"]
    assert (s[doc.arrays["word_start"] == 0] == 0).all() and set(k.tolist()) == {0, 1, 2}
    assert (s <= doc.arrays["word_start"]).all()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    docs = [["And Moses said unto Aaron, Take the rod.", "And Aaron took the burnt offering."],
            ["The burnt offering of Moses.", "And Pharaoh said unto Moses, Go."]] * 6
    (d / "c.txt").write_text("\n\n".join("\n".join(doc) for doc in docs) + "\n")
    return d / "c.txt"


def test_prepare_lexicon_warns_with_counts(tmp_path, corpus, sample_tokenizer, caplog):
    lex = tmp_path / "lex.txt"
    lex.write_text("Moses\nburnt offering\n\nburnt offering\nthe golden calf\nsaid unto\tphrase\n")
    cfg = PrepareConfig(corpus=[str(corpus)], tokenizer=str(sample_tokenizer), output=str(tmp_path / "sh"),
                        valid_fraction=0.0, workers=1)
    with caplog.at_level(logging.WARNING):
        result = prepare_knowledge_shards(cfg, SpanConfig(spans="lexicon", lexicon=str(lex)))
    assert "1 empty lines skipped, 1 duplicate entries skipped (first kept), 1 entries never occur" in caplog.text
    info = result.meta["spans"]
    assert (info["entries"], info["never_occur"]) == (4, 1)
    train = info["train"]
    # per copy of the two documents: Moses 3x, burnt offering 2x, said unto 2x; six copies
    assert (train["entity_spans"], train["phrase_spans"]) == (18, 24)
    shards = ShardSet(result.output, "train")
    assert json.loads((result.output / "meta.json").read_text())["spans"]["train"] == train
    kind = shards.read("span_kind", 0, shards.num_tokens)
    assert kind.dtype == np.uint8 and int((kind == PHRASE).sum()) == train["phrase_pieces"]


def test_prepare_auto_is_deterministic_across_workers(tmp_path, corpus, sample_tokenizer):
    metas = []
    for workers in (1, 2):
        cfg = PrepareConfig(corpus=[str(corpus)] * 3, tokenizer=str(sample_tokenizer), valid_fraction=0.0,
                            output=str(tmp_path / f"sh{workers}"), workers=workers, docs_per_task=5)
        metas.append(prepare_knowledge_shards(cfg, SpanConfig(spans="auto", npmi_min_count=3)).meta)
    assert metas[0]["splits"] == metas[1]["splits"]  # every array's SHA-256 included
    assert metas[0]["spans"]["collocations"] > 0 and metas[0]["spans"]["train"]["entity_spans"] > 0
    # one tokenization gives what two passes give: counts of every sentence, then a SpanEncoder
    from reprlab.pretrain.corpus import iter_corpus
    from reprlab.pretrain.knowledge import sentence_words

    tok = load_tokenizer(sample_tokenizer)
    docs = list(iter_corpus([str(corpus)] * 3))
    stats = CorpusStats()
    for d in docs:
        for text in d:
            stats.add(*sentence_words(tok.encode_sequence(text), text)[1:])
    det = SpanDetector(colloc=frozenset(collocations(stats, 0.5, 3)), proper=proper_words(stats, 0.5))
    encoded = [SpanEncoder(det)(tok, d) for d in docs]
    shards = ShardSet(tmp_path / "sh1", "train")
    for name in ("span_start", "span_kind"):
        np.testing.assert_array_equal(shards.read(name, 0, shards.num_tokens),
                                      np.concatenate([e.arrays[name] for e in encoded]))


def test_span_config_errors():
    with pytest.raises(ConfigError, match="needs a lexicon file"):
        SpanConfig(spans="lexicon").validate()
    for spans in ("auto", "none"):
        with pytest.raises(ConfigError, match="exclude each other"):
            SpanConfig(spans=spans, lexicon="x").validate()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="spans"):
        SpanConfig(spans="phrases").validate()  # type: ignore[arg-type]


def test_cli_unreadable_lexicon_is_one_line_exit_2(tmp_path, corpus, sample_tokenizer, capsys):
    from reprlab.cli.main import main

    code = main(["pretrain", "prepare", str(corpus), "--tokenizer", str(sample_tokenizer), "-o",
                 str(tmp_path / "sh"), "--lexicon", str(tmp_path / "missing.txt"), "--workers", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "missing.txt: lexicon file not found" in err
    assert not (tmp_path / "sh").exists()


def test_odd_unicode_matches_case_insensitively(sample_tokenizer):
    tok = load_tokenizer(sample_tokenizer)
    lex = parse_lexicon(["Ésaïe le prophète", "naïve\u200bword", "🙂 smile"], tok)
    det = SpanDetector(matcher=LexiconMatcher(lex.entries, lex.kinds))
    sentences = ["ÉSAÏE LE PROPHÈTE said 🙂 smile.", "and ésaïe le prophète", "naïve\u200bword"]
    doc = SpanEncoder(det)(tok, sentences)
    base = encode_document(tok, sentences)
    np.testing.assert_array_equal(doc.arrays["tokens"], base.arrays["tokens"])
    kind = doc.arrays["span_kind"]
    bounds = np.cumsum(base.sentence_lengths)
    first, second, third = np.split(kind, bounds[:-1])
    # the entry's kind (capitalised -> entity) wherever it matches, whatever the case of the text
    assert first[0] == ENTITY and second[0] == 0 and (second[1:] == ENTITY).all() and (third == PHRASE).all()
    assert (first == PHRASE).sum() > 0  # "🙂 smile" (a lower-case entry: a phrase)


def test_byte_level_bpe_words_match_like_wordpiece():
    from reprlab.pretrain.corpus import iter_corpus
    from reprlab.tokenizers import train_bpe

    tok = train_bpe([s for d in list(iter_corpus(["kjv-sample"]))[:3] for s in d], 400, byte_level=True)
    lex = parse_lexicon(["Moses said", "rod"], tok)
    assert lex.entries == [("moses", "said"), ("rod",)]  # no leading "Ġ" space in the keys
    det = SpanDetector(matcher=LexiconMatcher(lex.entries, lex.kinds))
    doc = SpanEncoder(det)(tok, ["And Moses said unto Aaron, Take the rod."])
    assert int(((doc.arrays["span_kind"] > 0) & (doc.arrays["span_start"] == 1)).sum()) == 2
