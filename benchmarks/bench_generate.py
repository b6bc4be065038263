"""Generation speed: 256 new tokens after a 32-token prompt, ours with the KV cache vs ours without
it vs HF ``GPT2LMHeadModel.generate`` holding the same weights (exported with ``CausalLM.to_hf``).

The model is bert-mini-sized (4 layers, H = 256, 4 heads) in GPT-2's architecture with an 8,000-piece
vocabulary and 512 positions; decoding is greedy so the three produce the same tokens (checked).
Batch 1 and 8 (equal-length prompts, so HF needs no padding).

Run: ``python benchmarks/bench_generate.py [--quick]`` (``--quick``: 64 new tokens, batch 1).
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

from harness import compare, write_rows  # noqa: E402


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

    same = lambda a, r: "tokens identical" if torch.equal(a, r) else "TOKENS DIFFER"  # noqa: E731
    case = f"gpt bert-mini size, batch {batch}, 32 + {new_tokens} tokens"
    rows = []
    row = compare("generate", f"{case}: cache vs HF", cached, hf_generate, repeats=repeats,
                  reference_name="HF GPT2LMHeadModel.generate (cache)", quality=same)
    rows.append(per_token(row, batch * new_tokens))
    row = compare("generate", f"{case}: cache vs no cache", cached, uncached, repeats=max(1, repeats - 2),
                  reference_name="ours, no cache (recompute)", quality=same)
    rows.append(per_token(row, batch * new_tokens))
    return rows


def per_token(row, tokens: int):
    row.quality = (f"{tokens / row.ours_s:,.0f} vs {tokens / row.ref_s:,.0f} new tok/s "
                   f"(speed-up {row.ref_s / row.ours_s:.2f}x); {row.quality}")
    print("   ", row.quality, flush=True)
    return row


def main() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    quick = "--quick" in sys.argv
    rows = bench(1, 64 if quick else 256, repeats=3)
    if not quick:
        rows += bench(8, 256, repeats=3)
    write_rows(rows)


if __name__ == "__main__":
    main()
