"""``reprlab experiment ernie``: sequential vs all-at-once vs continual multi-task pretraining (ERNIE 2.0).

ERNIE 2.0 (Sun et al. 2020, section 3.2 and figure 1) contrasts three ways to train several
pretraining tasks with the same budget:

- **sequential**: each task alone, one after the other (stage k trains task k only) — earlier
  tasks are expected to be forgotten;
- **all-at-once** multi-task: every task from the first step, with equal weights;
- **continual** multi-task: stage k trains tasks 1..k with equal weights (each new task joins
  the mix, none leaves).

This experiment runs the three on one set of shards with one model size and the same total steps,
cut into as many equal stages as there are tasks (default: MLM, capitalization, token-document
relation, sentence reordering, sentence distance — the order tasks are introduced). At every stage
end it evaluates every task's head on the held-out split (a checkpoint per stage end), and reports
each task's accuracy there, its chance level (the majority label's share of the held-out labels;
the most frequent token for MLM) and its *forgetting*: best accuracy at any stage end since the
task was introduced minus the final accuracy, in points.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprlab.errors import ConfigError
from reprlab.io import atomic_write, write_json

log = logging.getLogger(__name__)

DEFAULT_TASKS = ("mlm", "capitalization", "token_document", "sentence_reordering", "sentence_distance")


@dataclass
class ErnieExperimentConfig:
    """``reprlab experiment ernie`` (every field settable with ``--set``)."""

    output_dir: str = "runs/ernie"
    # named corpora or files, read in turn: kjv (Debian bible-kjv), wordnet (wordnet-base glosses), kjv-sample,
    # wordnet-sample (bundled, for tests); the "Bible + WordNet" is the default
    corpus: list[str] = field(default_factory=lambda: ["kjv", "wordnet"])
    vocab_size: int = 8000  # uncased WordPiece (the capitals come from the raw text: the caps array)
    model: str = "bert-mini"
    max_length: int = 128
    total_steps: int = 1000  # per regime, cut into len(tasks) equal stages
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 50
    task_embedding: bool = True
    eval_rows: int = 512  # held-out rows per task at every stage end, spread evenly over the held-out split
    eval_batch_size: int = 64
    device: str = "cpu"
    seed: int = 0
    tasks: list[str] = field(default_factory=lambda: list(DEFAULT_TASKS))
    weights: dict[str, float] = field(default_factory=dict)  # sampling weight per task (default 1) in mixed stages
    max_segments: int = 3  # sentence reordering: at most this many pieces (2: 3 classes, 3: 9, 4: 33)
    regimes: list[str] = field(default_factory=lambda: ["sequential", "all-at-once", "continual"])

    def validate(self) -> None:
        from reprlab.pretrain.continual import REGIMES
        from reprlab.pretrain.multitask import TASKS

        if isinstance(self.corpus, str):  # --set corpus='kjv'
            self.corpus = [self.corpus]
        if not self.corpus:
            raise ConfigError("corpus=[]: name at least one corpus, e.g. --set 'corpus=[\"kjv\", \"wordnet\"]'")

        bad = [t for t in self.tasks if t not in TASKS] + [r for r in self.regimes if r not in REGIMES]
        if bad:
            raise ConfigError(f"{bad}: tasks are among {list(TASKS)}, regimes among {list(REGIMES)}")
        unknown = [t for t in self.weights if t not in self.tasks]
        if unknown or any(not w > 0 for w in self.weights.values()):
            raise ConfigError(f"weights={self.weights}: give a weight > 0 for tasks among {self.tasks}")
        if len(set(self.tasks)) != len(self.tasks) or not self.tasks:
            raise ConfigError(f"tasks={self.tasks}: name each task once")
        if self.total_steps % len(self.tasks):
            raise ConfigError(f"total_steps={self.total_steps} must be a multiple of the {len(self.tasks)} tasks "
                              "(equal stages)")


def _shards(cfg: ErnieExperimentConfig, out: Path) -> Path:
    from reprlab.pretrain.corpus import iter_corpus
    from reprlab.pretrain.shards import PrepareConfig, prepare_shards
    from reprlab.tokenizers import train_wordpiece

    shards, source = out / "shards", out / "shards-source.json"
    wanted = {"corpus": list(cfg.corpus), "vocab_size": cfg.vocab_size, "seed": cfg.seed}
    if (shards / "meta.json").is_file() and source.is_file():
        made = json.loads(source.read_text(encoding="utf-8"))
        if made == wanted:
            return shards
        log.info("%s: made for %s; rebuilding the tokenizer and shards for %s", shards, made, wanted)
    tok = train_wordpiece((s for d in iter_corpus(cfg.corpus) for s in d), cfg.vocab_size)
    tok_dir = tok.save_pretrained(out / "tokenizer")
    prepare_shards(PrepareConfig(corpus=list(cfg.corpus), tokenizer=str(tok_dir), output=str(shards), valid_fraction=0.05,
                                 seed=cfg.seed, workers=1, overwrite=True), command=["reprlab", "experiment", "ernie"])
    write_json(source, wanted)
    return shards


def stage_file(stages: list[Any], path: Path) -> Path:
    """Write stages as a ``--stages`` TOML file (so each regime can be rerun with ``pretrain run``)."""
    lines = []
    for s in stages:
        lines.append("[[stage]]")
        lines.append("tasks = {" + ", ".join(f"{t} = {w!r}" for t, w in s.tasks.items()) + "}")
        if s.fraction is not None:
            lines.append(f"fraction = {s.fraction!r}")
        if s.steps is not None:
            lines.append(f"steps = {s.steps}")
    with atomic_write(path) as f:
        f.write("\n".join(lines) + "\n")
    return path


def forgetting(accs: list[dict[str, float]], introduced: dict[str, int]) -> dict[str, float]:
    """Per task: best accuracy at a stage end since its introduction minus the final one (points)."""
    out = {}
    for task, first in introduced.items():
        seen = [a[task] for a in accs[first:]]
        out[task] = 100.0 * (max(seen) - seen[-1])
    return out


def run_ernie_experiment(cfg: ErnieExperimentConfig) -> dict[str, Any]:
    """Train the regimes and evaluate every task at every stage end; writes ``ernie.json``."""
    from reprlab.pretrain.auxiliary import AuxiliaryConfig
    from reprlab.pretrain.batches import Layout
    from reprlab.pretrain.continual import REGIMES, stage_bounds
    from reprlab.pretrain.evaluate import unigram_counts
    from reprlab.pretrain.instances import InstanceConfig
    from reprlab.pretrain.multitask import evaluate_multitask, task_datasets
    from reprlab.pretrain.pretrained import load_pretrained
    from reprlab.pretrain.runs import PretrainRunConfig, run_pretrain
    from reprlab.pretrain.shards import ShardSet
    from reprlab.train import TrainConfig

    cfg.validate()
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards = _shards(cfg, out)
    valid = ShardSet(shards, "valid")
    layout = Layout.from_special_ids(valid.special_ids)
    aux = AuxiliaryConfig(task_embedding=cfg.task_embedding, eval_rows=cfg.eval_rows, max_segments=cfg.max_segments)
    aux.validate()
    instances = InstanceConfig(max_length=cfg.max_length)
    held = task_datasets(valid, list(cfg.tasks), instances, aux, layout, cfg.seed)
    eval_sets = {t: EvalRows(d, cfg.eval_rows) for t, d in held.items()}
    unigram = unigram_counts(ShardSet(shards, "train"))
    stage_len = cfg.total_steps // len(cfg.tasks)
    results: dict[str, Any] = {"config": dataclasses.asdict(cfg), "regimes": {}}
    for regime in cfg.regimes:
        stages = REGIMES[regime](list(cfg.tasks), cfg.weights)
        run_dir = out / regime
        stages_path = stage_file(stages, out / f"stages-{regime}.toml")
        train = TrainConfig(output_dir=str(run_dir), max_steps=cfg.total_steps, batch_size=cfg.batch_size, lr=cfg.lr,
                            warmup_steps=cfg.warmup_steps, schedule="constant", weight_decay=0.01, max_grad_norm=1.0,
                            eval_every=None, log_every=10, save_every=stage_len, keep_checkpoints=len(cfg.tasks) + 1,
                            progress=False, seed=cfg.seed, device=cfg.device)
        if run_dir.exists():
            import shutil

            shutil.rmtree(run_dir)
        run = run_pretrain(PretrainRunConfig(
            shards=str(shards), objective="ernie", model=cfg.model, stages=str(stages_path), instances=instances,
            auxiliary=aux, eval_batch_size=cfg.eval_batch_size,
            model_overrides={"hidden_dropout": 0.0, "attention_dropout": 0.0}, train=train))
        bounds = stage_bounds(stages, cfg.total_steps)
        ends = []
        for b in bounds:
            model = load_pretrained(run_dir, checkpoint=None if b == cfg.total_steps else f"checkpoint-{b:06d}")
            ev = {}
            for task, data in eval_sets.items():
                ev.update(_task_metrics(evaluate_multitask, model.objective, task, data, cfg, layout.pad, unigram))
            ends.append({"step": b, **ev})
            log.info("%s step %d: %s", regime, b, {k: round(v, 4) for k, v in ev.items() if k.endswith("_acc")})
        introduced = {t: next(i for i, s in enumerate(stages) if s.tasks.get(t, 0) > 0) for t in cfg.tasks}
        accs = [{t: e[f"{t}_acc"] for t in cfg.tasks} for e in ends]
        results["regimes"][regime] = {
            "stage_ends": ends, "introduced": introduced, "forgetting_points": forgetting(accs, introduced),
            "train_seconds": round(run.train_seconds, 1), "steps": run.steps,
            "stages": [s.as_dict() for s in stages]}
        results["chance"] = {t: ends[-1][f"{t}_chance"] for t in cfg.tasks}
        write_json(out / "ernie.json", results)
    return results


class EvalRows:
    """``n`` rows of a task dataset spread evenly over it (``len`` and ``item``; see ``spread_rows``)."""

    def __init__(self, data: Any, n: int):
        from reprlab.pretrain.multitask import spread_rows

        self.data, self.rows = data, spread_rows(len(data), n)

    def __len__(self) -> int:
        return len(self.rows)

    def item(self, i: int) -> Any:
        return self.data.item(int(self.rows[i]))

    def __getitem__(self, i: int) -> Any:
        if not 0 <= i < len(self.rows):
            raise IndexError(i)
        return self.data[int(self.rows[i])]


def _task_metrics(evaluate: Any, objective: Any, task: str, data: Any, cfg: ErnieExperimentConfig,
                  pad_id: int, unigram: Any) -> dict[str, float]:
    from reprlab.pretrain.multitask import MultiTaskEvalData

    ev = evaluate(objective, MultiTaskEvalData({task: data}, cfg.eval_batch_size), batch_size=cfg.eval_batch_size,
                  pad_id=pad_id, unigram=unigram)
    return {f"{task}_acc": ev[f"{task}_acc"], f"{task}_chance": ev[f"{task}_chance"]}


def table(results: dict[str, Any]) -> str:
    """Markdown: each task's held-out accuracy at each stage end, per regime; chance; forgetting."""
    tasks = list(results["config"]["tasks"])
    lines = ["| regime | step | " + " | ".join(tasks) + " |", "|---|---|" + "---|" * len(tasks)]
    for regime, r in results["regimes"].items():
        for e in r["stage_ends"]:
            lines.append(f"| {regime} | {e['step']} | " + " | ".join(f"{e[f'{t}_acc']:.1%}" for t in tasks) + " |")
        lines.append(f"| {regime} | forgetting (points) | "
                     + " | ".join(f"{r['forgetting_points'][t]:.1f}" for t in tasks) + " |")
    lines.append("| chance | | " + " | ".join(f"{results['chance'][t]:.1%}" for t in tasks) + " |")
    return "\n".join(lines)


__all__ = ["ErnieExperimentConfig", "run_ernie_experiment", "table", "forgetting", "stage_file"]
