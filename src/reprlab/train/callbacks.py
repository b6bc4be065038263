"""Hooks into the training loop: metric logging, progress bar, and user callbacks.

A callback sees the Trainer and a ``logs`` dict of floats; it never changes the loss. Set
``trainer.should_stop = True`` to end training after the current step (early stopping).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprlab.io import atomic_write

if TYPE_CHECKING:
    from reprlab.train.trainer import Trainer


class Callback:
    """No-op base; override the hooks you need."""

    def on_train_begin(self, trainer: Trainer) -> None: ...
    def on_resume(self, trainer: Trainer, step: int) -> None:
        """Called when a run resumes from the checkpoint of ``step``, before training goes on
        (``step`` 0 when ``--resume`` found no checkpoint and the run starts afresh)."""
    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        """Called every ``log_every`` optimizer steps with the metrics averaged since the last call."""
    def on_evaluate(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None: ...
    def on_train_end(self, trainer: Trainer) -> None: ...


class JSONLLogger(Callback):
    """Appends one JSON object per logged step to ``metrics.jsonl`` (rank 0 only).

    On resume, rows after the checkpoint's step (logged before a crash) are dropped so the file
    reads as one uninterrupted run.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_resume(self, trainer: Trainer, step: int) -> None:
        self.truncate_after(step)

    def truncate_after(self, step: int) -> None:
        """Drop the rows logged after ``step`` (by the run that crashed after that checkpoint),
        and a torn last line (what a full disk or a kill mid-write leaves)."""
        if not self.path.exists():
            return
        keep = [row for row in read_metrics(self.path) if row.get("step", 0) <= step]
        with atomic_write(self.path) as f:
            f.write("".join(json.dumps(row) + "\n" for row in keep))

    def _write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        self._write({"step": step, "time": round(time.time(), 3), **logs})

    def on_evaluate(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        self._write({"step": step, "time": round(time.time(), 3), **logs})


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl``; lines that are not a JSON object (a torn write) are skipped."""
    rows: list[dict[str, Any]] = []
    path = Path(path)
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


class ProgressBar(Callback):
    """Progress over optimizer steps: a tqdm bar (loss, items/s, ETA) when stderr is a terminal,
    otherwise one plain line per logged window (``log_every`` steps), so logs of batch jobs show it.

    The loss shown is the window just logged, the same row metrics.jsonl gets.
    """

    def __init__(self, stream: Any = None) -> None:
        self.bar: Any = None
        self.stream = stream
        self._t0 = 0.0
        self._step0 = 0

    def on_train_begin(self, trainer: Trainer) -> None:
        stream = self.stream or sys.stderr
        self.stream = stream
        self._t0, self._step0 = time.perf_counter(), trainer.step
        if getattr(stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm
            self.bar = tqdm(total=trainer.config.max_steps, initial=trainer.step, desc=trainer.run_dir.name,
                            dynamic_ncols=True, leave=False, file=stream)

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        shown = {k: f"{logs[k]:.4g}" for k in ("loss", "items_per_s", "lr") if k in logs}
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix(shown, refresh=True)
            return
        total = trainer.config.max_steps
        rate = (step - self._step0) / max(time.perf_counter() - self._t0, 1e-9)
        eta = (total - step) / rate if rate > 0 else float("nan")
        print(f"{trainer.run_dir.name}: step {step}/{total} ({step / total:.0%}) "
              + " ".join(f"{k} {v}" for k, v in shown.items()) + f" ETA {_duration(eta)}",
              file=self.stream, flush=True)

    def on_train_end(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "?"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


class TensorBoardLogger(Callback):
    """Mirror logged metrics to TensorBoard event files in ``<run>/tensorboard`` (optional package)."""

    def __init__(self, log_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            from reprlab.errors import ConfigError
            raise ConfigError("train.tensorboard=true needs the tensorboard package: "
                              "pip install tensorboard (or set train.tensorboard=false)") from None
        self.writer = SummaryWriter(str(log_dir))

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        for k, v in logs.items():
            self.writer.add_scalar(k, v, step)

    on_evaluate = on_step_end

    def on_train_end(self, trainer: Trainer) -> None:
        self.writer.close()


class LambdaCallback(Callback):
    """Wrap plain functions as a callback: ``LambdaCallback(on_step_end=lambda t, s, logs: ...)``."""

    def __init__(self, **hooks: Any):
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


class KeepBest(Callback):
    """Keep the weights of the best evaluation so far, and stop early when it stops improving.

    On every evaluation, when ``logs[metric]`` beats the best so far (higher for ``mode="max"``)
    the objective's weights are written atomically to ``<run>/best/model.safetensors`` and
    ``<run>/best/best.json`` records the step and value. After ``patience`` evaluations without
    improvement the run stops (``None``: never). The record is read back on resume, so a resumed
    run keeps comparing against the same best and counts patience on.
    """

    def __init__(self, metric: str = "eval_acc", *, mode: str = "max", patience: int | None = None):
        if mode not in ("max", "min"):
            raise ValueError(f"KeepBest: mode={mode!r}; use 'max' or 'min'")
        self.metric, self.mode, self.patience = metric, mode, patience
        self.best: float | None = None
        self.best_step = 0
        self.bad_evals = 0

    def _record(self, trainer: Trainer) -> Path:
        return trainer.run_dir / "best" / "best.json"

    def on_resume(self, trainer: Trainer, step: int) -> None:
        path = self._record(trainer)
        if path.is_file():
            saved = json.loads(path.read_text())
            if saved.get("step", 0) <= step:
                self.best, self.best_step, self.bad_evals = saved["value"], saved["step"], saved.get("bad_evals", 0)

    def on_evaluate(self, trainer: Trainer, step: int, logs: dict[str, float]) -> None:
        from reprlab.io import write_json
        from reprlab.train.checkpoint import save_module

        if self.metric not in logs:
            raise KeyError(f"KeepBest: metric {self.metric!r} not among the evaluation's {sorted(logs)}")
        value = float(logs[self.metric])
        better = self.best is None or (value > self.best if self.mode == "max" else value < self.best)
        if better:
            self.best, self.best_step, self.bad_evals = value, step, 0
            (trainer.run_dir / "best").mkdir(parents=True, exist_ok=True)
            save_module(trainer.objective, trainer.run_dir / "best" / "model.safetensors")
        else:
            self.bad_evals += 1
        write_json(self._record(trainer), {"metric": self.metric, "value": self.best, "step": self.best_step,
                                           "bad_evals": self.bad_evals})
        if self.patience is not None and self.bad_evals >= self.patience:
            trainer.should_stop = True
