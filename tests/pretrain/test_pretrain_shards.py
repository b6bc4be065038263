"""prepare: layout, determinism across worker counts, streaming shards, dtypes, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reprlab.errors import ConfigError, DataError, MissingDataError
from reprlab.pretrain import corpus as corpus_mod
from reprlab.pretrain.corpus import iter_corpus
from reprlab.pretrain.shards import PrepareConfig, ShardSet, prepare_shards, read_meta, token_dtype, vocab_hash
from reprlab.tokenizers import WordPieceTokenizer, load_tokenizer


def files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_layout_meta_and_round_trip(sample_shards, sample_tokenizer):
    meta = read_meta(sample_shards)
    tok = load_tokenizer(sample_tokenizer)
    assert meta["tokenizer"]["vocab_hash"] == vocab_hash(tok) and meta["token_dtype"] == "uint16"
    assert meta["tokenizer"]["special_ids"] == {"cls": 2, "sep": 3, "mask": 4, "pad": 0, "unk": 1, "bos": None,
                                               "eos": None}
    assert set(meta["arrays"]) == {"tokens", "word_start", "caps", "sentences", "documents"}
    docs = list(iter_corpus(["kjv-sample"]))
    tr, va = meta["splits"]["train"], meta["splits"]["valid"]
    assert tr["documents"] + va["documents"] == len(docs) == 84 and 3 <= va["documents"] <= 15
    assert tr["sentences"] + va["sentences"] == sum(map(len, docs))
    # tokens read back equal the tokenizer's output, document by document, in corpus order per split
    train = ShardSet(sample_shards, "train")
    from reprlab.pretrain.shards import is_held_out
    kept = [d for i, d in enumerate(docs) if not is_held_out(i, 0.1, 0)]
    so, do = train.sentence_offsets, train.document_offsets
    for d in (0, 17, len(kept) - 1):
        expect = [tok.encode_sequence(s).ids for s in kept[d]]
        got = [train.read("tokens", so[s], so[s + 1]).tolist() for s in range(do[d], do[d + 1])]
        assert got == expect
    starts = train.read("word_start", 0, train.num_tokens)
    assert starts.dtype == np.uint8 and 0.6 < starts.mean() < 1.0
    caps = train.read("caps", 0, train.num_tokens)  # capitals of the raw text, on word starts only
    assert caps.dtype == np.uint8 and not np.any(caps & ~starts) and 0.05 < caps.sum() / starts.sum() < 0.3
    assert (train.directory / "tokenizer" / "vocab.txt").is_file()


def test_same_bytes_whatever_the_workers_and_many_small_shards(tmp_path, sample_tokenizer):
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        prepare_shards(PrepareConfig(corpus=["kjv-sample"], tokenizer=str(sample_tokenizer), output=str(out),
                                     workers=workers, shard_tokens=20_000, docs_per_task=3), command=["x"])
        outs.append(files(out))
    assert outs[0] == outs[1]
    meta = json.loads(outs[0]["meta.json"])
    shards = meta["splits"]["train"]["shards"]
    assert len(shards) >= 4  # streamed: a shard is written every ~20k tokens, not the corpus at once
    assert all(s["tokens"] >= 20_000 for s in shards[:-1]) and max(s["tokens"] for s in shards) < 30_000
    # the virtual token array reads across shard boundaries
    one = ShardSet(tmp_path / "w1")
    lo = int(one.token_offsets[1]) - 5
    assert len(one.read("tokens", lo, lo + 10)) == 10


def test_uint32_when_the_vocabulary_is_large(tmp_path):
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]
                                        + [f"w{i}" for i in range(70_000)])}
    tok = WordPieceTokenizer(vocab)
    tok.save_pretrained(tmp_path / "big")
    (tmp_path / "c.txt").write_text("w69999 a\nb w3\n\nw5\nw6 w7\n")
    prepare_shards(PrepareConfig(corpus=[str(tmp_path / "c.txt")], tokenizer=str(tmp_path / "big"),
                                 output=str(tmp_path / "s"), valid_fraction=0.0, workers=1))
    s = ShardSet(tmp_path / "s")
    assert s.meta["token_dtype"] == "uint32" and token_dtype(65536) == np.uint16
    assert s.read("tokens", 0, 2).tolist() == [vocab["w69999"], vocab["a"]]


def test_jsonl_directories_and_sentence_splitting(tmp_path, sample_tokenizer):
    d = tmp_path / "corpus"
    (d / "sub").mkdir(parents=True)
    (d / "a.jsonl").write_text(json.dumps({"text": "In the beginning. God created the heaven! And the earth?"}) + "\n"
                               + json.dumps({"text": "One more document."}) + "\n")
    (d / "sub" / "b.txt").write_text("first line\nsecond line\n\nthird document\n")
    prepare_shards(PrepareConfig(corpus=[str(d)], tokenizer=str(sample_tokenizer), output=str(tmp_path / "s"),
                                 valid_fraction=0.0, workers=1))
    s = ShardSet(tmp_path / "s")
    assert np.diff(s.document_offsets).tolist() == [3, 1, 2, 1]  # sentences per document


def test_bad_inputs_are_one_line_errors(tmp_path, sample_tokenizer, sample_shards):
    def prep(corpus, **kw):
        kw.setdefault("output", str(tmp_path / "out"))
        return prepare_shards(PrepareConfig(corpus=corpus, tokenizer=str(sample_tokenizer), workers=1, **kw))

    (tmp_path / "empty.txt").write_text("\n\n   \n")
    with pytest.raises(DataError, match="the corpus is empty"):
        prep([str(tmp_path / "empty.txt")])
    with pytest.raises(MissingDataError, match="no such file or directory"):
        prep([str(tmp_path / "missing.txt")])
    (tmp_path / "bad.txt").write_bytes(b"ok line\n\xff\xfe broken\n")
    with pytest.raises(DataError, match=r"bad.txt:2: not valid UTF-8"):
        prep([str(tmp_path / "bad.txt")])
    (tmp_path / "two.txt").write_text("a b\n\nc d\n")
    with pytest.raises(DataError, match="no document landed in the valid split"):
        prep([str(tmp_path / "two.txt")], valid_fraction=0.01)
    prep([str(tmp_path / "two.txt")], valid_fraction=0.0)
    with pytest.raises(ConfigError, match="already exists; pass --overwrite"):
        prep([str(tmp_path / "two.txt")], valid_fraction=0.0)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary directories left


def test_interrupted_prepare_leaves_nothing_and_reruns_clean(tmp_path, sample_tokenizer, monkeypatch):
    real = corpus_mod.NAMED_CORPORA["kjv-sample"]

    def interrupted():
        for i, doc in enumerate(real()):
            if i == 50:
                raise KeyboardInterrupt
            yield doc

    monkeypatch.setitem(corpus_mod.NAMED_CORPORA, "kjv-sample", interrupted)
    cfg = PrepareConfig(corpus=["kjv-sample"], tokenizer=str(sample_tokenizer), output=str(tmp_path / "s"),
                        workers=1, shard_tokens=5000)
    with pytest.raises(KeyboardInterrupt):
        prepare_shards(cfg)
    assert list(tmp_path.iterdir()) == []  # not half-written: no target, no temporary directory
    monkeypatch.setitem(corpus_mod.NAMED_CORPORA, "kjv-sample", real)
    prepare_shards(cfg)
    assert ShardSet(tmp_path / "s").num_documents > 60


@pytest.fixture()
def shard_copy(tmp_path, sample_shards):
    import shutil
    return Path(shutil.copytree(sample_shards, tmp_path / "copy"))


def test_truncated_or_flipped_shard_and_corrupt_index_are_named(shard_copy):
    tokens = shard_copy / "train" / "00000" / "tokens.npy"
    data = bytearray(tokens.read_bytes())
    data[-3] ^= 0xFF  # one flipped byte in the token data
    tokens.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"tokens.npy: checksum differs from meta.json .* re-run `reprlab pretrain prepare"):
        ShardSet(shard_copy).read("tokens", 0, 5)
    assert ShardSet(shard_copy, verify=False).read("tokens", 0, 5).shape == (5,)
    tokens.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    with pytest.raises(DataError, match="tokens.npy: (checksum differs|unreadable)"):
        ShardSet(shard_copy).read("tokens", 0, 5)
    with pytest.raises(DataError, match="tokens.npy: unreadable"):
        ShardSet(shard_copy, verify=False).read("tokens", 0, 5)
    sentences = shard_copy / "valid" / "00000" / "sentences.npy"
    sentences.unlink()
    with pytest.raises(DataError, match=r"valid/00000/sentences.npy: missing"):
        ShardSet(shard_copy, "valid")
    (shard_copy / "meta.json").write_text("{not json")
    with pytest.raises(DataError, match=r"meta.json: corrupt JSON"):
        ShardSet(shard_copy)
    with pytest.raises(MissingDataError, match="no such shard directory"):
        ShardSet(shard_copy / "nope")


def test_tokenizer_copy_is_checked_against_the_vocabulary_hash(shard_copy):
    vocab = shard_copy / "tokenizer" / "vocab.txt"
    lines = vocab.read_text().splitlines()
    vocab.write_text("\n".join(lines[:-1] + ["zzzz"]) + "\n")
    with pytest.raises(DataError, match="vocabulary hash .* differs from meta.json"):
        ShardSet(shard_copy).tokenizer()
    with pytest.raises(DataError, match="made with vocabulary .* prepare the shards with that model's tokenizer"):
        ShardSet(shard_copy).check_vocab("sha256:" + "0" * 64, "runs/x")


def capitalised(tokenizer, sentences):
    """An encoder with one more per-token array: 1 where the raw word starts with a capital."""
    from reprlab.pretrain.shards import encode_document

    doc = encode_document(tokenizer, sentences)
    if doc is None:
        return None
    caps = []
    for s in sentences:
        enc = tokenizer.encode_sequence(s)
        caps += [int(s[a:b][:1].isupper()) for a, b in enc.offsets]
    doc.arrays["capital"] = np.asarray(caps, dtype=np.uint8)
    return doc


def test_side_arrays_flow_from_prepare_to_batches(tmp_path, sample_tokenizer):
    from reprlab.pretrain.batches import Collator, InstanceDataset, Layout
    from reprlab.pretrain.instances import InstanceConfig, build_instances

    (tmp_path / "c.txt").write_text("And God said\nLet there be light\n\nthe Lord is my shepherd\nI shall not want\n")
    prepare_shards(PrepareConfig(corpus=[str(tmp_path / "c.txt")], tokenizer=str(sample_tokenizer),
                                 output=str(tmp_path / "s"), valid_fraction=0.0, workers=1),
                   encode=capitalised, extra_arrays={"capital": "uint8"})
    shards = ShardSet(tmp_path / "s")
    assert shards.meta["arrays"]["capital"] == {"per": "token", "dtype": "uint8"}
    inst = build_instances(shards, InstanceConfig(packing="full-sentences", max_length=64))
    ds = InstanceDataset(shards, inst, Layout.from_special_ids(shards.special_ids), extra_arrays=["capital"])
    batch = Collator(0)([ds[0]])
    caps = batch.extras["capital"][0]
    assert caps.shape == batch.input_ids[0].shape and int(caps[0]) == 0  # [CLS]
    tok = load_tokenizer(sample_tokenizer)
    capital_tokens = [tok.id_to_token(int(i)) for i, c in zip(batch.input_ids[0], caps) if c]
    assert capital_tokens == ["and", "god", "let", "lord", "i"]  # lower-cased ids, capitals from the raw text
