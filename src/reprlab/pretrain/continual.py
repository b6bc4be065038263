"""Continual multi-task learning (ERNIE 2.0, Sun et al. 2020, section 3.2): tasks introduced in stages.

ERNIE 2.0 trains its tasks neither one after the other (sequential learning, which forgets the
earlier tasks) nor all from the start (multi-task learning, which needs every task up front), but in
*stages*: each stage adds tasks and keeps every earlier one in the mix, training on all of them from
the previous stage's parameters. Here a stage is a table of sampling weights and a length::

    # stages.toml (reprlab pretrain run --objective ernie --stages stages.toml)
    [[stage]]
    tasks = {mlm = 1.0}
    fraction = 0.25            # or steps = 500; a stage with neither takes the remaining steps
    [[stage]]
    tasks = {mlm = 1.0, capitalization = 0.5}

Every optimizer step trains one task, drawn with probability proportional to its stage weight
(``numpy.random.default_rng([seed, stage])``, one draw per step): :class:`TaskSchedule` fixes the
whole sequence before training, so the task of step t, and the how-many-th batch of its task that
step is, are functions of t alone. A resumed run therefore continues the schedule exactly, and
the stages are part of the model's configuration, so resuming with other stages is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

from reprlab.errors import ConfigError, MissingDataError


@dataclass
class Stage:
    """One stage: task -> sampling weight, and its length (``steps`` or ``fraction`` of the run, or the rest)."""

    tasks: dict[str, float]
    steps: int | None = None
    fraction: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tasks": dict(self.tasks)}
        if self.steps is not None:
            out["steps"] = self.steps
        if self.fraction is not None:
            out["fraction"] = self.fraction
        return out


def check_stages(stages: Sequence[Stage], known: Sequence[str], where: str = "stages") -> None:
    """Refuse unknown tasks, negative or non-finite weights, stages whose weights sum to 0, bad lengths."""
    if not stages:
        raise ConfigError(f"{where}: no [[stage]] table; give at least one, e.g. [[stage]] tasks = {{mlm = 1.0}}")
    rest = 0
    for i, stage in enumerate(stages, 1):
        at = f"{where}: stage {i}"
        if not isinstance(stage.tasks, Mapping) or not stage.tasks:
            raise ConfigError(f"{at}: 'tasks' must be a table of task = weight, e.g. tasks = {{mlm = 1.0}}")
        for name, w in stage.tasks.items():
            if name not in known:
                raise ConfigError(f"{at}: unknown task {name!r}; choose among {', '.join(known)}")
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ConfigError(f"{at}: task {name!r} has weight {w!r}; weights are numbers >= 0")
        if sum(stage.tasks.values()) <= 0:
            raise ConfigError(f"{at}: the task weights sum to 0; give at least one task a weight > 0")
        if stage.steps is not None and stage.fraction is not None:
            raise ConfigError(f"{at}: give 'steps' or 'fraction', not both")
        if stage.steps is not None and (isinstance(stage.steps, bool) or not isinstance(stage.steps, int)
                                        or stage.steps < 1):
            raise ConfigError(f"{at}: steps={stage.steps!r} must be an integer >= 1")
        if stage.fraction is not None and not (isinstance(stage.fraction, (int, float)) and 0 < stage.fraction <= 1):
            raise ConfigError(f"{at}: fraction={stage.fraction!r} must be in (0, 1]")
        if stage.steps is None and stage.fraction is None:
            rest += 1
            if i != len(stages):
                raise ConfigError(f"{at}: only the last stage may leave out 'steps'/'fraction' (it takes the rest)")


def load_stages(path: str | Path, known: Sequence[str]) -> list[Stage]:
    """Read a stage file (see the module docstring); unknown keys are errors."""
    p = Path(path)
    if not p.is_file():
        raise MissingDataError(f"{p}: no such stage file; write one with [[stage]] tables (docs/ernie.md)")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML ({e})") from None
    extra = sorted(set(data) - {"stage"})
    if extra:
        raise ConfigError(f"{p}: unknown key(s) {extra}; a stage file holds [[stage]] tables only")
    tables = data.get("stage")
    if not isinstance(tables, list):
        raise ConfigError(f"{p}: no [[stage]] table; give at least one, e.g. [[stage]] tasks = {{mlm = 1.0}}")
    stages = []
    for i, t in enumerate(tables, 1):
        unknown = sorted(set(t) - {"tasks", "steps", "fraction"})
        if unknown:
            raise ConfigError(f"{p}: stage {i}: unknown key(s) {unknown}; a stage has tasks, steps or fraction")
        stages.append(Stage(tasks=t.get("tasks", {}), steps=t.get("steps"), fraction=t.get("fraction")))
    check_stages(stages, known, str(p))
    return stages


def stage_bounds(stages: Sequence[Stage], max_steps: int, where: str = "stages") -> list[int]:
    """Step where each stage ends (cumulative; the last is ``max_steps``).

    ``fraction`` stages end at ``round(cumulative fraction * max_steps)`` (no drift over stages);
    the stage without a length takes the rest; stages that do not add up to ``max_steps`` are refused.
    """
    bounds, at, frac = [], 0, 0.0
    for stage in stages:
        if stage.steps is not None:
            at += stage.steps
        elif stage.fraction is not None:
            frac += stage.fraction
            at = max(at, round(frac * max_steps))
        else:
            at = max_steps
        bounds.append(at)
    if bounds[-1] != max_steps:
        raise ConfigError(f"{where}: the stages cover {bounds[-1]} steps but train.max_steps={max_steps}; make "
                          "them add up, or leave out the last stage's steps/fraction so it takes the rest")
    if any(b <= a for a, b in zip([0, *bounds], bounds)):
        raise ConfigError(f"{where}: a stage has no step at train.max_steps={max_steps} (ends {bounds}); "
                          "raise max_steps or lengthen the stage")
    return bounds


class TaskSchedule:
    """The task of every optimizer step, fixed before training (see the module docstring).

    Parameters
    ----------
    stages : sequence of Stage
    tasks : sequence of str
        Task names; ``task_of`` holds indices into it.
    max_steps : int
    seed : int

    Attributes
    ----------
    bounds : list of int
        Step where each stage ends.
    task_of : ndarray (max_steps,) int64
        Task index of step t (0-based).
    occurrence : ndarray (max_steps,) int64
        How many earlier steps trained the same task (its batch number).
    """

    def __init__(self, stages: Sequence[Stage], tasks: Sequence[str], max_steps: int, seed: int = 0):
        check_stages(stages, tasks)
        self.stages, self.tasks, self.max_steps, self.seed = list(stages), list(tasks), max_steps, seed
        self.bounds = stage_bounds(stages, max_steps)
        parts = []
        for k, (stage, lo, hi) in enumerate(zip(stages, [0, *self.bounds], self.bounds)):
            w = np.asarray([float(stage.tasks.get(t, 0.0)) for t in tasks])
            rng = np.random.default_rng([seed, k])
            parts.append(rng.choice(len(tasks), size=hi - lo, p=w / w.sum()))
        self.task_of = np.concatenate(parts).astype(np.int64)
        self.occurrence = np.empty(max_steps, np.int64)
        for t in range(len(tasks)):
            steps = np.nonzero(self.task_of == t)[0]
            self.occurrence[steps] = np.arange(len(steps))

    def stage_of(self, step: int) -> int:
        """Stage number (0-based) of 0-based step ``step``."""
        return int(np.searchsorted(self.bounds, step, side="right"))

    def frequencies(self, stage: int) -> dict[str, float]:
        """Share of each task among the steps of ``stage``."""
        lo = 0 if stage == 0 else self.bounds[stage - 1]
        counts = np.bincount(self.task_of[lo:self.bounds[stage]], minlength=len(self.tasks))
        return {t: float(c) / max(int(counts.sum()), 1) for t, c in zip(self.tasks, counts)}


# ----------------------------------------------------------------------------------- the three regimes
def _weights(tasks: Sequence[str], weights: Mapping[str, float] | None) -> dict[str, float]:
    return {t: float((weights or {}).get(t, 1.0)) for t in tasks}


def sequential_stages(tasks: Sequence[str], weights: Mapping[str, float] | None = None) -> list[Stage]:
    """One task per stage, equal lengths: each task alone after the last (expect forgetting; weights unused)."""
    return [Stage({t: 1.0}, fraction=1 / len(tasks)) for t in tasks[:-1]] + [Stage({tasks[-1]: 1.0})]


def continual_stages(tasks: Sequence[str], weights: Mapping[str, float] | None = None) -> list[Stage]:
    """Stage k trains tasks 1..k (ERNIE 2.0's continual multi-task learning), equal or the given weights."""
    w = _weights(tasks, weights)
    stages = [Stage({t: w[t] for t in tasks[:k + 1]}, fraction=1 / len(tasks)) for k in range(len(tasks) - 1)]
    return stages + [Stage(dict(w))]


def all_at_once_stages(tasks: Sequence[str], weights: Mapping[str, float] | None = None) -> list[Stage]:
    """Every task from the start, equal or the given weights, cut into as many (identical) stages as tasks."""
    w = _weights(tasks, weights)
    return [Stage(dict(w), fraction=1 / len(tasks)) for _ in tasks[:-1]] + [Stage(dict(w))]


REGIMES = {"sequential": sequential_stages, "all-at-once": all_at_once_stages, "continual": continual_stages}

__all__ = ["Stage", "check_stages", "load_stages", "stage_bounds", "TaskSchedule", "sequential_stages",
           "continual_stages", "all_at_once_stages", "REGIMES"]
