"""Long-document strategies keep exactly the documented pieces; word-piece label alignment (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.errors import ConfigError, DataError
from reprlab.tokenizers import WordPieceTokenizer
from reprlab.transfer.long_text import (
    LongText,
    chunk_starts,
    cut_pieces,
    head_tail_sizes,
    select_key_sentences,
    sentence_scores,
)
from reprlab.transfer.text_inputs import IGNORE_INDEX, TextWindows, align_word_labels
from tests.transfer.text_fixtures import tiny_vocab

DOC = list(range(1000, 2000))  # 1,000 distinct piece ids


def test_head_tail_budgets_scale_sun_et_al():
    assert head_tail_sizes(510) == (128, 382)  # Sun et al. 2019 at BERT's 512
    assert head_tail_sizes(126) == (32, 94)  # max length 128: round(126 * 128 / 510) = 32
    (w,) = cut_pieces(DOC, 126, LongText("head+tail"))
    assert w == DOC[:32] + DOC[-94:]
    assert cut_pieces(DOC, 126, LongText("head")) == [DOC[:126]]
    assert cut_pieces(DOC, 126, LongText("tail")) == [DOC[-126:]]
    assert cut_pieces(DOC[:50], 126, LongText("head+tail")) == [DOC[:50]]  # short documents are whole


@given(n=st.integers(1, 600), budget=st.integers(1, 130), stride_frac=st.floats(0.1, 1.0))
@settings(max_examples=200, deadline=None)
def test_chunks_cover_the_document_with_the_stride(n, budget, stride_frac):
    stride = max(1, int(budget * stride_frac))
    doc = list(range(n))
    windows = cut_pieces(doc, budget, LongText("chunks", chunk_stride=stride, max_chunks=10_000))
    starts = chunk_starts(n, budget, stride)
    assert [w[0] for w in windows] == starts
    assert all(len(w) == min(n, budget) for w in windows)
    assert set().union(*map(set, windows)) == set(doc)  # every piece is seen
    assert windows[-1][-1] == n - 1  # the last window ends at the document's end
    assert all(b - a == stride for a, b in zip(starts[:-2], starts[1:-1]))


def test_chunks_refuse_a_stride_that_skips_pieces_and_too_many_chunks():
    with pytest.raises(ConfigError, match="chunk_stride=20 exceeds the window of 10"):
        cut_pieces(DOC, 10, LongText("chunks", chunk_stride=20))
    with pytest.raises(DataError, match=r"doc\.jsonl:3: 1000 word pieces need 100 chunks of 10, more than "
                                        r"long_text.max_chunks=64"):
        cut_pieces(DOC, 10, LongText("chunks"), what="doc.jsonl:3")


def test_key_sentences_keep_the_most_central_in_document_order():
    texts = ["The ark was built of gopher wood.", "Noah built the ark and the ark floated.",
             "Bananas are yellow.", "The ark floated on the flood for many days with Noah."]
    scores = sentence_scores(texts, "tfidf")
    assert scores.argmin() == 2  # the off-topic sentence is least central
    sentences = [[10 * i + j for j in range(n)] for i, n in enumerate((7, 8, 3, 11))]
    flat = [p for s in sentences for p in s]
    (w,) = cut_pieces(flat, 20, LongText("key-sentences"), sentences=sentences, sentence_texts=texts)
    kept = select_key_sentences([7, 8, 3, 11], list(scores), 20)
    assert kept == sorted(kept) and sum((7, 8, 3, 11)[i] for i in kept) <= 20
    assert w == [p for i in kept for p in sentences[i]]  # whole sentences, in their original order
    rank = sentence_scores(texts, "textrank")
    assert abs(rank.sum() - 1) < 1e-9 and rank.argmin() == 2  # PageRank is a distribution


def test_key_sentences_through_the_tokenizer_keep_original_order(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(tiny_vocab()) + "\n")
    tok = WordPieceTokenizer.from_vocab(tmp_path / "vocab.txt")
    split = lambda t: [s.strip() + "." for s in t.split(".") if s.strip()]  # noqa: E731
    win = TextWindows(tok, 14, LongText("key-sentences"), sentence_splitter=split)
    doc = "the dog runs on the road. a fish swims in water. the dog and the cat runs on the road."
    ex = win.single(doc)
    tokens = [tok.id_to_token(i) for i in ex.ids[0]]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and len(tokens) <= 14
    body = " ".join(tokens[1:-1])
    assert "fish" not in body and body.startswith("the dog runs")


words = st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=12), min_size=1, max_size=30)


@given(ws=words, data=st.data())
@settings(max_examples=150, deadline=None)
def test_token_labels_align_to_first_pieces_exactly(ws, data, tmp_path_factory):
    tags = data.draw(st.lists(st.integers(0, 6), min_size=len(ws), max_size=len(ws)))
    d = tmp_path_factory.getbasetemp() / "vocab"
    d.mkdir(exist_ok=True)
    (d / "vocab.txt").write_text("\n".join(tiny_vocab()) + "\n")
    tok = WordPieceTokenizer.from_vocab(d / "vocab.txt")
    ex = TextWindows(tok, 512).words(ws, tags)
    word_ids = ex.meta["word_ids"]
    labels = ex.label
    # reference: re-tokenize every word on its own; its first piece gets the tag, the rest -100
    expected = [IGNORE_INDEX]
    for i, w in enumerate(ws):
        n = len(tok.encode_sequence(w).ids)
        expected += [tags[i]] + [IGNORE_INDEX] * (n - 1)
    expected.append(IGNORE_INDEX)
    assert labels == expected
    assert [labels[p] for p, w in enumerate(word_ids) if w is not None and (p == 0 or word_ids[p - 1] != w)] == tags
    assert align_word_labels([None, 0, 0, 1, None], [5, 6]) == [-100, 5, -100, 6, -100]


def test_tags_that_do_not_match_tokens_and_empty_texts_are_errors(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(tiny_vocab()) + "\n")
    win = TextWindows(WordPieceTokenizer.from_vocab(tmp_path / "vocab.txt"), 32, segments=False)
    with pytest.raises(DataError, match="t.jsonl:2: 2 tokens but 1 tags"):
        win.words(["a", "dog"], [1], what="t.jsonl:2")
    with pytest.raises(DataError, match="t.jsonl:4: empty text"):
        win.single("   ", what="t.jsonl:4")
    with pytest.raises(ConfigError, match="text pairs need segment embeddings"):
        win.pair("a dog", "a cat")


@given(n=st.integers(1, 300), budget=st.integers(2, 40), stride_frac=st.floats(0.1, 1.0))
@settings(max_examples=150, deadline=None)
def test_each_piece_is_owned_by_a_window_where_it_has_the_most_context(n, budget, stride_frac):
    from reprlab.transfer.text_inputs import piece_owners

    starts = chunk_starts(n, budget, max(1, int(budget * stride_frac)))
    lengths = [min(n, budget)] * len(starts)
    owners = piece_owners(n, lengths, starts)
    for p, j in enumerate(owners):
        s = starts[j]
        assert s <= p < s + lengths[j]
        context = [min(p - a, a + m - 1 - p) for a, m in zip(starts, lengths) if a <= p < a + m]
        assert min(p - s, s + lengths[j] - 1 - p) == max(context)
    assert owners == sorted(owners)  # windows take over in reading order
    assert piece_owners(12, [6, 6, 6], [0, 3, 6]) == [0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2]  # ties: the earlier


def test_tagging_in_chunks_labels_every_word_once_and_other_strategies_are_refused(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(tiny_vocab()) + "\n")
    tok = WordPieceTokenizer.from_vocab(tmp_path / "vocab.txt")
    ws = "the big red dog runs on the road and the small cat swims in the water".split()
    tags = list(range(len(ws)))
    head = TextWindows(tok, 8).words(ws, tags)
    assert len(head.ids) == 1 and sorted(t for t in head.label if t != IGNORE_INDEX) == tags[:6]  # the rest is cut
    ex = TextWindows(tok, 8, LongText("chunks", chunk_stride=3)).words(ws, tags)
    assert len(ex.ids) > 1 and all(len(w) <= 8 for w in ex.ids)
    assert [t for t in ex.label if t != IGNORE_INDEX] == tags  # every word, once, in order
    for (j, pos), piece in zip(ex.meta["pieces_at"], tok.encode_sequence(" ".join(ws)).ids):
        assert ex.ids[j][pos] == piece  # the owner window holds the piece where pieces_at says
    for strategy in ("tail", "head+tail", "key-sentences"):
        with pytest.raises(ConfigError, match="tagging must keep whole runs of words"):
            TextWindows(tok, 8, LongText(strategy)).words(ws, tags)
