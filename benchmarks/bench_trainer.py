"""Trainer overhead: reprlab's Trainer vs a hand-written PyTorch loop on the same model and data.

Both run the same MLP on sklearn digits for the same number of AdamW steps with the same batch
order; the quality column checks they end at the same weights (the loop adds no hidden work to the
maths). Run: python benchmarks/bench_trainer.py
"""

import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from reprlab.data import load_dataset  # noqa: E402
from reprlab.train import LossOutput, Objective, TrainConfig, Trainer  # noqa: E402
from reprlab.train.sampler import ResumableSampler  # noqa: E402

from harness import compare, write_rows  # noqa: E402

STEPS, BATCH = 300, 64
data = load_dataset("digits")


class MLPClassifier(Objective):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 256), torch.nn.ReLU(),
                                       torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))

    def forward(self, batch):
        x, y = batch
        return LossOutput(torch.nn.functional.cross_entropy(self.net(x), y))


def ours():
    model = MLPClassifier()
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(output_dir=d, max_steps=STEPS, batch_size=BATCH, lr=1e-3, weight_decay=0.0,
                          max_grad_norm=None, save_every=None, progress=False, log_every=50)
        Trainer(model, cfg, data).fit()
    return model


def plain_loop():
    model = MLPClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    sampler = ResumableSampler(len(data), seed=0)
    step, epoch = 0, 0
    while step < STEPS:
        sampler.set_epoch(epoch)
        idx = list(sampler)
        for i in range(0, len(idx) - BATCH + 1, BATCH):
            b = idx[i:i + BATCH]
            loss = model((data.x[b], data.y[b])).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step == STEPS:
                break
        epoch += 1
    return model


def same_weights(a, b):
    diff = max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))
    return f"max weight difference {diff:.1e} after {STEPS} steps"


if __name__ == "__main__":
    row = compare("trainer", f"MLP on digits, {STEPS} AdamW steps, batch {BATCH} (incl. final checkpoint)",
                  ours, plain_loop, reference_name="hand-written PyTorch loop", repeats=5,
                  quality=same_weights)
    write_rows([row])
