"""Cost of each ERNIE 2.0 auxiliary head per training step, relative to the masked-LM step.

One :class:`~reprlab.pretrain.multitask.MultiTaskObjective` (bert-mini size: 4 layers, H = 256,
8,000-piece vocabulary, all five heads) takes a forward + backward step on a batch of 32 x 128
tokens of each task; the reference is the same model's MLM step (15% of the pieces masked, logits at
the masked rows only). The auxiliary tasks read the unmasked input, so they run the whole encoder as
the MLM does, but skip the vocabulary projection: a token head is H x 2 on every token, a sentence
head H x C on the pooled [CLS] vector. The ratio says what a step of that task costs against an
MLM step (a continual multi-task run's mean step cost is the weighted mean of these ratios).

Run: ``python benchmarks/bench_ernie_tasks.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from harness import compare, with_throughput, write_rows  # noqa: E402


def batches(b: int = 32, t: int = 128, v: int = 8000) -> dict:
    """One synthetic batch per task (random ids and labels: the cost does not depend on the values)."""
    from reprlab.pretrain.auxiliary import num_permutation_classes
    from reprlab.pretrain.batches import PretrainBatch
    from reprlab.pretrain.multitask import TASKS, MultiTaskBatch

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, v, (b, t), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    special = torch.zeros(b, t, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    words = torch.cumsum((torch.rand(b, t, generator=g) < 0.8).long(), 1)
    word_ids = torch.where(special, torch.full_like(words, -1), words)
    extras = {"caps": (torch.rand(b, t, generator=g) < 0.15).long(),
              "token_document": (torch.rand(b, t, generator=g) < 0.7).long()}
    labels = {"sentence_reordering": torch.randint(0, num_permutation_classes(3), (b,), generator=g),
              "sentence_distance": torch.randint(0, 3, (b,), generator=g)}
    out = {}
    for task in TASKS:
        batch = PretrainBatch(input_ids=ids, attention_mask=torch.ones(b, t, dtype=torch.long),
                              token_type_ids=torch.zeros(b, t, dtype=torch.long), special_tokens_mask=special,
                              word_ids=word_ids, keys=torch.arange(b), extras=extras,
                              sentence_labels=labels.get(task, torch.full((b,), -100)))
        out[task] = MultiTaskBatch(task, batch)
    return out


def main() -> None:
    from reprlab.pretrain.masking import MaskingConfig
    from reprlab.pretrain.multitask import TASKS, MultiTaskModelConfig, MultiTaskObjective
    from reprlab.text import EncoderConfig

    torch.set_num_threads(min(2, torch.get_num_threads()))
    b, t, v = 32, 128, 8000
    torch.manual_seed(0)
    enc = EncoderConfig.preset("bert-mini", vocab_size=v, max_position=t)
    model = MultiTaskObjective(MultiTaskModelConfig(encoder=enc, objective="ernie", mask_token_id=4, tasks=list(TASKS),
                                                    masking=MaskingConfig(mode="dynamic"))).train()
    data = batches(b, t, v)

    def step(task: str):
        def run() -> float:
            model.zero_grad(set_to_none=True)
            out = model(data[task])
            out.loss.backward()
            return float(out.loss.detach())
        return run

    rows = []
    for task in TASKS[1:]:
        row = compare("ernie", f"train step bert-mini 32x128: {task} head vs MLM", step(task), step("mlm"),
                      reference_name="ours, MLM step (15%, same model)", repeats=5)
        rows.append(with_throughput(row, b * t))
    write_rows(rows)


if __name__ == "__main__":
    main()
