"""KeepBest: the best evaluation's weights are kept, patience stops the run, the record survives a resume."""

from __future__ import annotations

import json
from types import SimpleNamespace

import torch

from reprlab.train import KeepBest
from reprlab.train.checkpoint import load_tensors


def test_keeps_the_best_weights_and_stops_after_patience(tmp_path):
    module = torch.nn.Linear(2, 1)
    trainer = SimpleNamespace(run_dir=tmp_path, objective=module, should_stop=False)
    cb = KeepBest("eval_acc", patience=2)
    for step, (acc, w) in enumerate([(0.5, 1.0), (0.7, 2.0), (0.7, 3.0), (0.6, 4.0)], 1):
        with torch.no_grad():
            module.weight.fill_(w)
        cb.on_evaluate(trainer, step, {"eval_acc": acc})
        assert trainer.should_stop == (step == 4)  # two evaluations without improvement (ties do not count)
    assert torch.equal(load_tensors(tmp_path / "best" / "model.safetensors")["weight"], torch.full((1, 2), 2.0))
    record = json.loads((tmp_path / "best" / "best.json").read_text())
    assert record == {"metric": "eval_acc", "value": 0.7, "step": 2, "bad_evals": 2}
    resumed = KeepBest("eval_acc", patience=2)
    resumed.on_resume(trainer, 3)
    assert (resumed.best, resumed.best_step, resumed.bad_evals) == (0.7, 2, 2)
    lower = KeepBest("eval_loss", mode="min")
    lower.on_evaluate(trainer, 1, {"eval_loss": 2.0})
    lower.on_evaluate(trainer, 2, {"eval_loss": 1.0})
    assert lower.best == 1.0 and lower.best_step == 2
