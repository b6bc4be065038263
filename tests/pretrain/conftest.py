"""Shared fixtures: a WordPiece tokenizer and shards made from the bundled KJV sample (84 chapters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprlab.pretrain.corpus import iter_corpus
from reprlab.pretrain.shards import PrepareConfig, ShardSet, prepare_shards
from reprlab.tokenizers import train_wordpiece


@pytest.fixture(scope="session")
def sample_tokenizer(tmp_path_factory) -> Path:
    """A 1,000-token uncased WordPiece vocabulary trained on the KJV sample."""
    tok = train_wordpiece((s for d in iter_corpus(["kjv-sample"]) for s in d), 1000)
    return tok.save_pretrained(tmp_path_factory.mktemp("tok") / "wordpiece")


@pytest.fixture(scope="session")
def sample_shards(tmp_path_factory, sample_tokenizer) -> Path:
    """Shards of the KJV sample with 10% of the chapters held out."""
    out = tmp_path_factory.mktemp("shards") / "kjv"
    prepare_shards(PrepareConfig(corpus=["kjv-sample"], tokenizer=str(sample_tokenizer), output=str(out),
                                 valid_fraction=0.1, workers=1))
    return out


@pytest.fixture(scope="session")
def train_shards(sample_shards) -> ShardSet:
    return ShardSet(sample_shards, "train")


@pytest.fixture(scope="session")
def small_shards(tmp_path_factory, sample_tokenizer) -> Path:
    """Shards of Genesis 1-14 (about 12k tokens): an epoch of 128-token instances is a few steps."""
    docs = list(iter_corpus(["kjv-sample"]))[:14]
    d = tmp_path_factory.mktemp("small")
    (d / "genesis.txt").write_text("\n\n".join("\n".join(doc) for doc in docs) + "\n")
    out = d / "shards"
    prepare_shards(PrepareConfig(corpus=[str(d / "genesis.txt")], tokenizer=str(sample_tokenizer), output=str(out),
                                 valid_fraction=0.2, workers=1))
    return out
