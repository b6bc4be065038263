"""Bad input gives one clear error; CLI verbs; very long input stays linear."""

from __future__ import annotations

import time

import pytest

from reprlab.cli.main import main
from reprlab.errors import ConfigError, DataError, MissingDataError
from reprlab.tokenizers import WordPieceTokenizer, load_tokenizer, read_vocab, train_bpe, train_wordpiece


def _vocab(tmp_path, lines, name="vocab.txt"):
    p = tmp_path / name
    p.write_text("".join(t + "\n" for t in lines), encoding="utf-8")
    return p


def test_vocab_errors(tmp_path):
    with pytest.raises(MissingDataError, match="vocabulary file not found"):
        read_vocab(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="vocabulary is empty"):
        WordPieceTokenizer.from_vocab(_vocab(tmp_path, [], "empty.txt"))
    with pytest.raises(DataError, match=r"dup.txt:3: token 'a' duplicates line 2"):
        WordPieceTokenizer.from_vocab(_vocab(tmp_path, ["[UNK]", "a", "a"], "dup.txt"))
    with pytest.raises(DataError, match=r"lacks the special token\(s\) \[CLS\], \[SEP\]"):
        WordPieceTokenizer.from_vocab(_vocab(tmp_path, ["[UNK]", "a"], "nocls.txt"))
    with pytest.raises(DataError, match="empty vocabulary line"):
        read_vocab(_vocab(tmp_path, ["[UNK]", "", "a"], "blank.txt"))
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("[UNK]\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_vocab(bad)


def test_trainer_errors(tmp_path):
    with pytest.raises(DataError, match="corpus is empty"):
        train_wordpiece(["", "   "], 100)
    with pytest.raises(ConfigError, match="vocab_size=10 is smaller than the"):
        train_wordpiece(["hello world"], 10)
    with pytest.raises(ConfigError, match="smaller than the 5 symbols of the alphabet"):
        train_bpe({"abcde": 3}, 4)
    with pytest.raises(ConfigError, match=r"special_tokens lacks \[CLS\]"):
        train_wordpiece(["x"], 100, special_tokens=["[UNK]", "[SEP]"])
    with pytest.raises(ConfigError, match="method='bogus'"):
        train_wordpiece(["x"], 100, method="bogus")


def test_encode_errors(tmp_path):
    tok = WordPieceTokenizer.from_vocab(_vocab(tmp_path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "##a"]))
    with pytest.raises(ConfigError, match="truncation needs max_length"):
        tok.encode("a a", truncation=True)
    with pytest.raises(ConfigError, match="too short to truncate"):
        tok.encode("a", "a a a a a a", max_length=5, truncation="only_first")
    with pytest.raises(ConfigError, match="outside the vocabulary"):
        tok.decode([99])
    assert tok.encode("aaa b").tokens == ["[CLS]", "a", "##a", "##a", "[UNK]", "[SEP]"]


def test_non_utf8_corpus_names_file_and_line(tmp_path, capsys):
    f = tmp_path / "bad.txt"
    f.write_bytes(b"good line\ncaf\xe9 au lait\n")
    code = main(["tokenizer", "train", "--vocab-size", "50", "-q", str(f), "-o", str(tmp_path / "out")])
    assert code == 2
    assert "bad.txt:2: not valid UTF-8" in capsys.readouterr().err


def test_cli_train_and_encode(tmp_path, capsys):
    f = tmp_path / "c.txt"
    f.write_text("the lowest newest widest low\nlower lowest newer\n" * 20, encoding="utf-8")
    for kind, extra in (("wordpiece", ["--method", "frequency", "--lowercase"]), ("bpe", []),
                        ("bpe", ["--byte-level"])):
        out = tmp_path / f"{kind}{len(extra)}"
        size = "300" if "--byte-level" in extra else "40"
        assert main(["tokenizer", "train", "--kind", kind, *extra, "--vocab-size", size, "-q", str(f),
                     "-o", str(out)]) == 0
        capsys.readouterr()
        assert main(["tokenizer", "encode", "-m", str(out), "the newest"]) == 0
        printed = capsys.readouterr().out
        assert printed.startswith("tokens: ") and "offsets:" in printed
        tok = load_tokenizer(out)
        assert tok.decode(tok.encode("the newest").ids).replace(" ", "") == "thenewest"
    assert main(["tokenizer", "train", "--kind", "bpe", "--method", "likelihood", "--vocab-size", "40", "-q",
                 str(f), "-o", str(tmp_path / "x")]) == 2


def test_cli_bpe_special_tokens_come_first_and_stay_whole(tmp_path, capsys):
    f = tmp_path / "c.txt"
    f.write_text("In the beginning God created the heaven and the earth.\n" * 20, encoding="utf-8")
    out = tmp_path / "bpe"
    assert main(["tokenizer", "train", "--kind", "bpe", "--byte-level", "--vocab-size", "300", "-q", str(f),
                 "--special-tokens", "<s>", "<pad>", "</s>", "<mask>", "-o", str(out)]) == 0
    tok = load_tokenizer(out)
    assert [tok.vocab[t] for t in ("<s>", "<pad>", "</s>", "<mask>")] == [0, 1, 2, 3]
    assert "<mask>" in tok.encode("let there be<mask>.", add_special_tokens=False).tokens
    capsys.readouterr()
    assert main(["tokenizer", "train", "--vocab-size", "50", "-q", str(f), "--special-tokens", "<s>",
                 "-o", str(tmp_path / "wp")]) == 2
    assert "--special-tokens applies to --kind bpe" in capsys.readouterr().err


def test_ten_megabyte_line_is_linear(uncased_vocab):
    """A 10 MB single line (2 MB of words, then one 8M-character word) takes time linear in size."""
    tok = WordPieceTokenizer.from_vocab(uncased_vocab)
    line = "tokenization of a very long line, " * 30_000  # ~1 MB
    t0 = time.perf_counter()
    small = tok.encode(line)
    t_small = time.perf_counter() - t0
    t0 = time.perf_counter()
    big = tok.encode(line * 2 + "x" * 8_000_000)
    elapsed = time.perf_counter() - t0
    assert big.tokens[-2] == "[UNK]" and big.offsets[-2] == (2 * len(line), 2 * len(line) + 8_000_000)
    assert len(big) == 2 * (len(small) - 2) + 3
    assert elapsed < 10 * max(t_small, 0.05)


def test_demo_summary(tmp_path):
    from reprlab.tokenizers.cli import demo
    line = demo(tmp_path)
    assert line.startswith("tokenizers: WordPiece (likelihood) vocab 2000")
    assert (tmp_path / "tokenizer" / "vocab.txt").is_file()


def test_never_split_tokens(tmp_path):
    vocab = _vocab(tmp_path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "<e1>", "a", "b", "<", ">", "e", "##1"])
    tok = WordPieceTokenizer.from_vocab(vocab, never_split=["<e1>"])
    enc = tok.encode("a<e1>b")
    assert enc.tokens == ["[CLS]", "a", "<e1>", "b", "[SEP]"] and enc.offsets[2] == (1, 5)
    assert tok.decode(enc.ids) == "a <e1> b"
    plain = WordPieceTokenizer.from_vocab(vocab)
    assert plain.encode("<e1>").tokens == ["[CLS]", "<", "e", "##1", ">", "[SEP]"]
    with pytest.raises(ConfigError, match="not in the vocabulary"):
        WordPieceTokenizer.from_vocab(vocab, never_split=["<e2>"])
