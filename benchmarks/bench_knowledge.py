"""ERNIE 1.0 knowledge masking: span detection and masking throughput on the whole KJV Bible.

Rows (docs/benchmarks.md, benchmark ``knowledge``):

- **lexicon match**: :class:`~reprlab.pretrain.knowledge.LexiconMatcher` (token trie, leftmost-
  longest) over the word keys of every verse, against the plain-Python way — one ``re``
  alternation of the escaped entries, longest first, bounded by whitespace, over the verse's words
  joined by spaces (Python's leftmost-first alternation with longest-first order is leftmost-
  longest too). The lexicon is every distinct phrase and entity that ``--spans auto`` finds.
  Quality: both find the same spans.
- **prepare --spans auto**: the whole ``prepare`` (one tokenization: the shards are written with
  word keys as scratch arrays, counted for NPMI and capitalisation, and the span arrays computed
  from them) against plain ``prepare`` (no spans) — the price of span detection, one worker each.
- **knowledge mask**: collate + knowledge masking (phrases and entities whole) of every training
  instance (128 tokens, batches of 32) against HF ``DataCollatorForLanguageModeling(
  whole_word_mask=True)`` given offsets that make its "words" our phrase/entity/word groups (the
  same grouping, HF's own selection).

Run: ``flock /work/locks/cpu.lock python benchmarks/bench_knowledge.py`` (about 4 minutes; work
files in ``runs/bench-pretrain``, shared with bench_pretrain.py).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402

from bench_pretrain import hf_features, kjv_setup, offsets_from_word_starts  # noqa: E402
from reprlab.pretrain.batches import Collator  # noqa: E402
from reprlab.pretrain.instances import InstanceConfig  # noqa: E402
from reprlab.pretrain.knowledge import (  # noqa: E402
    LexiconMatcher,
    SpanConfig,
    prepare_knowledge_shards,
    sentence_words,
)
from reprlab.pretrain.knowledge_masking import knowledge_groups  # noqa: E402
from reprlab.pretrain.masking import mask_tokens  # noqa: E402
from reprlab.pretrain.shards import PrepareConfig, ShardSet, prepare_shards  # noqa: E402

from harness import compare, with_throughput, write_rows  # noqa: E402


def corpus_words(tok_dir: Path) -> list[list[str]]:
    from reprlab.pretrain.corpus import iter_corpus
    from reprlab.tokenizers.loading import load_tokenizer

    tok = load_tokenizer(tok_dir)
    return [sentence_words(tok.encode_sequence(s), s)[1] for d in iter_corpus(["kjv"]) for s in d]


def auto_lexicon(tok_dir: Path, sentences: list[list[str]], work: Path) -> list[tuple[str, ...]]:
    """Every distinct span the auto detector finds (the lexicon of the match row)."""
    from reprlab.pretrain.corpus import iter_corpus
    from reprlab.pretrain.knowledge import CorpusStats, SpanDetector, collocations, proper_words
    from reprlab.tokenizers.loading import load_tokenizer

    tok = load_tokenizer(tok_dir)
    words = [sentence_words(tok.encode_sequence(s), s)[1:] for d in iter_corpus(["kjv"]) for s in d]
    stats = CorpusStats()
    for keys, caps in words:
        stats.add(keys, caps)
    det = SpanDetector(colloc=frozenset(collocations(stats, 0.5, 10)), proper=proper_words(stats, 0.5))
    found: dict[tuple[str, ...], None] = {}
    for keys, caps in words:
        for a, b, _ in det.spans(keys, caps):
            found.setdefault(tuple(keys[a:b]))
    return list(found)


def match_rows(tok_dir: Path, work: Path) -> list:
    sentences = corpus_words(tok_dir)
    lexicon = auto_lexicon(tok_dir, sentences, work)
    matcher = LexiconMatcher(lexicon)
    alternatives = sorted({" ".join(e) for e in lexicon}, key=len, reverse=True)
    pattern = re.compile(r"(?<!\S)(?:" + "|".join(map(re.escape, alternatives)) + r")(?!\S)")
    texts = [" ".join(s) for s in sentences]
    n_words = sum(map(len, sentences))

    def ours():
        return [[(s, e) for s, e, _, _ in matcher.match(keys)] for keys in sentences]

    def reference():
        out = []
        for text in texts:  # character offsets -> word offsets
            row = []
            for m in pattern.finditer(text):
                first = text.count(" ", 0, m.start())
                row.append((first, first + m.group().count(" ") + 1))
            out.append(row)
        return out

    def quality(a, b):
        return f"same spans: {a == b} ({sum(map(len, a)):,} spans, {len(lexicon):,} entries, {n_words:,} words)"

    row = compare("knowledge", "lexicon match, whole KJV", ours, reference, repeats=2, warmup=0,
                  reference_name="Python re alternation (longest first)", quality=quality)
    return [with_throughput(row, n_words, "words/s")]


def prepare_rows(tok_dir: Path, work: Path) -> list:
    def cfg(name: str) -> PrepareConfig:
        return PrepareConfig(corpus=["kjv"], tokenizer=str(tok_dir), output=str(work / name), workers=1,
                             overwrite=True)

    tokens = []

    def ours():
        r = prepare_knowledge_shards(cfg("bench-spans"), SpanConfig(spans="auto"))
        tokens.append(r.tokens)
        return r.meta["spans"]["train"]

    def reference():
        return prepare_shards(cfg("bench-plain")).tokens

    row = compare("knowledge", "prepare --spans auto, whole KJV (1 worker)", ours, reference, repeats=2, warmup=0,
                  reference_name="plain prepare (no spans)",
                  quality=lambda a, b: f"{a['phrase_spans']:,} phrases, {a['entity_spans']:,} entities in train")
    return [with_throughput(row, tokens[-1], "tokens/s")]


def masking_rows(work: Path) -> list:
    import transformers
    from transformers import DataCollatorForLanguageModeling

    from reprlab.pretrain.runs import pretraining_data

    shards = ShardSet(work / "bench-spans")
    ids = shards.special_ids
    special = sorted(i for i in ids.values() if i is not None)
    data, _ = pretraining_data(shards, "full-sentences", InstanceConfig(max_length=128), seed=0, batch_size=32)
    items = [x for x in (data[i] for i in range(len(data))) if len(x["input_ids"]) == 128]  # HF needs equal rows
    batches = [items[i:i + 32] for i in range(0, len(items), 32)]
    collate = Collator(ids["pad"])
    pool = torch.tensor([i for i in range(shards.vocab_size) if i not in special])
    n_tokens = sum(len(x["input_ids"]) for x in items)
    tok = transformers.AutoTokenizer.from_pretrained(str(work / "tokenizer-8000"))
    hf = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, whole_word_mask=True, seed=0)
    feats = []
    for group in batches:
        f = hf_features([x["input_ids"].tolist() for x in group], set(special))
        for fi, x in zip(f, group):
            starts = (x["span_start"] > 0) | x["special"]
            fi["offset_mapping"] = offsets_from_word_starts(starts.tolist())
        feats.append(f)

    def ours():
        selected = 0
        for group in batches:
            b = collate(group)
            groups = knowledge_groups(b.word_ids, b.special_tokens_mask, b.extras["span_start"], b.extras["span_kind"],
                                      "knowledge")
            _, labels = mask_tokens(b.input_ids, b.special_tokens_mask, vocab_size=shards.vocab_size,
                                    mask_token_id=ids["mask"], word_ids=groups, keys=b.keys, random_ids=pool)
            selected += int((labels != -100).sum())
        return selected

    def reference():
        selected = 0
        for f in feats:
            selected += int((hf(f)["labels"] != -100).sum())
        return selected

    candidates = sum(int((~x["special"]).sum()) for x in items)
    row = compare("knowledge", "collate + knowledge mask, whole KJV train split", ours, reference, repeats=2,
                  warmup=0, reference_name="HF DataCollatorForLanguageModeling(whole_word_mask=True) on our groups",
                  quality=lambda a, b: f"masked share {a / candidates:.2%} (ours) / {b / candidates:.2%} (HF)")
    return [with_throughput(row, n_tokens, "tokens/s")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default="runs/bench-pretrain")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-write", action="store_true", help="print the rows only (a smoke run)")
    p.add_argument("--rows", default="match,prepare,mask", help="comma-separated subset of match, prepare, mask")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    tok_dir, _ = kjv_setup(work)
    t0 = time.perf_counter()
    wanted = set(args.rows.split(","))
    rows = ((match_rows(tok_dir, work) if "match" in wanted else []) + (prepare_rows(tok_dir, work) if "prepare" in
            wanted else []) + (masking_rows(work) if "mask" in wanted else []))
    if not args.no_write:
        write_rows(rows)
    print(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
