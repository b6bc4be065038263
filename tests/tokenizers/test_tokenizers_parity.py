"""WordPieceTokenizer vs HF's Rust BertWordPieceTokenizer on a real BERT vocabulary."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprlab.tokenizers import WordPieceTokenizer

tokenizers = pytest.importorskip("tokenizers")

FIXED = [
    "", " ", "   \t\n  ", "\u3000\xa0\u2028", "Hello, world!", "Héllo wörld, ÀÉÎÕÜ çà et là",
    "unaffable", "The quick brown fox's [MASK] jumped.", "hello [SEP] world [MASK]x [cls]",
    "你好，世界！日本語のテキスト", "鈴木さん", "emoji 🤗🚀 😀 ok", "control\x00chars\x07and\ufffd\x0bhere\x85",
    "a" * 99, "b" * 100, "c" * 101, "word " + "x" * 250, "İstanbul ΣΟΦΙΑ ﬁne straße", "don't stop—ever…",
    "$100 + 5% = <tag> ^_^ `code` |pipe| ~tilde~", "tab\tseparated\nlines\r\nend", "Ελληνικά Кириллица עברית العربية",
    "ﬀ ﬃ Å Ω K", "١٢٣ ٤٥٦", "e\u0301 a\u0300\u0323", "[UNK][PAD][CLS]", "[CLS]", "[MASK", "x[SEP]y",
    "unassigned \u0378\u3040 kept", "punctuation\u2e44newer a\U0001183a\u0301b", "a\u0301\U0001d165 x\u1b44\u0301",
]

# Every code point a UTF-8 text can hold, unassigned ones included: HF's own Unicode tables are
# matched (reprlab.tokenizers.unicode); lone surrogates are refused (test_tokenizers_unicode.py).
_ANY = st.characters(codec="utf-8")


def _texts(vocab_words):
    piece = st.one_of(st.sampled_from(vocab_words), st.text(_ANY, min_size=1, max_size=6),
                      st.sampled_from(["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "İ", "ß", "\x00", "\u2028"]),
                      st.sampled_from([" ", "  ", "\t", "\n", "\u3000", "\xa0", ""]))
    return st.lists(piece, max_size=15).map("".join)


def _same(ours, ref, text, pair=None):
    a = ours.encode(text, pair)
    b = ref.encode(text, pair) if pair is not None else ref.encode(text)
    assert a.tokens == b.tokens, text
    assert a.ids == b.ids
    assert a.offsets == [tuple(o) for o in b.offsets]
    assert a.special_tokens_mask == b.special_tokens_mask
    assert a.type_ids == b.type_ids
    assert a.word_ids == b.word_ids
    assert a.attention_mask == b.attention_mask


@pytest.fixture(scope="module", params=["uncased", "cased"])
def pair_of_tokenizers(request, uncased_vocab, cased_vocab):
    lower = request.param == "uncased"
    path = uncased_vocab if lower else cased_vocab
    ours = WordPieceTokenizer.from_vocab(path, lowercase=lower)
    ref = tokenizers.BertWordPieceTokenizer(str(path), lowercase=lower)
    return ours, ref


@pytest.mark.parametrize("text", FIXED)
def test_fixed_cases_match_hf(pair_of_tokenizers, text):
    _same(*pair_of_tokenizers, text)


def test_pairs_match_hf(pair_of_tokenizers):
    ours, ref = pair_of_tokenizers
    for a, b in [("Hello there.", "General Kenobi!"), ("", "x"), ("naïve café", "")]:
        _same(ours, ref, a, b)


def test_hypothesis_text_matches_hf(pair_of_tokenizers):
    ours, ref = pair_of_tokenizers
    words = [t for t in list(ours.vocab)[1000:8000] if not t.startswith("##")]

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(_texts(words), st.one_of(st.none(), _texts(words)))
    def check(text, pair):
        _same(ours, ref, text, pair)

    check()


@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
def test_truncation_and_padding_match_hf(uncased_vocab, strategy):
    ours = WordPieceTokenizer.from_vocab(uncased_vocab)
    ref = tokenizers.BertWordPieceTokenizer(str(uncased_vocab), lowercase=True)
    texts = [("a b c d e f g", "h i j"), ("a b", "c d e f g h"), ("a b c d e", "f g h i"),
             ("one two three four five six seven eight", "nine ten eleven twelve thirteen fourteen")]
    for max_length in (7, 8, 12):
        ref.enable_truncation(max_length, strategy=strategy)
        ref.enable_padding(length=max_length, pad_id=0, pad_token="[PAD]")
        for a, b in texts:
            try:
                want = ref.encode(a, b)
            except Exception:
                with pytest.raises(Exception, match="too short"):
                    ours.encode(a, b, max_length=max_length, truncation=strategy, padding="max_length")
                continue
            got = ours.encode(a, b, max_length=max_length, truncation=strategy, padding="max_length")
            assert got.tokens == want.tokens, (a, b, max_length)
            assert got.type_ids == want.type_ids
            assert got.attention_mask == want.attention_mask
            assert got.special_tokens_mask == want.special_tokens_mask
            assert got.offsets == [tuple(o) for o in want.offsets]


def test_batch_padding_to_longest(uncased_vocab):
    ours = WordPieceTokenizer.from_vocab(uncased_vocab)
    batch = ours.encode_batch(["short", "a much longer sentence here", ("pair", "of texts")], padding="longest")
    assert {len(e) for e in batch} == {7}
    assert batch[0].attention_mask == [1, 1, 1, 0, 0, 0, 0]
    assert batch[0].tokens[-1] == "[PAD]" and batch[0].ids[-1] == 0
    assert batch[2].type_ids == [0, 0, 0, 1, 1, 1, 0]  # padding has type 0


def test_decode_matches_hf(uncased_vocab):
    ref = tokenizers.BertWordPieceTokenizer(str(uncased_vocab), lowercase=True)  # decoder cleanup=True
    plain = WordPieceTokenizer.from_vocab(uncased_vocab)
    cleaned = WordPieceTokenizer.from_vocab(uncased_vocab, cleanup=True)
    for text in ["unaffable people don't say hello, world!", "Ünïcödé 你好 ok?", "##weird start"]:
        ids = plain.encode(text).ids
        assert cleaned.decode(ids) == ref.decode(ids)
        tokens = plain.encode(text).tokens
        assert plain.decode(ids, skip_special_tokens=False) == " ".join(tokens).replace(" ##", "")


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd", "Po", "Zs")), max_size=60))
def test_round_trip_is_normalized_text(text):
    """decode(encode(x)) == the normalized words joined by spaces, whenever no [UNK] appears."""
    from tests.tokenizers.conftest import _minilm_dir
    tok = _round_trip_tokenizer(_minilm_dir() / "vocab.txt")
    enc = tok.encode(text)
    if "[UNK]" in enc.tokens:
        return
    words = tok.pre_tokenizer.words(tok.normalizer(text))
    assert tok.decode(enc.ids) == " ".join(words)


_CACHE: dict = {}


def _round_trip_tokenizer(path):
    if path not in _CACHE:
        _CACHE[path] = WordPieceTokenizer.from_vocab(path)
    return _CACHE[path]


def test_hf_fast_tokenizer_from_pretrained_agrees(uncased_vocab, tmp_path):
    """transformers' BertTokenizerFast reads a directory written by save_pretrained."""
    transformers = pytest.importorskip("transformers")
    ours = WordPieceTokenizer.from_vocab(uncased_vocab)
    out = ours.save_pretrained(tmp_path / "tok")
    hf = transformers.BertTokenizerFast.from_pretrained(str(out))
    for text in FIXED[:20]:
        assert hf(text)["input_ids"] == ours.encode(text).ids
    again = WordPieceTokenizer.from_pretrained(out)
    assert again.vocab == ours.vocab and again.parameters == ours.parameters


def test_checkpoint_directory_matches_transformers(uncased_vocab, monkeypatch):
    """from_pretrained on the real checkpoint directory == transformers' BertTokenizerFast on it."""
    transformers = pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ours = WordPieceTokenizer.from_pretrained(uncased_vocab.parent)
    hf = transformers.BertTokenizerFast.from_pretrained(str(uncased_vocab.parent))
    for text in FIXED:
        got = hf(text, return_offsets_mapping=True, return_special_tokens_mask=True)
        enc = ours.encode(text)
        assert enc.ids == got["input_ids"], text
        assert enc.offsets == [tuple(o) for o in got["offset_mapping"]]
        assert enc.special_tokens_mask == got["special_tokens_mask"]
