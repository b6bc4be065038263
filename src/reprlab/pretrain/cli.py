"""``reprlab pretrain corpus|prepare|run|eval|fill|export`` (registered by reprlab.cli.main).

Each handler parses its arguments into a typed config and calls one library function; heavy imports
stay inside the handlers so ``reprlab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reprlab.cli.common import add_config_args, command_group, run_config_from_args

EPILOG_RUN = """examples:
  reprlab pretrain run --objective roberta --model bert-mini --shards shards/kjv -o runs/roberta
  reprlab pretrain run --objective bert --shards shards/kjv -o runs/bert --set train.max_steps=2000
  reprlab pretrain run --shards shards/kjv -o runs/wwm --set masking.whole_word=true --set masking.mlm_probability=0.25
  torchrun --nproc_per_node=2 -m reprlab.cli.main pretrain run --shards shards/kjv -o runs/ddp"""


def _corpus(args: argparse.Namespace) -> int:
    from reprlab.pretrain.corpus import write_corpus_text

    docs, sents = write_corpus_text(args.sources, args.output)
    print(f"{docs:,} documents, {sents:,} sentences written to {args.output}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from reprlab.pretrain.shards import PrepareConfig, prepare_shards

    cfg = PrepareConfig(corpus=args.sources, tokenizer=args.tokenizer, output=args.output,
                        valid_fraction=args.valid_fraction, seed=args.seed, workers=args.workers,
                        shard_tokens=args.shard_tokens, text_field=args.text_field, overwrite=args.overwrite)
    result = prepare_shards(cfg, command=["reprlab", *sys.argv[1:]])
    splits = result.meta["splits"]
    print(f"{result.tokens:,} tokens in {result.seconds:.1f} s ({result.tokens_per_second:,.0f} tokens/s, "
          f"{cfg.workers or 'all'} workers): train {splits['train']['documents']:,} documents / "
          f"{splits['train']['tokens']:,} tokens, valid {splits['valid']['documents']:,} / "
          f"{splits['valid']['tokens']:,} -> {result.output}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from reprlab.pretrain.runs import PretrainRunConfig, run_pretrain

    for flag in ("objective", "model", "shards"):
        if getattr(args, flag):
            args.overrides.append(f"{flag}={getattr(args, flag)!r}")
    cfg = run_config_from_args(PretrainRunConfig, args)
    result = run_pretrain(cfg)
    ev = result.evaluation
    line = f"{cfg.objective} {cfg.model}: {result.steps} steps in {result.train_seconds:.0f} s"
    if ev:
        line += (f"; held-out MLM loss {ev['mlm_loss']:.3f} (ppl {ev['mlm_ppl']:.1f}, unigram {ev['unigram_loss']:.3f}),"
                 f" accuracy {ev['mlm_acc']:.1%} (most frequent token {ev['most_frequent_acc']:.1%})")
        for task in ("nsp", "sop"):
            if f"{task}_acc" in ev:
                line += f", {task.upper()} accuracy {ev[f'{task}_acc']:.1%}"
    print(line)
    print(f"run directory: {result.run_dir}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from reprlab.pretrain.runs import PretrainEvalConfig, run_eval

    out = run_eval(PretrainEvalConfig(run=args.run, shards=args.shards or "", split=args.split,
                                      batch_size=args.batch_size, checkpoint=args.checkpoint))
    if args.json:
        print(json.dumps(out, indent=1, sort_keys=True))
        return 0
    line = (f"{args.run} on {out['shards']} ({out['split']}, {out['masked_tokens']:,} masked tokens): MLM loss "
            f"{out['mlm_loss']:.3f}, perplexity {out['mlm_ppl']:.1f}, accuracy {out['mlm_acc']:.1%} "
            f"(unigram loss {out['unigram_loss']:.3f}, most-frequent-token accuracy {out['most_frequent_acc']:.1%})")
    for task in ("nsp", "sop"):
        if f"{task}_acc" in out:
            line += f"; {task.upper()} accuracy {out[f'{task}_acc']:.1%}"
    print(line)
    return 0


def _fill(args: argparse.Namespace) -> int:
    from reprlab.pretrain.pretrained import fill_mask, load_pretrained

    completions, filled = fill_mask(load_pretrained(args.run), args.text, top_k=args.top_k)
    for c in completions:
        print(f"position {c.position}: " + ", ".join(f"{t} ({p:.3f})" for t, p in zip(c.tokens, c.probabilities)))
    print(filled)
    return 0


def _export(args: argparse.Namespace) -> int:
    from reprlab.pretrain.pretrained import load_pretrained, to_hf

    model = load_pretrained(args.run)
    out = to_hf(model, args.output, args.architecture)
    arch = json.loads((out / "config.json").read_text())["architectures"][0]
    print(f"{arch} written to {out}/ (transformers.{arch}.from_pretrained reads it)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reprlab pretrain ...``."""
    verbs = command_group(sub, "pretrain", "BERT/RoBERTa/ALBERT pretraining: shards, masking, runs")

    c = verbs.add_parser("corpus", help="write a named corpus (kjv, kjv-sample, wordnet, ...) as plain text",
                         description="Write documents as plain text: one sentence per line, a blank line between "
                                     "documents (the input `reprlab tokenizer train` reads).")
    c.add_argument("sources", nargs="+", metavar="CORPUS", help="kjv | kjv-sample | wordnet | wordnet-sample | FILE | DIR")
    c.add_argument("-o", "--output", required=True, metavar="FILE")
    c.set_defaults(handler=_corpus)

    p = verbs.add_parser("prepare", help="tokenize a corpus into memory-mapped shards",
                         description="Tokenize plain text (one sentence per line, blank line between documents), "
                                     "JSONL (a 'text' field per document) or named corpora into uint16/uint32 token "
                                     "shards with a document/sentence index and a held-out split.")
    p.add_argument("sources", nargs="+", metavar="CORPUS", help="files, directories, or kjv | kjv-sample | wordnet")
    p.add_argument("--tokenizer", required=True, metavar="DIR", help="a `reprlab tokenizer train` directory")
    p.add_argument("-o", "--output", required=True, metavar="SHARDS_DIR")
    p.add_argument("--valid-fraction", type=float, default=0.05, metavar="F", help="documents held out (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seeds the held-out choice")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="tokenizer processes (default: one per core)")
    p.add_argument("--shard-tokens", type=int, default=1 << 24, metavar="N", help="tokens per shard (default 2^24)")
    p.add_argument("--text-field", default="text", help="JSONL field with the text (default: text)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing SHARDS_DIR")
    p.set_defaults(handler=_prepare)

    r = verbs.add_parser("run", help="pretrain a BERT-family model on shards",
                         description="Pretrain through the shared Trainer; every PretrainRunConfig field can be "
                                     "set with --config FILE.toml or --set key=value.",
                         epilog=EPILOG_RUN, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--objective", help="bert (MLM+NSP) | roberta (MLM, default) | albert (MLM+SOP)")
    r.add_argument("--model", help="encoder preset, e.g. tiny, bert-mini (default), bert-small")
    r.add_argument("--shards", metavar="DIR", help="directory from `reprlab pretrain prepare`")
    add_config_args(r)
    r.set_defaults(handler=_run)

    e = verbs.add_parser("eval", help="held-out MLM loss, perplexity, accuracy (and NSP/SOP accuracy) of a run")
    e.add_argument("run", metavar="RUN")
    e.add_argument("--shards", metavar="DIR", help="default: the shards the run was trained on")
    e.add_argument("--split", choices=("valid", "train"), default="valid")
    e.add_argument("--batch-size", type=int, default=64)
    e.add_argument("--checkpoint", metavar="NAME", help="e.g. checkpoint-000500 (default: the final weights)")
    e.add_argument("--json", action="store_true", help="print every number as JSON")
    e.set_defaults(handler=_eval)

    f = verbs.add_parser("fill", help="top-k completions of every [MASK] in a text",
                         description='e.g. reprlab pretrain fill runs/bert "in the beginning god created the [MASK]"')
    f.add_argument("run", metavar="RUN")
    f.add_argument("text")
    f.add_argument("-k", "--top-k", type=int, default=5)
    f.set_defaults(handler=_fill)

    x = verbs.add_parser("export", help="write a HF transformers directory (weights, heads, tokenizer)")
    x.add_argument("run", metavar="RUN")
    x.add_argument("-o", "--output", required=True, metavar="DIR")
    x.add_argument("--architecture", help="BertForPreTraining | BertForMaskedLM | RobertaForMaskedLM | "
                                          "AlbertForPreTraining | AlbertForMaskedLM (default: the objective's)")
    x.set_defaults(handler=_export)


def demo(out_dir: Path) -> str:
    """``reprlab demo``'s pretraining step (see :func:`reprlab.pretrain.runs.run_demo`)."""
    from reprlab.pretrain.runs import run_demo
    from reprlab.train import torch_threads

    with torch_threads(1):  # a tiny model: one thread is faster, and kinder to a shared machine
        return run_demo(Path(out_dir) / "pretrain")
