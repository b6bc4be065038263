"""Encoder speed vs HF transformers: forward and MLM training step (forward + backward), equal weights.

Cases: bert-small (4 x 512) at batch 8x128 and 32x128, and bert-base (12 x 768) at 8x128 (the
32x128 bert-base step takes tens of seconds per call on 2 cores). Inputs are right-padded to 128
with lengths drawn in [96, 128]; the MLM step masks 15% of the real tokens. Both models run with
dropout 0.1 in train mode for the step and in eval/inference mode for the forward.

Run: ``python benchmarks/bench_encoder.py [--quick]`` (``--quick``: bert-small 8x128 only).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from reprlab.text import Encoder, EncoderConfig, MaskedLMHead  # noqa: E402
from reprlab.text.interop import config_to_hf, mlm_head_to_hf_state, to_hf_state  # noqa: E402

from harness import compare, with_throughput, write_rows  # noqa: E402


def make_models(preset: str):
    """Our encoder + MLM head and HF BertModel / BertForMaskedLM holding the same weights."""
    import transformers

    torch.manual_seed(0)
    config = EncoderConfig.preset(preset)
    ours = Encoder(config)
    head = MaskedLMHead(config, ours.token_embedding)
    torch.nn.init.normal_(head.bias, 0, 0.02)
    hf_config = transformers.BertConfig(**{k: v for k, v in config_to_hf(config).items()
                                           if k not in ("model_type", "architectures")})
    hf = transformers.BertModel(hf_config)
    hf.load_state_dict(to_hf_state(ours), strict=True)
    hf_mlm = transformers.BertForMaskedLM(hf_config)
    state = {"bert." + k: v for k, v in to_hf_state(ours).items() if not k.startswith("pooler.")}
    state.update(mlm_head_to_hf_state(head, "bert"))
    missing, unexpected = hf_mlm.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}, missing
    hf_mlm.tie_weights()
    return ours, head, hf, hf_mlm


def make_batch(batch: int, length: int = 128, vocab: int = 30522, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(length * 3 // 4, length + 1, (batch,), generator=g)
    mask = (torch.arange(length)[None] < lengths[:, None]).long()  # (B, T)
    ids = torch.randint(1000, vocab, (batch, length), generator=g) * mask
    ids[:, 0] = 101
    masked = (torch.rand(batch, length, generator=g) < 0.15) & mask.bool()
    labels = torch.where(masked, ids, torch.full_like(ids, -100))
    ids = torch.where(masked, torch.full_like(ids, 103), ids)  # [MASK]
    return ids, mask, labels


def bench(preset: str, batches: list[int], repeats: int) -> list:
    ours, head, hf, hf_mlm = make_models(preset)
    rows = []
    for b in batches:
        ids, mask, labels = make_batch(b)
        tokens = b * ids.shape[1]

        def ours_forward():
            with torch.inference_mode():
                return ours(ids, mask).last_hidden_state

        def hf_forward():
            with torch.inference_mode():
                return hf(input_ids=ids, attention_mask=mask).last_hidden_state

        def ours_step():
            ours.zero_grad(set_to_none=True)
            head.zero_grad(set_to_none=True)
            loss, _ = head.loss(ours(ids, mask).last_hidden_state, labels)
            loss.backward()
            return float(loss.detach())

        def hf_step():
            hf_mlm.zero_grad(set_to_none=True)
            loss = hf_mlm(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            return float(loss.detach())

        for m in (ours, head, hf):
            m.eval()
        keep = mask.bool()
        diff = lambda a, r: f"max abs diff {float((a - r)[keep].abs().max()):.1e}"  # noqa: E731
        row = compare("encoder", f"{preset} forward {b}x128", ours_forward, hf_forward,
                      reference_name="HF BertModel (sdpa)", repeats=repeats, quality=diff)
        rows.append(with_throughput(row, tokens))

        hf_mlm.eval()  # same loss in eval mode (no dropout) before timing the training step
        loss_gap = abs(ours_step() - hf_step())
        for m in (ours, head, hf_mlm):
            m.train()
        row = compare("encoder", f"{preset} MLM step (fwd+bwd) {b}x128", ours_step, hf_step,
                      reference_name="HF BertForMaskedLM (sdpa)", repeats=repeats,
                      quality=f"eval loss diff {loss_gap:.1e}")
        rows.append(with_throughput(row, tokens))
    return rows


def main() -> None:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    quick = "--quick" in sys.argv
    rows = bench("bert-small", [8] if quick else [8, 32], repeats=3)
    if not quick:
        rows += bench("bert-base", [8], repeats=3)
    write_rows(rows)


if __name__ == "__main__":
    main()
