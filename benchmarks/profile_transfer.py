"""Profile of text encoding / prediction: tokenization vs model, ours vs HF, on the same 256 texts and
all-MiniLM-L6-v2 weights (the split behind docs/transfer.md's "Where the time goes").

Prints one line per part: medians of alternating pairs and the median pair ratio (ours / HF).
Not a benchmark row (bench_transfer.py writes those); run under the CPU lock:
``python benchmarks/profile_transfer.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from bench_transfer import load_minilm, texts  # noqa: E402


def pair(name: str, ours, ref, n: int = 5) -> None:
    ours()
    ref()
    ta, tb = [], []
    for _ in range(n):
        t = time.perf_counter()
        ours()
        ta.append(time.perf_counter() - t)
        t = time.perf_counter()
        ref()
        tb.append(time.perf_counter() - t)
    ratios = [a / b for a, b in zip(ta, tb)]
    print(f"{name}: ours {statistics.median(ta):.4f} s, HF {statistics.median(tb):.4f} s, ratio "
          f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})", flush=True)


def main() -> None:
    import transformers

    from reprlab.transfer.text_inputs import TextWindows, collate

    path, ours, tok = load_minilm()
    base = transformers.AutoModel.from_pretrained(path).eval()
    data = texts(256, seed=2)
    win = TextWindows(ours.tokenizer, 128)

    def hf_batches(items, size, max_length):
        return [tok(items[s:s + size], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
                for s in range(0, len(items), size)]

    pair("tokenize 256 texts (encode_batch vs fast tokenizer + padded tensors, batches of 32)",
         lambda: ours.tokenizer.encode_batch(data, max_length=128, truncation=True), lambda: hf_batches(data, 32, 512))
    pair("prediction inputs (TextWindows.single + collate vs fast tokenizer, batches of 64)",
         lambda: [collate([win.single(t) for t in data[s:s + 64]]) for s in range(0, 256, 64)],
         lambda: hf_batches(data, 64, 128))
    order = sorted(range(len(data)), key=lambda i: len(tok(data[i])["input_ids"]))
    with torch.no_grad():
        for label, batches in (("unsorted", hf_batches(data, 32, 512)),
                               ("length-sorted", hf_batches([data[i] for i in order], 32, 512))):
            pair(f"model only, 8 {label} batches of 32 (Encoder vs HF BertModel)",
                 lambda b=batches: [ours.encoder(x["input_ids"], x["attention_mask"]) for x in b],
                 lambda b=batches: [base(**x) for x in b])


if __name__ == "__main__":
    main()
