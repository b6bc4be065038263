"""Trainer.evaluate: a short last batch counts for the items it holds, not as a whole batch."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from reprlab.train import LossOutput, Objective, TrainConfig, Trainer


class _MeanOfItems(Objective):
    """Loss = the batch's mean value; ``count`` reported per batch, ``num_items`` left to the Trainer or set."""

    def __init__(self, report_items: bool):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.report_items = report_items

    def forward(self, batch):
        (x,) = batch
        return LossOutput(x.mean() + 0 * self.w, {"first": x[0]},
                          num_items=2 * len(x) if self.report_items else None)


def test_evaluate_is_the_mean_over_items_whatever_the_batching(tmp_path):
    data = TensorDataset(torch.arange(10, dtype=torch.float32))
    for report_items in (False, True):  # weights 4, 4, 2 from the loader, or 8, 8, 4 from num_items
        trainer = Trainer(_MeanOfItems(report_items), TrainConfig(output_dir=str(tmp_path), batch_size=4,
                                                                  progress=False), data)
        logs = trainer.evaluate(data)
        assert abs(logs["eval_loss"] - 4.5) < 1e-6  # a mean of batch means would be (1.5 + 5.5 + 8.5) / 3
        assert abs(logs["eval_first"] - (4 * 0 + 4 * 4 + 2 * 8) / 10) < 1e-6
