"""Subprocess entry for kill/resume and DDP tests: train the toy model, optionally SIGKILL itself.

usage: python run_toy.py OUT_DIR MAX_STEPS [--kill-at STEP] [--resume] [--batch B] [--no-dropout] [--steer H S]
"""

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reprlab.train import LambdaCallback, TrainConfig, Trainer  # noqa: E402
from tests.foundation.toy import make_model, toy_data  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("max_steps", type=int)
p.add_argument("--kill-at", type=int)
p.add_argument("--resume", action="store_true")
p.add_argument("--batch", type=int, default=8)
p.add_argument("--accum", type=int, default=1)
p.add_argument("--no-dropout", action="store_true")
p.add_argument("--optimizer", default="adamw")
p.add_argument("--steer", nargs=2, type=int, metavar=("HORIZON_AT", "STOP_AT"),
               help="at step HORIZON_AT set max_steps to STOP_AT + 2, at STOP_AT stop (what a time budget does)")
a = p.parse_args()

cfg = TrainConfig(output_dir=a.out, max_steps=a.max_steps, batch_size=a.batch, grad_accum_steps=a.accum,
                  lr=1e-2, schedule="cosine", warmup_steps=3, save_every=4, log_every=1,
                  progress=False, resume=a.resume, optimizer=a.optimizer, max_grad_norm=1.0)


def maybe_kill(trainer, step, logs):
    if a.kill_at is not None and step == a.kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    if a.steer is not None:  # callbacks run on rank 0 only: the Trainer must pass this on
        horizon_at, stop_at = a.steer
        if step == horizon_at:
            trainer.config.max_steps = stop_at + 2
        if step == stop_at:
            trainer.should_stop = True


Trainer(make_model(dropout=0.0 if a.no_dropout else 0.1), cfg, toy_data(),
        callbacks=[LambdaCallback(on_step_end=maybe_kill)]).fit()
