"""The demo's text stages (the BERT source text): tokenizers and pretraining (transfer: :mod:`.transfer_stage`).

Every number a stage reports is computed in the run; the only constants are the published anchors,
which the report labels as such.
"""

from __future__ import annotations

import time
from typing import Any

from reprlab.demo.stage import StageContext

# The seed text's BPE worked example (002_e9493e1f98e650a4.txt): corpus and its 8 merges with counts.
SEED_BPE_CORPUS = {"lower": 2, "newest": 6, "widest": 3, "low": 5}
SEED_BPE_MERGES = [("s", "t", 9), ("e", "st", 9), ("est", "</w>", 9), ("l", "o", 7), ("lo", "w", 7),
                   ("n", "e", 6), ("w", "est</w>", 6), ("ne", "west</w>", 6)]
BERT_BASE_PARAMETERS = 109_482_240  # HF bert-base-uncased, counted tensor by tensor (Devlin et al. 2019: "110M")
GENERATE_PROMPT = "and god said"
FILL_SENTENCES = ("and god said , let there be [MASK] : and there was light .",
                  "in the beginning god created the heaven and the [MASK] .")


def tokenizers_stage(ctx: StageContext) -> str:
    """WordPiece (likelihood, frequency) and BPE on the bundled corpus; the seed's BPE merge table."""
    from reprlab.data import iter_lines, sample_path
    from reprlab.tokenizers import train_bpe, train_wordpiece

    lines = list(iter_lines([sample_path("corpus.txt")]))
    cut = int(len(lines) * 0.9)
    train, held = lines[:cut], lines[cut:]
    vocab = ctx.pick(1000, 4000)
    words = sum(len(line.split()) for line in held)
    rows, examples = [], []
    sentence = "Unsupervised pretraining of word-pieces, naively!"
    for name, make in (("WordPiece (likelihood)", lambda: train_wordpiece(train, vocab, method="likelihood")),
                       ("WordPiece (frequency)", lambda: train_wordpiece(train, vocab, method="frequency")),
                       ("BPE (classic)", lambda: train_bpe(train, vocab))):
        ctx.part(name)
        t0 = time.perf_counter()
        tok = make()
        seconds = time.perf_counter() - t0
        pieces = sum(len(tok.encode(line).tokens) for line in held)
        rows.append([name, tok.vocab_size, round(seconds, 2), round(pieces / max(words, 1), 3)])
        examples.append(f"{name}: {' '.join(tok.encode(sentence).tokens)}")
        ctx.metric(f"{name} pieces per word", rows[-1][3])
    ctx.table(f"trained on {len(train):,} lines of the bundled corpus; pieces per word on {len(held):,} held-out lines",
              ["tokenizer", "vocabulary", "training s", "pieces per word (held out)"], rows)
    ctx.text(f"one sentence, three tokenizers: {sentence!r}", "\n".join(examples))
    ctx.part("seed BPE example")
    seed = train_bpe(SEED_BPE_CORPUS, vocab_size=18)
    ours = seed.merges_with_counts
    ctx.table("the seed's BPE worked example: {lower: 2, newest: 6, widest: 3, low: 5}, 18 tokens",
              ["merge", "ours", "count (ours)", "seed text (published)", "count (published)"],
              [[i + 1, f"{o[0]} + {o[1]}", o[2], f"{p[0]} + {p[1]}", p[2]]
               for i, (o, p) in enumerate(zip(ours, SEED_BPE_MERGES))])
    same = sum(tuple(o) == p for o, p in zip(ours, SEED_BPE_MERGES))
    ctx.metric("seed merges reproduced", same)
    ctx.anchor("BPE worked example: merges (pair and count) in the seed's order", f"{len(SEED_BPE_MERGES)} of 8",
               "seed text 002, question 4", f"{same} of {len(ours)}",
               "identical" if same == len(SEED_BPE_MERGES) == len(ours) else "differs: see the table")
    return (f"WordPiece (likelihood/frequency) and BPE, {vocab} tokens each; seed BPE example: {same} of "
            f"{len(SEED_BPE_MERGES)} merges reproduced")


def pretrain_stage(ctx: StageContext) -> str:
    """A tiny BERT (MLM with dynamic masking + SOP) on the bundled KJV sample; parameters; ``fill``."""
    import torch

    from reprlab.pretrain import (
        InstanceConfig,
        MaskingConfig,
        PrepareConfig,
        PretrainRunConfig,
        fill_mask,
        iter_corpus,
        load_pretrained,
        prepare_shards,
        run_pretrain,
    )
    from reprlab.text import EncoderConfig, parameter_count
    from reprlab.tokenizers import train_wordpiece
    from reprlab.train import TrainConfig, torch_threads

    ctx.part("parameters")
    base = parameter_count(EncoderConfig.preset("bert-base"))
    ctx.metric("bert-base parameters", base.total)
    ctx.anchor("bert-base parameters, counted term by term", BERT_BASE_PARAMETERS,
               "Devlin et al. 2019 (\"110M\"); HF bert-base-uncased tensors", base.total,
               "identical" if base.total == BERT_BASE_PARAMETERS else "differs")
    ctx.text("bert-base parameter breakdown (ours)", base.table())
    ctx.part("tokenizer + shards")
    tok = train_wordpiece((s for d in iter_corpus(["kjv-sample"]) for s in d), 2000)
    tok_dir = tok.save_pretrained(ctx.out / "tokenizer")
    prepare_shards(PrepareConfig(corpus=["kjv-sample"], tokenizer=str(tok_dir), output=str(ctx.out / "shards"),
                                 valid_fraction=0.1, workers=1, overwrite=True), command=["reprlab", "demo"])
    steps = ctx.pick(150, 3000)
    cfg = PretrainRunConfig(
        shards=str(ctx.out / "shards"), objective="albert", model="bert-tiny",
        model_overrides={"hidden_dropout": 0.0, "attention_dropout": 0.0},
        instances=InstanceConfig(max_length=64), masking=MaskingConfig(mlm_probability=0.25, mode="dynamic"),
        time_budget=ctx.pick(None, 120.0),
        train=TrainConfig(output_dir=str(ctx.out / "run"), max_steps=steps, batch_size=32, lr=2e-3,
                          schedule="linear", warmup_steps=min(100, steps // 10), progress=False,
                          save_every=None, eval_every=None, log_every=max(10, steps // 30)))
    ctx.part("pretraining")
    with torch_threads(1):  # a tiny model: one thread is faster, and kinder to a shared machine
        torch.manual_seed(0)  # the model is built before the Trainer seeds: two runs must agree
        result = run_pretrain(cfg)
    ev = result.evaluation
    tiny = parameter_count(load_pretrained(ctx.out / "run").encoder.config)
    ctx.text("the tiny model's parameter breakdown (ours)", tiny.table())
    rows = [["held-out MLM accuracy", ctx.metric("mlm_acc", ev["mlm_acc"]),
             ctx.metric("most_frequent_acc", ev["most_frequent_acc"])],
            ["held-out MLM loss (nats)", ctx.metric("mlm_loss", ev["mlm_loss"]),
             ctx.metric("unigram_loss", ev["unigram_loss"])]]
    if "sop_acc" in ev:
        rows.append(["held-out sentence-order accuracy", ctx.metric("sop_acc", ev["sop_acc"]), 0.5])
    ctx.table(f"bert-tiny ({tiny.total:,} parameters), MLM (dynamic masking) + SOP, {result.steps} steps in "
              f"{result.train_seconds:.0f} s on 84 KJV chapters",
              ["measure", "ours", "baseline (unigram / most frequent token / chance)"], rows)
    ctx.curves(ctx.out / "run", ("loss", "mlm_acc", "sop_acc"))
    ctx.part("fill")
    model = load_pretrained(ctx.out / "run")
    fills = []
    for text in FILL_SENTENCES:
        completions, _ = fill_mask(model, text, top_k=3)
        fills.append(f"{text}\n   -> {', '.join(completions[0].tokens)}")
    ctx.text("fill: top-3 completions of [MASK]", "\n".join(fills))
    ctx.anchor("MLM accuracy of a from-scratch BERT-base at the end of pretraining", "60-64%",
               "users' reports (docs/pretrain.md)", ev["mlm_acc"],
               "ours is a 2-layer model trained for minutes on 84 chapters: far lower, and above its unigram baseline"
               if ev["mlm_acc"] > ev["most_frequent_acc"] else "ours does not beat the unigram baseline here")
    ctx.part("causal LM")
    with torch_threads(1):
        causal = _causal_lm(ctx, cfg)
    beat = "beats" if ev["mlm_acc"] > ev["most_frequent_acc"] else "does NOT beat"
    return (f"bert-tiny MLM+SOP {result.steps} steps: held-out MLM accuracy {ev['mlm_acc']:.1%} {beat} the "
            f"most-frequent-token baseline {ev['most_frequent_acc']:.1%}; {causal}; bert-base {base.total:,} "
            "parameters")


def _causal_lm(ctx: StageContext, bert: Any) -> str:
    """A tiny GPT-style causal LM on the same shards, trained briefly; held-out perplexity and a sample.

    Returns the stage summary's clause on it.
    """
    import dataclasses

    import torch

    from reprlab.pretrain import GenerateConfig, generate_text, run_pretrain

    steps = ctx.pick(60, 1500)
    cfg = dataclasses.replace(
        bert, objective="causal", time_budget=ctx.pick(None, 40.0),
        train=dataclasses.replace(bert.train, output_dir=str(ctx.out / "causal"), max_steps=steps,
                                  warmup_steps=min(100, steps // 10), log_every=max(10, steps // 30)))
    torch.manual_seed(0)
    result = run_pretrain(cfg)
    ev = result.evaluation
    ctx.table(f"a causal LM of bert-tiny's size (GPT-2 layout), {result.steps} steps in {result.train_seconds:.0f} s "
              "on the same shards", ["measure (held out)", "ours", "unigram baseline"],
              [["next-token loss (nats)", ctx.metric("lm_loss", ev["lm_loss"]), ctx.metric("lm_unigram_loss",
                                                                                          ev["unigram_loss"])],
               ["perplexity", ctx.metric("lm_ppl", ev["lm_ppl"]), ev["unigram_ppl"]],
               ["next-token accuracy", ctx.metric("lm_acc", ev["lm_acc"]), None]])
    ctx.curves(ctx.out / "causal", ("lm_loss",))  # "loss" is the BERT's curve
    prompt = GENERATE_PROMPT
    sample = "".join(generate_text(GenerateConfig(run=str(ctx.out / "causal"), prompt=prompt,
                                                  max_new_tokens=ctx.pick(24, 48), temperature=0.8, top_p=0.95,
                                                  seed=0)))
    ctx.metric("lm_sample", sample)
    ctx.text(f"causal LM sample: {prompt!r} continued (temperature 0.8, top-p 0.95, seed 0)", f"{prompt}{sample}")
    ctx.anchor("causal LM held-out perplexity", "37.50 (GPT-2, 117M, WikiText-103, zero-shot)",
               "Radford et al. 2019, table 3", ev["lm_ppl"],
               f"ours is a 2-layer model trained for {result.train_seconds:.0f} s on 84 KJV chapters with a 2,000-piece "
               f"vocabulary, so not comparable in scale; it {'beats' if ev['lm_loss'] < ev['unigram_loss'] else 'does NOT beat'} "
               f"its unigram baseline (perplexity {ev['unigram_ppl']:.1f})")
    return f"causal LM perplexity {ev['lm_ppl']:.0f} vs unigram {ev['unigram_ppl']:.0f}"


__all__ = ["tokenizers_stage", "pretrain_stage", "SEED_BPE_MERGES", "BERT_BASE_PARAMETERS"]
