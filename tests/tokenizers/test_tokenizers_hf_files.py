"""Issue 20.3: saved tokenizer directories load in HF tokenizers and transformers as they are.

WordPiece, classic BPE and byte-level BPE directories are read by ``tokenizers.Tokenizer.from_file``
and ``transformers.AutoTokenizer.from_pretrained``; both give our ids on odd Unicode text (pairs
too). Also: RoBERTa special tokens for the BPE trainers, ``<unk>`` for classic BPE, and padded
tensors from ``encode_batch(..., return_tensors="pt")``.
"""

from __future__ import annotations

import json

import pytest

from reprlab.errors import ConfigError
from reprlab.tokenizers import BatchEncoding, load_tokenizer, train_bpe, train_wordpiece
from reprlab.tokenizers.bpe import ROBERTA_SPECIAL_TOKENS

tokenizers = pytest.importorskip("tokenizers")
transformers = pytest.importorskip("transformers")

ODD = ["Héllo wörld, naïve café!", "你好，世界 日本語のテキスト", "emoji 🤗🚀 ok", "tab\tand\u3000ideographic space",
       "unassigned \u0378\u3040 and newer \u2e44 \U0001183a marks", "e\u0301 a\u0300\u0323 \U0001d15e\u0301",
       "ÀÉÎÕÜ ΣΟΦΙΑ İstanbul straße ﬁne", "the lowest newest", "", "   ", "\ufdd0 noncharacter\ufdd1 end\ufdd0",
       "special <mask> and <s> inside, [MASK] too", "a\u0000b\u0007c\ufffd"]
PAIRS = [("first sentence", "second one"), ("Héllo", "wörld 🤗"), ("", "x")]


@pytest.fixture(scope="module")
def trained(corpus_lines, tmp_path_factory):
    """The three kinds, trained on the bundled corpus and saved."""
    lines = corpus_lines[:2000] + ["Héllo wörld naïve café 你好 🤗"]
    made = {"wordpiece": train_wordpiece(lines, 600, method="frequency"),
            "bpe": train_bpe(lines, 300),
            "byte-level": train_bpe(lines, 500, byte_level=True, special_tokens=ROBERTA_SPECIAL_TOKENS)}
    return {kind: (tok, tok.save_pretrained(tmp_path_factory.mktemp(kind))) for kind, tok in made.items()}


@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "byte-level"])
def test_directory_has_the_hf_files(trained, kind):
    tok, d = trained[kind]
    names = {p.name for p in d.iterdir()}
    assert {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} <= names
    assert ("vocab.txt" in names) if kind == "wordpiece" else {"vocab.json", "merges.txt"} <= names
    config = json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8"))
    special = json.loads((d / "special_tokens_map.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == ("BertTokenizer" if kind == "wordpiece" else "PreTrainedTokenizerFast")
    assert special["unk_token"] == config["unk_token"] and config["unk_token"] in tok.vocab
    assert not list(d.glob("*.tmp"))


@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "byte-level"])
def test_hf_tokenizers_from_file_gives_our_ids(trained, kind):
    tok, d = trained[kind]
    hf = tokenizers.Tokenizer.from_file(str(d / "tokenizer.json"))
    assert hf.get_vocab_size() == tok.vocab_size
    for text in ODD:
        ours, ref = tok.encode(text), hf.encode(text)
        assert ours.ids == ref.ids, text
        assert ours.type_ids == ref.type_ids and ours.special_tokens_mask == ref.special_tokens_mask
        if kind != "bpe":  # HF spells classic BPE's free-standing </w> as a reserved character
            assert ours.tokens == ref.tokens and ours.offsets == [tuple(o) for o in ref.offsets], text
        assert hf.decode(ref.ids) == tok.decode(ours.ids), text
    for a, b in PAIRS:
        assert tok.encode(a, b).ids == hf.encode(a, b).ids
        assert tok.encode(a, b).type_ids == hf.encode(a, b).type_ids


@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "byte-level"])
def test_transformers_auto_tokenizer_gives_our_ids(trained, kind, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok, d = trained[kind]
    hf = transformers.AutoTokenizer.from_pretrained(str(d))
    for text in ODD:
        assert hf(text)["input_ids"] == tok.encode(text).ids, text
    for a, b in PAIRS:
        got = hf(a, b)
        assert got["input_ids"] == tok.encode(a, b).ids
    assert hf.unk_token == tok.parameters["unk_token"]
    if kind == "byte-level":
        assert (hf.bos_token, hf.eos_token, hf.pad_token, hf.mask_token) == ("<s>", "</s>", "<pad>", "<mask>")
    texts = ["short", "a longer text, with more words"]
    assert tok.pad_token == hf.pad_token  # None for classic BPE trained without <pad>, as in HF
    if kind == "bpe":  # classic BPE trained without <pad>: both refuse to pad
        with pytest.raises(ValueError, match="padding token"):
            hf(texts, padding=True, return_tensors="pt")
        with pytest.raises(ConfigError, match="pad token '<pad>'"):
            tok.encode_batch(texts, padding=True, return_tensors="pt")
        return
    batch = hf(texts, padding=True, return_tensors="pt")
    ours = tok.encode_batch(texts, padding=True, return_tensors="pt")
    assert ours.input_ids.tolist() == batch["input_ids"].tolist()
    assert ours.attention_mask.tolist() == batch["attention_mask"].tolist()


@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "byte-level"])
def test_saved_directory_reloads_in_reprlab(trained, kind):
    tok, d = trained[kind]
    again = load_tokenizer(d)
    assert type(again) is type(tok) and again.vocab == tok.vocab
    for text in ODD:
        assert again.encode(text).ids == tok.encode(text).ids


def test_classic_bpe_maps_unseen_characters_to_unk():
    """é in "Héllo" used to vanish; now it is <unk>, with its own offsets."""
    tok = train_bpe(["hello yellow low", "hell"], 20)
    assert tok.vocab["<unk>"] == 0
    enc = tok.encode("Héllo")
    assert enc.tokens.count("<unk>") == 2 and enc.ids.count(0) == 2  # H and é are outside the alphabet
    assert enc.offsets[:2] == [(0, 1), (1, 2)]
    assert tok.decode(enc.ids) == "llo"  # special tokens are skipped
    assert tok.decode(enc.ids, skip_special_tokens=False).startswith("<unk><unk>")


def test_bpe_trainers_take_roberta_special_tokens(corpus_lines):
    """Byte-level training with RoBERTa's specials: HF's vocabulary (ids included), specials first;
    encode wraps texts as RoBERTa does."""
    lines = corpus_lines[:3000]
    ours = train_bpe(lines, 600, byte_level=True, min_frequency=2, special_tokens=ROBERTA_SPECIAL_TOKENS)
    ref = tokenizers.ByteLevelBPETokenizer()
    ref.train_from_iterator(lines, vocab_size=600, min_frequency=2, special_tokens=list(ROBERTA_SPECIAL_TOKENS),
                            show_progress=False)
    assert ours.vocab == ref.get_vocab()
    assert [ours.vocab[t] for t in ROBERTA_SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    enc = ours.encode("Hello", "world")
    n1, n2 = len(ours.encode_sequence("Hello")), len(ours.encode_sequence("world"))
    assert enc.tokens == ["<s>", *ours.encode_sequence("Hello").tokens, "</s>", "</s>",
                          *ours.encode_sequence("world").tokens, "</s>"]
    assert set(enc.type_ids) == {0} and enc.special_tokens_mask == [1, *[0] * n1, 1, 1, *[0] * n2, 1]
    assert ours.encode("x <mask> y").tokens == ["<s>", "x", "Ġ", "<mask>", "Ġy", "</s>"]
    classic = train_bpe(lines, 300, special_tokens=ROBERTA_SPECIAL_TOKENS)
    assert list(classic.vocab)[:5] == list(ROBERTA_SPECIAL_TOKENS)


def test_encode_batch_returns_padded_tensors_like_hf(uncased_vocab, monkeypatch):
    import torch

    from reprlab.tokenizers import WordPieceTokenizer
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ours = WordPieceTokenizer.from_vocab(uncased_vocab)
    hf = transformers.AutoTokenizer.from_pretrained(str(uncased_vocab.parent))
    texts = ["short", "a much longer sentence, with punctuation!", ("pair", "of texts")]
    batch = ours.encode_batch(texts, padding=True, return_tensors="pt")
    ref = hf(["short", "a much longer sentence, with punctuation!"], padding=True, return_tensors="pt")
    assert isinstance(batch, BatchEncoding) and set(batch) == {"input_ids", "token_type_ids", "attention_mask"}
    assert batch.input_ids.dtype == torch.long and batch["input_ids"].shape == (3, batch.input_ids.shape[1])
    assert batch.input_ids[:2, :ref["input_ids"].shape[1]].tolist() == ref["input_ids"].tolist()
    assert batch["attention_mask"][:2, :ref["input_ids"].shape[1]].tolist() == ref["attention_mask"].tolist()
    pair = hf("pair", "of texts")
    n = len(pair["input_ids"])
    assert batch.token_type_ids[2, :n].tolist() == pair["token_type_ids"]
    assert batch.word_ids(2) == ours.encode("pair", "of texts").word_ids + [None] * (batch.input_ids.shape[1] - n)
    assert batch.special_tokens_mask.shape == batch.input_ids.shape and len(batch.encodings) == 3
    assert len(batch) == 3 and list(batch.keys()) == ["input_ids", "token_type_ids", "attention_mask"]  # keys, as HF
    assert batch[0].tokens[0] == "[CLS]"  # an int index gives that row's Encoding, as HF
    numpy_batch = ours.encode_batch(texts, padding=True, return_tensors="np")
    assert numpy_batch.input_ids.tolist() == batch.input_ids.tolist()
    with pytest.raises(ConfigError, match="padding=True"):
        ours.encode_batch(texts, return_tensors="pt")
    with pytest.raises(ConfigError, match="return_tensors='tf'"):
        ours.encode_batch(texts, padding=True, return_tensors="tf")
    assert ours.encode_batch(["same", "same"], return_tensors="pt").input_ids.shape == (2, 3)


def test_cli_trains_a_roberta_style_directory_hf_loads(tmp_path, capsys):
    from reprlab.cli.main import main
    corpus = tmp_path / "c.txt"
    corpus.write_text("the lowest newest widest low\nHéllo wörld 🤗\n" * 30, encoding="utf-8")
    out = tmp_path / "roberta"
    assert main(["tokenizer", "train", str(corpus), "--kind", "bpe", "--byte-level", "--vocab-size", "300", "-q",
                 "--special-tokens", "<s>", "<pad>", "</s>", "<unk>", "<mask>", "-o", str(out)]) == 0
    hf = tokenizers.Tokenizer.from_file(str(out / "tokenizer.json"))
    ours = load_tokenizer(out)
    assert hf.encode("Héllo 🤗").ids == ours.encode("Héllo 🤗").ids and ours.encode("x").tokens[0] == "<s>"
    assert main(["tokenizer", "train", str(corpus), "--kind", "bpe", "--special-tokens", "<s>", "", "x",
                 "--vocab-size", "300", "-q", "-o", str(tmp_path / "bad")]) == 2
    assert "empty entry" in capsys.readouterr().err


def test_model_directory_with_tokenizer_loads_in_transformers(trained, tmp_path, monkeypatch):
    """``Encoder.to_hf(dir, tokenizer=tok)`` writes a complete model: AutoTokenizer + AutoModel load
    it, and HF's hidden states on HF's batch equal ours on our BatchEncoding."""
    import torch

    from reprlab.text import Encoder, EncoderConfig
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = trained["wordpiece"][0]
    torch.manual_seed(0)
    encoder = Encoder(EncoderConfig.preset("tiny", vocab_size=tok.vocab_size)).eval()
    model_dir = encoder.to_hf(tmp_path / "model", tokenizer=tok)
    assert {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt"} <= {p.name for p in model_dir.iterdir()}
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(model_dir))
    hf_model = transformers.AutoModel.from_pretrained(str(model_dir)).eval()
    texts = ["Héllo wörld, naïve café!", "the lowest newest", ("a pair", "of texts 🤗")]
    ours = tok.encode_batch(texts, padding=True, return_tensors="pt")
    theirs = hf_tok(texts[:2], padding=True, return_tensors="pt")
    assert hf_tok.model_max_length == encoder.config.max_length
    pair = hf_tok("a pair", "of texts 🤗")["input_ids"]
    assert ours.input_ids[2, :len(pair)].tolist() == pair
    assert ours.input_ids[:2, :theirs["input_ids"].shape[1]].tolist() == theirs["input_ids"][:2].tolist()
    with torch.no_grad():
        mine = encoder(**ours).last_hidden_state
        ref = hf_model(**{k: ours[k] for k in ours}).last_hidden_state
    real = ours.attention_mask.bool()  # our encoder zeroes padding positions; HF leaves them
    assert torch.allclose(mine[real], ref[real], atol=1e-5)
