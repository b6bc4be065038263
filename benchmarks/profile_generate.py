"""Profile of batch-1 decoding, ours vs HF ``GPT2LMHeadModel.generate`` (the numbers behind
docs/generation.md's "Batch-1 speed against HF, profiled"):

* aten ops per decoding step (torch profiler; a count, so it needs no quiet machine), bert-mini size;
* the Python/dispatch overhead per step, isolated on the ``tiny`` model (1 thread), where compute is
  negligible: run this part under the CPU lock.

Run: ``python benchmarks/profile_generate.py``.
"""

from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402


def models(size: str, vocab: int):
    import transformers

    from reprlab.text import CausalLM, gpt_config

    torch.manual_seed(0)
    ours = CausalLM(gpt_config(size, vocab_size=vocab, max_position=512)).eval()
    directory = tempfile.mkdtemp(prefix="profile-generate-")
    ours.to_hf(directory)
    return ours, transformers.GPT2LMHeadModel.from_pretrained(directory).eval()


def runners(ours, hf, vocab: int):
    from reprlab.text import generate

    prompt = torch.randint(0, vocab, (1, 32), generator=torch.Generator().manual_seed(0))

    def run_ours(n):
        return generate(ours, prompt, n, temperature=0).tokens

    def run_hf(n):
        with torch.inference_mode():
            return hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=n, min_new_tokens=n,
                               do_sample=False, pad_token_id=0)[:, prompt.shape[1]:]

    return run_ours, run_hf


def op_counts() -> None:
    from torch.profiler import ProfilerActivity, profile

    run_ours, run_hf = runners(*models("bert-mini", 8000), 8000)
    for name, run in (("ours", run_ours), ("HF", run_hf)):
        totals = []
        for n in (8, 40):
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                run(n)
            totals.append(sum(e.count for e in prof.key_averages()))
        print(f"{name}: {(totals[1] - totals[0]) / 32:.0f} aten ops per decoding step (bert-mini)", flush=True)


def overhead(steps: int = 200) -> None:
    torch.set_num_threads(1)
    run_ours, run_hf = runners(*models("tiny", 1000), 1000)
    assert torch.equal(run_ours(steps), run_hf(steps))
    for _ in range(3):
        for name, run in (("ours", run_ours), ("HF", run_hf)):
            t = time.perf_counter()
            run(steps)
            print(f"{name}: {(time.perf_counter() - t) / steps * 1e3:.3f} ms per step (tiny model, 1 thread)", flush=True)


if __name__ == "__main__":
    op_counts()
    overhead()
