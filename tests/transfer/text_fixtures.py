"""A tiny BERT (random weights, 2 layers, H=32) with a word-level WordPiece vocabulary, saved as a HF directory."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from reprlab.text import Encoder, EncoderConfig
from reprlab.tokenizers import WordPieceTokenizer

WORDS = ("the a dog cat bird fish horse car truck ship train plane red blue green big small fast slow runs "
         "swims flies drives sails on in water road sky and of is was to it").split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ANIMALS = ("dog", "cat", "bird", "fish", "horse")
VEHICLES = ("car", "truck", "ship", "train", "plane")


def tiny_vocab() -> list[str]:
    pieces = [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + list("abcdefghijklmnopqrstuvwxyz.,!?'")
    return list(dict.fromkeys(SPECIALS + list(WORDS) + pieces))


def tiny_model_dir(path: Path, *, seed: int = 0, type_vocab_size: int = 2, pooler: bool = True,
                   roberta: bool = False) -> Path:
    """Write a random tiny BERT (or, with ``roberta``, RoBERTa: one segment, positions from pad + 1, no pooler)
    + tokenizer as a HF directory at ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab()
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    WordPieceTokenizer.from_vocab(path / "vocab.txt").save_pretrained(path)
    torch.manual_seed(seed)
    cfg = EncoderConfig(vocab_size=len(vocab), hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                        max_position=64, type_vocab_size=type_vocab_size, pooler=pooler)
    if roberta:  # [PAD] = 0, so HF RoBERTa's positions start at 1
        cfg = cfg.replace(type_vocab_size=1, pooler=False, position_offset=1, max_position=66)
    Encoder(cfg).to_hf(path)
    return path


def toy_rows(n: int = 40, seed: int = 0) -> list[dict]:
    """Sentences about animals (label 'animal') or vehicles ('vehicle'): a task a tiny model learns in seconds."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        kind = i % 2
        noun = (ANIMALS, VEHICLES)[kind][int(torch.randint(5, (1,), generator=g))]
        adj = ("red", "big", "small", "fast", "slow")[int(torch.randint(5, (1,), generator=g))]
        rows.append({"text": f"the {adj} {noun} is on the road", "label": ("animal", "vehicle")[kind]})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
