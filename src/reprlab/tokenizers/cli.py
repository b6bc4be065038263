"""``reprlab tokenizer train|encode`` (registered by reprlab.cli.main) and the tokenizer demo."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from reprlab.cli.common import command_group


def _train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from reprlab.data import iter_lines
    from reprlab.errors import ConfigError
    from reprlab.tokenizers.tokenizer import Tokenizer
    from reprlab.tokenizers.trainers import train_bpe, train_wordpiece

    if args.kind == "wordpiece" and args.special_tokens:
        raise ConfigError("--special-tokens applies to --kind bpe; WordPiece always has BERT's [PAD] [UNK] [CLS] "
                          "[SEP] [MASK]")
    if args.kind == "bpe" and args.method not in (None, "frequency"):
        raise ConfigError(f"--method {args.method} applies to --kind wordpiece; BPE merges by frequency")
    lines = iter_lines(args.files)
    extra: dict[str, Any] = {} if args.special_tokens is None else {"special_tokens": _token_list(args.special_tokens)}
    if args.max_word_chars is not None:
        extra["max_word_chars"] = args.max_word_chars
    tok: Tokenizer
    with tqdm(total=args.vocab_size, desc=f"{args.kind} merges", unit="tok", disable=args.quiet) as bar:
        if args.kind == "wordpiece":
            tok = train_wordpiece(lines, args.vocab_size, method=args.method or "likelihood",
                                  lowercase=args.lowercase, min_frequency=args.min_frequency,
                                  limit_alphabet=args.limit_alphabet, progress=bar.update, **extra)
        else:
            tok = train_bpe(lines, args.vocab_size, min_frequency=args.min_frequency, byte_level=args.byte_level,
                            limit_alphabet=args.limit_alphabet, progress=bar.update, **extra)
    out = tok.save_pretrained(args.output)
    print(f"{args.kind} vocabulary of {tok.vocab_size} tokens written to {out}/")
    return 0


def _token_list(tokens: list[str]) -> list[str]:
    from reprlab.errors import ConfigError

    if not all(t.strip() for t in tokens):
        raise ConfigError(f"--special-tokens {' '.join(map(repr, tokens))} has an empty entry; give each token as "
                          "its own argument, e.g. --special-tokens '<s>' '<pad>' '</s>' '<unk>' '<mask>'")
    return tokens


def _encode(args: argparse.Namespace) -> int:
    from reprlab.tokenizers.loading import load_tokenizer

    tok = load_tokenizer(args.model)
    enc = tok.encode(args.text, args.pair, max_length=args.max_length,
                     truncation=bool(args.max_length))
    if args.json:
        print(json.dumps({"tokens": enc.tokens, "ids": enc.ids, "offsets": enc.offsets,
                          "type_ids": enc.type_ids}, ensure_ascii=False))
        return 0
    print("tokens: ", " ".join(enc.tokens))
    print("ids:    ", " ".join(map(str, enc.ids)))
    print("offsets:", " ".join(f"{a}:{b}" for a, b in enc.offsets))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reprlab tokenizer train`` and ``reprlab tokenizer encode``."""
    verbs = command_group(sub, "tokenizer", "train and apply WordPiece / BPE tokenizers")

    t = verbs.add_parser("train", help="learn a vocabulary from text files")
    t.add_argument("files", nargs="+", metavar="FILES", help="UTF-8 text files or directories (one sentence per line)")
    t.add_argument("--kind", choices=("bpe", "wordpiece"), default="wordpiece")
    t.add_argument("--method", choices=("likelihood", "frequency"),
                   help="WordPiece merge criterion (default likelihood); BPE always uses frequency")
    t.add_argument("--vocab-size", type=int, required=True, metavar="N")
    t.add_argument("--lowercase", action="store_true", help="uncased WordPiece (lower-case, strip accents)")
    t.add_argument("--byte-level", action="store_true", help="GPT-2 byte-level BPE")
    t.add_argument("--special-tokens", nargs="+", metavar="TOKEN",
                   help="BPE: tokens kept whole and given the first ids (default: <unk> for classic BPE, none "
                        "for byte-level; RoBERTa: '<s>' '<pad>' '</s>' '<unk>' '<mask>')")
    t.add_argument("--min-frequency", type=int, default=0, metavar="N")
    t.add_argument("--limit-alphabet", type=int, metavar="N", help="keep only the N most frequent characters")
    t.add_argument("--max-word-chars", type=int, metavar="N",
                   help="leave longer words out of training (default 100 for wordpiece, 1000 for bpe)")
    t.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write the tokenizer to")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    t.set_defaults(handler=_train)

    e = verbs.add_parser("encode", help="print tokens, ids and offsets of a text")
    e.add_argument("-m", "--model", required=True, metavar="DIR", help="tokenizer directory (or a BERT checkpoint dir)")
    e.add_argument("text")
    e.add_argument("pair", nargs="?", help="optional second text")
    e.add_argument("--max-length", type=int, metavar="N", help="truncate (longest_first) to N tokens")
    e.add_argument("--json", action="store_true", help="one JSON object instead of three lines")
    e.set_defaults(handler=_encode)


def demo(out_dir: Path) -> str:
    """Train a 2,000-token WordPiece vocabulary on the bundled corpus, save it, encode a sentence."""
    from reprlab.data import iter_lines, sample_path
    from reprlab.tokenizers.trainers import train_wordpiece
    from reprlab.tokenizers.wordpiece import WordPieceTokenizer

    tok = train_wordpiece(iter_lines([sample_path("corpus.txt")]), 2000, method="likelihood")
    path = tok.save_pretrained(Path(out_dir) / "tokenizer")
    tok = WordPieceTokenizer.from_pretrained(path)
    sentence = "Unsupervised pretraining of word-pieces, naïvely!"
    enc = tok.encode(sentence)
    return (f"tokenizers: WordPiece (likelihood) vocab {tok.vocab_size} -> {path}; "
            f"{sentence!r} -> {' '.join(enc.tokens)}")
