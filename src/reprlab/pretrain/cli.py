"""``reprlab pretrain corpus|prepare|run|eval|fill|export`` (registered by reprlab.cli.main).

Each handler parses its arguments into a typed config and calls one library function; heavy imports
stay inside the handlers so ``reprlab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reprlab.cli.common import add_config_args, build_config, command_group

EPILOG_RUN = """examples:
  reprlab pretrain run --objective roberta --model bert-mini --shards shards/kjv -o runs/roberta
  reprlab pretrain run --objective bert --shards shards/kjv -o runs/bert --set train.max_steps=2000
  reprlab pretrain run --shards shards/kjv -o runs/wwm --set masking.whole_word=true --set masking.mlm_probability=0.25
  reprlab pretrain run --shards shards/kjv-spans -o runs/ernie --masking staged --set masking.stages=[0.4,0.3,0.3]
  reprlab pretrain run --shards shards/kjv -o runs/spanbert --masking span --set masking.span_replacement=true
  reprlab pretrain run --objective causal --shards shards/kjv-bpe -o runs/gpt --set instances.max_length=256
  reprlab pretrain run --objective xlnet --shards shards/kjv -o runs/xlnet --set partial_prediction_k=6
  reprlab pretrain run --objective ernie --stages stages.toml --shards shards/kjv -o runs/ernie
  reprlab pretrain run --tasks mlm=1,capitalization=0.5,sentence_distance=0.5 --shards shards/kjv -o runs/mt
  torchrun --nproc_per_node=2 -m reprlab.cli.main pretrain run --shards shards/kjv -o runs/ddp"""


def _corpus(args: argparse.Namespace) -> int:
    from reprlab.pretrain.corpus import write_corpus_text

    docs, sents = write_corpus_text(args.sources, args.output)
    print(f"{docs:,} documents, {sents:,} sentences written to {args.output}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from reprlab.pretrain.knowledge import SpanConfig, prepare_knowledge_shards
    from reprlab.pretrain.shards import PrepareConfig

    cfg = PrepareConfig(corpus=args.sources, tokenizer=args.tokenizer, output=args.output,
                        valid_fraction=args.valid_fraction, seed=args.seed, workers=args.workers,
                        shard_tokens=args.shard_tokens, text_field=args.text_field, overwrite=args.overwrite)
    spans = SpanConfig(spans=args.spans or ("lexicon" if args.lexicon else "none"), lexicon=args.lexicon or "",
                       npmi_threshold=args.npmi_threshold, npmi_min_count=args.npmi_min_count,
                       max_span_words=args.max_span_words, max_span_pieces=args.max_span_pieces)
    result = prepare_knowledge_shards(cfg, spans, command=["reprlab", *sys.argv[1:]])
    splits = result.meta["splits"]
    print(f"{result.tokens:,} tokens in {result.seconds:.1f} s ({result.tokens_per_second:,.0f} tokens/s, "
          f"{cfg.workers or 'all'} workers): train {splits['train']['documents']:,} documents / "
          f"{splits['train']['tokens']:,} tokens, valid {splits['valid']['documents']:,} / "
          f"{splits['valid']['tokens']:,} -> {result.output}")
    if "spans" in result.meta:
        c = result.meta["spans"]["train"]
        print(f"spans ({spans.spans}): {c['phrase_spans']:,} phrases ({c['phrase_pieces'] / c['pieces']:.1%} of the "
              f"pieces), {c['entity_spans']:,} entities ({c['entity_pieces'] / c['pieces']:.1%}) in the train split")
    return 0


def _run(args: argparse.Namespace) -> int:
    from reprlab.pretrain.runs import run_pretrain

    if (args.stages or args.tasks) and not args.objective:
        args.objective = "ernie"  # stages and tasks are the multi-task objective's
    for flag in ("objective", "model", "shards", "stages"):
        if getattr(args, flag):
            args.overrides.append(f"{flag}={getattr(args, flag)!r}")
    if args.masking:
        args.overrides.append(f"masking.unit={args.masking!r}")
    if args.tasks:
        args.overrides.append("tasks={" + ", ".join(f"{json.dumps(k)} = {v!r}" for k, v in _task_weights(args.tasks).items())
                              + "}")
    cfg = build_config(args)
    result = run_pretrain(cfg)
    ev = result.evaluation
    line = f"{cfg.objective} {cfg.model}: {result.steps} steps in {result.train_seconds:.0f} s"
    if ev:
        line += "; held-out " + _evaluation_summary(ev)
    print(line)
    print(f"run directory: {result.run_dir}")
    return 0


def _task_weights(text: str) -> dict[str, float]:
    """``mlm,capitalization`` (weight 1 each) or ``mlm=1,capitalization=0.5`` -> {task: weight}."""
    from reprlab.errors import ConfigError

    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        try:
            out[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise ConfigError(f"--tasks {text!r}: weight {weight!r} of {name.strip()!r} is not a number; write "
                              "e.g. --tasks mlm=1,capitalization=0.5") from None
    return out


def _eval(args: argparse.Namespace) -> int:
    from reprlab.pretrain.runs import PretrainEvalConfig, run_eval

    out = run_eval(PretrainEvalConfig(run=args.run, shards=args.shards or "", split=args.split,
                                      batch_size=args.batch_size, checkpoint=args.checkpoint))
    if args.json:
        print(json.dumps(out, indent=1, sort_keys=True))
        return 0
    masked = f", {out['masked_tokens']:,} masked tokens" if "masked_tokens" in out else ""
    print(f"{args.run} on {out['shards']} ({out['split']}{masked}): {_evaluation_summary(out)}")
    return 0


def _evaluation_summary(ev: dict) -> str:
    """One line of a held-out evaluation: MLM (with NSP/SOP, span and auxiliary-task figures) or autoregressive."""
    tasks = "".join(f"; {k[:-4]} accuracy {ev[k]:.1%} (chance {ev[k[:-4] + '_chance']:.1%})"
                    for k in ev if k.endswith("_acc") and k[:-4] + "_chance" in ev and k != "mlm_acc")
    if "mlm_loss" not in ev:  # an ernie run without the MLM task, or an autoregressive one
        return tasks.removeprefix("; ") if tasks else _autoregressive_summary(ev)
    line = (f"MLM loss {ev['mlm_loss']:.3f} (perplexity {ev['mlm_ppl']:.1f}; unigram loss {ev['unigram_loss']:.3f}), "
            f"accuracy {ev['mlm_acc']:.1%} (most frequent token {ev['most_frequent_acc']:.1%})")
    for task in ("nsp", "sop"):
        if f"{task}_acc" in ev:
            line += f"; {task.upper()} accuracy {ev[f'{task}_acc']:.1%}"
    return line + _span_summary(ev) + tasks


def _span_summary(ev: dict) -> str:
    """Accuracy on phrase and entity pieces (shards with spans), under piece and whole-span masking."""
    if ev.get("span_acc") is None:
        return ""
    def pct(v):
        return "-" if v is None else f"{v:.1%}"
    return (f"; phrase/entity pieces: accuracy {pct(ev['phrase_acc'])}/{pct(ev['entity_acc'])}, with whole spans "
            f"masked {pct(ev.get('knowledge_phrase_acc'))}/{pct(ev.get('knowledge_entity_acc'))}")


def _autoregressive_summary(ev: dict) -> str:
    """One line of a causal (``lm_*``) or permutation-LM (``plm_*``) evaluation."""
    p = "lm" if "lm_loss" in ev else "plm"
    what = "next-token" if p == "lm" else "permutation-LM"
    return (f"{what} loss {ev[f'{p}_loss']:.3f} (perplexity {ev[f'{p}_ppl']:.1f}; unigram {ev['unigram_ppl']:.1f}), "
            f"accuracy {ev[f'{p}_acc']:.1%} over {ev['predicted_tokens']:,} tokens")


def _generate(args: argparse.Namespace) -> int:
    from reprlab.pretrain.generate import GenerateConfig, generate_text

    cfg = GenerateConfig(run=args.run, prompt=args.prompt, max_new_tokens=args.max_new_tokens,
                         temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                         device=args.device or "cpu")
    print(args.prompt, end="", flush=True)
    for piece in generate_text(cfg):
        print(piece, end="", flush=True)
    print()
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
    from reprlab.pretrain.multitask import MultiTaskObjective

    if isinstance(model.objective, MultiTaskObjective) and len(model.objective.aux):
        folded = "; its MLM task embedding is folded into the position table" if model.objective.task_vectors is not None else ""
        print(f"note: the ERNIE heads {', '.join(model.objective.aux)} have no place in {arch} and are not "
              f"exported{folded}", file=sys.stderr)
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
    k = p.add_argument_group("phrase and entity spans (ERNIE knowledge masking, docs/ernie.md)")
    k.add_argument("--spans", choices=("none", "auto", "lexicon"),
                   help="store phrase/entity spans: auto = NPMI collocations + runs of capitalised words; "
                        "lexicon = --lexicon FILE (default: lexicon if --lexicon is given, else none)")
    k.add_argument("--lexicon", metavar="FILE", help="one phrase or entity per line (TEXT or TEXT<TAB>phrase|entity)")
    k.add_argument("--npmi-threshold", type=float, default=0.5, metavar="X",
                   help="auto: a word pair with NPMI >= X is a collocation (default 0.5)")
    k.add_argument("--npmi-min-count", type=int, default=10, metavar="N",
                   help="auto: ... seen at least N times (default 10)")
    k.add_argument("--max-span-words", type=int, default=4, metavar="N",
                   help="auto: longer phrases and entity runs are cut into chunks of N words (default 4)")
    k.add_argument("--max-span-pieces", type=int, default=16, metavar="N",
                   help="lexicon entries of more than N pieces are dropped, with a warning (default 16)")
    p.set_defaults(handler=_prepare)

    r = verbs.add_parser("run", help="pretrain a BERT-family model on shards",
                         description="Pretrain through the shared Trainer; every PretrainRunConfig field can be "
                                     "set with --config FILE.toml or --set key=value.",
                         epilog=EPILOG_RUN, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--objective", help="bert (MLM+NSP) | roberta (MLM, default) | albert (MLM+SOP) | "
                                       "causal (GPT-style LM) | xlnet (permutation LM) | ernie (multi-task)")
    r.add_argument("--model", help="encoder preset, e.g. tiny, bert-mini (default), bert-small")
    r.add_argument("--shards", metavar="DIR", help="directory from `reprlab pretrain prepare`")
    r.add_argument("--masking", choices=("piece", "word", "phrase", "entity", "knowledge", "staged", "span"),
                   help="what is masked whole (sets masking.unit): piece (default) | word | phrase, entity, "
                        "knowledge (ERNIE 1.0; shards prepared with --spans) | staged (word -> phrase -> entity) | "
                        "span (SpanBERT)")
    r.add_argument("--stages", metavar="FILE.toml", help="ernie: continual multi-task stages, [[stage]] tables of "
                                                         "task weights and steps/fraction (docs/ernie.md)")
    r.add_argument("--tasks", metavar="T=W,...", help="ernie: one stage of task weights, e.g. "
                                                      "mlm=1,capitalization=0.5,sentence_distance=0.5")
    add_config_args(r, config="reprlab.pretrain.runs:PretrainRunConfig")
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


    g = sub.add_parser("generate", help="continue a prompt with a causal-LM run, streaming tokens as they come",
                       description='e.g. reprlab generate runs/gpt "in the beginning" --max-new-tokens 200. The prompt '
                                   "plus --max-new-tokens must fit the model's positions (longer prompts are refused).")
    g.add_argument("run", metavar="RUN", help="a `reprlab pretrain run --objective causal` directory")
    g.add_argument("prompt", help="text to continue ('' starts from the end-of-text token)")
    g.add_argument("-n", "--max-new-tokens", type=int, default=100, metavar="N")
    g.add_argument("--temperature", type=float, default=0.8, help="0 = greedy (default 0.8)")
    g.add_argument("--top-k", type=int, default=None, metavar="K", help="sample among the K most likely tokens")
    g.add_argument("--top-p", type=float, default=0.95, metavar="P", help="nucleus sampling mass in (0, 1] (default 0.95)")
    g.add_argument("--seed", type=int, default=0, help="seeds the sampling (same seed -> same text)")
    g.add_argument("--device", help="cpu (default) | cuda | cuda:N")
    g.set_defaults(handler=_generate)


    experiments = command_group(sub, "experiment", "reproduce a figure or table from the source texts")
    a = experiments.add_parser("ar-vs-ae", help="MLM vs causal LM vs XLNet PLM: same size, tokens and time",
                               description="Train a masked LM, a causal LM and a permutation LM of one size on the "
                                           "same byte-level BPE shards for the same wall time; report perplexities, "
                                           "MLM accuracy, a linear probe and fine-tuning on labelled glosses, and "
                                           "samples (docs/pretrain.md).")
    a.add_argument("--config", metavar="FILE.toml", help="TOML file of ArVsAeConfig values")
    a.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="e.g. --set seconds=600 --set corpus=kjv-sample (repeatable)")
    a.add_argument("-o", "--output", metavar="DIR", help="experiment directory (sets output_dir)")
    a.set_defaults(config_class="reprlab.pretrain.ar_vs_ae:ArVsAeConfig", config_train_key=None)
    a.set_defaults(handler=_ar_vs_ae)

    from reprlab.cli.common import add_experiment_args

    e = experiments.add_parser("ernie", help="ERNIE 2.0: sequential vs all-at-once vs continual multi-task pretraining",
                               description="Train one model size on the same shards and steps three ways: each task "
                                           "alone in turn, all tasks at once, and continual multi-task (tasks join in "
                                           "stages, none leaves); report every task's held-out accuracy at every stage "
                                           "end, its chance level and its forgetting (docs/ernie.md).")
    add_experiment_args(e, "reprlab.pretrain.ernie_experiment:ErnieExperimentConfig", "total_steps=500")
    e.set_defaults(handler=_ernie)


def _ar_vs_ae(args: argparse.Namespace) -> int:
    from reprlab.pretrain.ar_vs_ae import run_ar_vs_ae, table

    cfg = build_config(args)
    results = run_ar_vs_ae(cfg)
    print(table(results))
    for name, row in results["models"].items():
        for sample in row["samples"]:
            print(f"{name}: {sample!r}")
    print(f"results: {Path(cfg.output_dir) / 'ar_vs_ae.json'}")
    return 0


def _ernie(args: argparse.Namespace) -> int:
    from reprlab.pretrain.ernie_experiment import run_ernie_experiment, table
    from reprlab.train import torch_threads

    cfg = build_config(args)
    with torch_threads(args.threads):
        results = run_ernie_experiment(cfg)
    print(table(results))
    print(f"results: {Path(cfg.output_dir) / 'ernie.json'}")
    return 0


def demo(out_dir: Path) -> str:
    """``reprlab demo``'s pretraining step (see :func:`reprlab.pretrain.runs.run_demo`)."""
    from reprlab.pretrain.runs import run_demo
    from reprlab.train import torch_threads

    with torch_threads(1):  # a tiny model: one thread is faster, and kinder to a shared machine
        return run_demo(Path(out_dir) / "pretrain")
