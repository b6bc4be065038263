"""Generation speed: 256 new tokens after a 32-token prompt, ours with the KV cache vs ours without
it vs HF ``GPT2LMHeadModel.generate`` holding the same weights (exported with ``CausalLM.to_hf``).

The model is bert-mini-sized (4 layers, H = 256, 4 heads) in GPT-2's architecture with an 8,000-piece
vocabulary and 512 positions; decoding is greedy so the three produce the same tokens (checked).
Batch 1 and 8 (equal-length prompts, so HF needs no padding); at batch 1 also sampling (temperature 0.8,
top-k 50, top-p 0.95: the per-step sort and cumulative sum over the vocabulary).

Also the training step (forward + backward, batch 32 x 128, bert-mini size, 8,000-piece vocabulary)
of the causal LM and of the XLNet permutation LM against the RoBERTa MLM step: what predicting every
token costs (causal) and what the second stream costs (PLM, K = 6).

Run: ``python benchmarks/bench_generate.py [--quick] [--no-train]`` (``--quick``: 64 new tokens,
batch 1, no training steps; ``--no-train``: the generation rows only).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from reprlab.text import CausalLM, generate, gpt_config  # noqa: E402

from harness import compare, with_throughput, write_rows  # noqa: E402


def make_models():
    import transformers

    torch.manual_seed(0)
    ours = CausalLM(gpt_config("bert-mini", vocab_size=8000, max_position=512, initializer_range=0.1)).eval()
    directory = tempfile.mkdtemp(prefix="bench-generate-")
    ours.to_hf(directory)
    hf = transformers.GPT2LMHeadModel.from_pretrained(directory).eval()
    return ours, hf


def bench(batch: int, new_tokens: int, repeats: int) -> list:
    ours, hf = make_models()
    prompt = torch.randint(0, 8000, (batch, 32), generator=torch.Generator().manual_seed(batch))

    def cached():
        return generate(ours, prompt, new_tokens, temperature=0).tokens

    def uncached():
        return generate(ours, prompt, new_tokens, temperature=0, use_cache=False).tokens

    def hf_generate():
        with torch.inference_mode():
            out = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                              min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
        return out[:, prompt.shape[1]:]

    def sampled():
        return generate(ours, prompt, new_tokens, temperature=0.8, top_k=50, top_p=0.95,
                        generator=torch.Generator().manual_seed(0)).tokens

    def hf_sampled():
        torch.manual_seed(0)
        with torch.inference_mode():
            out = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                              min_new_tokens=new_tokens, do_sample=True, temperature=0.8, top_k=50, top_p=0.95,
                              pad_token_id=0)
        return out[:, prompt.shape[1]:]

    same = lambda a, r: "tokens identical" if torch.equal(a, r) else "TOKENS DIFFER"  # noqa: E731
    case = f"gpt bert-mini size, batch {batch}, 32 + {new_tokens} tokens"
    rows = []
    row = compare("generate", f"{case}: cache vs HF", cached, hf_generate, repeats=repeats,
                  reference_name="HF GPT2LMHeadModel.generate (cache)", quality=same)
    rows.append(with_throughput(row, batch * new_tokens, "new tok/s"))
    if batch == 1:  # the sampling ops per step: temperature, top-k, top-p (different RNG streams, so other tokens)
        row = compare("generate", f"{case}, sampling T=0.8 top-k 50 top-p 0.95: cache vs HF", sampled, hf_sampled,
                      repeats=repeats, reference_name="HF GPT2LMHeadModel.generate (cache, do_sample)",
                      quality=lambda a, r: f"{a.shape[1]} vs {r.shape[1]} tokens sampled")
        rows.append(with_throughput(row, batch * new_tokens, "new tok/s"))
    # the recompute path is 6-15x slower, so few pairs (a large ratio needs no precision)
    row = compare("generate", f"{case}: cache vs no cache", cached, uncached, repeats=3 if batch == 1 else 1,
                  reference_name="ours, no cache (recompute)", quality=same)
    rows.append(with_throughput(row, batch * new_tokens, "new tok/s"))
    return rows


def training_steps(repeats: int) -> list:
    """Causal-LM and PLM steps vs the MLM step on the same batch and encoder size."""
    from reprlab.pretrain.batches import PretrainBatch
    from reprlab.pretrain.objectives import PretrainModelConfig, get_objective
    from reprlab.text import EncoderConfig

    b, t, v = 32, 128, 8000
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, v, (b, t), generator=g)
    ids[:, 0] = 2
    special = torch.zeros(b, t, dtype=torch.bool)
    special[:, 0] = True
    batch = PretrainBatch(input_ids=ids, attention_mask=torch.ones(b, t, dtype=torch.long),
                          token_type_ids=torch.zeros(b, t, dtype=torch.long), special_tokens_mask=special,
                          word_ids=torch.arange(t).expand(b, t), keys=torch.arange(b), sentence_labels=torch.full((b,), -100))
    base = EncoderConfig.preset("bert-mini", vocab_size=v, max_position=t)
    objectives = {}
    for name in ("roberta", "causal", "xlnet"):
        spec = get_objective(name)
        torch.manual_seed(0)
        enc = spec.encoder(base, {"pad": 0})
        objectives[name] = spec.model_class(PretrainModelConfig(encoder=enc, objective=name, mask_token_id=4)).train()

    def step(name):
        def run():
            obj = objectives[name]
            obj.zero_grad(set_to_none=True)
            out = obj(batch)
            out.loss.backward()
            return float(out.loss.detach())
        return run

    rows = []
    for name, what in (("causal", "causal LM (all 127 positions)"), ("xlnet", "XLNet PLM, two streams, K=6")):
        row = compare("generate", f"train step bert-mini 32x128: {what} vs MLM", step(name), step("roberta"),
                      reference_name="ours, RoBERTa MLM step (15%)", repeats=repeats)
        rows.append(with_throughput(row, b * t))
    return rows


def main() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    quick = "--quick" in sys.argv
    train = "--no-train" not in sys.argv  # --no-train: generation rows only
    rows = bench(1, 64 if quick else 256, repeats=3 if quick else 9)  # batch 1 is short and noisy: more pairs
    if not quick:
        rows += bench(8, 256, repeats=4)
        rows += training_steps(repeats=3) if train else []
    write_rows(rows)


if __name__ == "__main__":
    main()
