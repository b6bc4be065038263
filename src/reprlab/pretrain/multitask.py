"""ERNIE 2.0 multi-task pretraining (Sun et al. 2020): one encoder, a masked LM and auxiliary heads.

``reprlab pretrain run --objective ernie --stages stages.toml`` trains the tasks of
:data:`TASKS`, each through a small head on the one shared encoder:

=========================  ==========================================  ==============================
task                       head                                        input (one batch = one task)
=========================  ==========================================  ==============================
``mlm``                    the tied masked-LM head (BERT)              DOC-SENTENCES rows, masked
``capitalization``         linear H -> 2 on every word's first piece   the same rows, unmasked
``token_document``         linear H -> 2 on every token                the same rows, unmasked
``sentence_reordering``    linear H -> sum_{n<=M} n! on pooled [CLS]   [CLS] p1 [SEP] ... pm [SEP]
``sentence_distance``      linear H -> 3 on pooled [CLS]               [CLS] A [SEP] B [SEP]
=========================  ==========================================  ==============================

Each optimizer step trains the one task the :class:`~reprlab.pretrain.continual.TaskSchedule`
draws for it, with loss L_task = mean cross-entropy of that head (the MLM's is BERT's, over masked
pieces), so ``metrics.jsonl`` holds ``{task}_loss`` and ``{task}_acc`` for the steps of each task
(the Trainer averages a metric over the batches that report it). With ``task_embedding`` a learned
vector per task is added to the token embeddings (ERNIE 2.0, figure 2: token + segment + position
+ task); inputs without a task (``fill``, export) use the MLM's.

A training item is a whole batch of one task, so the Trainer runs with ``batch_size=1`` and no
shuffling; which rows a batch holds is a function of the step alone (the k-th batch of a task
takes rows ``k*B .. k*B+B-1`` of a per-epoch permutation of that task's rows), so ``--resume``
continues bit for bit. Labels: :mod:`reprlab.pretrain.auxiliary`.

Under ``torchrun`` (W processes, ``train.batch_size`` = B rows per process) every process draws
the same task at every step (the schedule is a function of the seed), step t's global batch is the
k-th batch of W*B rows of that task, and process r takes its r-th slice of B rows; every loss is a
sum over the process's labels divided by the global label count / W, so the averaged gradient is
that of one process with batch W*B (tested: 2 processes of 4 rows = 1 process of 8, within 1e-6).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from reprlab.errors import ConfigError, DataError
from reprlab.pretrain.auxiliary import (
    AuxiliaryConfig,
    ReorderInstances,
    distance_pairs,
    num_permutation_classes,
    reorder_instances,
    token_document_labels,
)
from reprlab.pretrain.batches import InstanceDataset, Layout, PretrainBatch, collate
from reprlab.pretrain.continual import Stage, TaskSchedule, check_stages, load_stages
from reprlab.pretrain.evaluate import evaluate_pretraining
from reprlab.pretrain.instances import InstanceConfig, Instances, build_instances
from reprlab.pretrain.masking import IGNORE_INDEX
from reprlab.pretrain.objectives import (
    ObjectiveSpec,
    PretrainingObjective,
    PretrainModelConfig,
    _bert_encoder,
    register_objective,
)
from reprlab.pretrain.shards import ShardSet
from reprlab.text import SentencePairHead
from reprlab.train import LossOutput

#: Every task, in the order stages and the experiment introduce them.
TASKS = ("mlm", "capitalization", "token_document", "sentence_reordering", "sentence_distance")
TOKEN_TASKS = ("mlm", "capitalization", "token_document")  # share the DOC-SENTENCES rows
SENTENCE_TASKS = ("sentence_reordering", "sentence_distance")  # classify the pooled [CLS] vector


@dataclass
class MultiTaskModelConfig(PretrainModelConfig):
    """A :class:`PretrainModelConfig` plus the tasks, their heads' sizes and the stages trained."""

    tasks: list[str] = field(default_factory=lambda: ["mlm"])
    task_embedding: bool = False
    max_segments: int = 3
    stages: list[dict[str, Any]] = field(default_factory=list)  # Stage.as_dict() of each stage, for resume checks


@dataclass
class MultiTaskBatch:
    """One task's batch: the task name and its padded :class:`PretrainBatch`."""

    task: str
    batch: PretrainBatch

    def __len__(self) -> int:
        return len(self.batch)


def word_start_positions(batch: PretrainBatch) -> torch.Tensor:
    """(B, T) bool: the first piece of every word (from ``word_ids``; special positions are -1)."""
    w = batch.word_ids
    prev = torch.cat([torch.full_like(w[:, :1], -1), w[:, :-1]], dim=1)
    return (w >= 0) & (w != prev)


class MultiTaskObjective(PretrainingObjective):
    """Masked LM plus the ERNIE 2.0 auxiliary heads of ``config.tasks`` (see the module docstring).

    Attributes
    ----------
    aux : ModuleDict
        Task name -> head (``mlm`` is the inherited tied ``mlm`` head).
    task_vectors : Embedding or None
        One learned input vector per task (``config.task_embedding``).
    """

    config: MultiTaskModelConfig
    uses_every_parameter = False  # a step trains one task's head (DDP: find_unused_parameters)

    def __init__(self, config: MultiTaskModelConfig):
        unknown = [t for t in config.tasks if t not in TASKS]
        if unknown:
            raise ConfigError(f"tasks {unknown}: choose among {', '.join(TASKS)}")
        if any(t in SENTENCE_TASKS for t in config.tasks) and not config.encoder.pooler:
            raise ConfigError("sentence_reordering and sentence_distance classify the pooled [CLS] vector; the "
                              "encoder needs pooler=true")
        super().__init__(config)
        h = config.encoder.hidden_size
        sizes = {"capitalization": 2, "token_document": 2, "sentence_distance": 3,
                 "sentence_reordering": num_permutation_classes(config.max_segments)}
        heads: dict[str, nn.Module] = {}
        for t in config.tasks:
            if t in ("capitalization", "token_document"):
                heads[t] = nn.Linear(h, 2)
            elif t in SENTENCE_TASKS:
                heads[t] = SentencePairHead(h, sizes[t])
        for m in heads.values():
            for p in m.modules():
                if isinstance(p, nn.Linear):
                    nn.init.normal_(p.weight, 0.0, config.encoder.initializer_range)
                    nn.init.zeros_(p.bias)
        self.aux = nn.ModuleDict(heads)
        self.task_vectors: nn.Embedding | None = None
        self._task: int | None = None
        if config.task_embedding:
            self.task_vectors = nn.Embedding(len(config.tasks), config.encoder.embedding_dim)
            nn.init.normal_(self.task_vectors.weight, 0.0, config.encoder.initializer_range)
            self.encoder.embeddings.token.register_forward_hook(self._add_task_vector)

    # ------------------------------------------------------------------ task embedding
    @property
    def default_task(self) -> int:
        """The task id of inputs encoded outside :meth:`as_task` (``fill``, ``eval``, the HF export): the MLM's."""
        return self.config.tasks.index("mlm") if "mlm" in self.config.tasks else 0

    def _add_task_vector(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
        assert self.task_vectors is not None
        return output + self.task_vectors.weight[self._task if self._task is not None else self.default_task]

    @contextlib.contextmanager
    def as_task(self, task: str) -> Iterator[None]:
        """Inputs encoded inside this block carry ``task``'s vector (with ``task_embedding``)."""
        previous, self._task = self._task, self.config.tasks.index(task)
        try:
            yield
        finally:
            self._task = previous

    # ------------------------------------------------------------------ heads
    def predict(self, task: str, batch: PretrainBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (N, C) and targets (N,) of an auxiliary task on ``batch`` (unmasked input)."""
        types = batch.token_type_ids if self.config.encoder.type_vocab_size > 1 else None
        with self.as_task(task):
            out = self.encoder(batch.input_ids, batch.attention_mask, types)
        head = self.aux[task]
        if task == "capitalization":
            where = word_start_positions(batch)
            return head(out.last_hidden_state[where]), batch.extras["caps"][where]
        if task == "token_document":
            where = ~batch.special_tokens_mask & batch.attention_mask.bool()
            return head(out.last_hidden_state[where]), batch.extras["token_document"][where]
        valid = batch.sentence_labels != IGNORE_INDEX
        return head(out.pooled[valid]), batch.sentence_labels[valid]

    def forward(self, batch: MultiTaskBatch) -> LossOutput:  # type: ignore[override]  # one task's batch
        task = batch.task
        if task not in self.config.tasks:
            raise DataError(f"a {task!r} batch reached a model trained for {self.config.tasks}")
        if task == "mlm":
            with self.as_task("mlm"):
                return super().forward(batch.batch)
        logits, y = self.predict(task, batch.batch)
        # the mean over this process's labels, or over the global batch's under DDP (see the module docstring)
        count = self._label_denominator(torch.tensor(y.numel(), device=logits.device)).clamp_min(1.0)
        loss = F.cross_entropy(logits.float(), y, reduction="sum") / count if y.numel() else logits.sum() * 0.0
        acc = (logits.detach().argmax(-1) == y).float().mean() if y.numel() else torch.zeros(())
        return LossOutput(loss, {f"{task}_loss": loss.detach(), f"{task}_acc": acc},
                          num_items=batch.batch.num_tokens)


# ---------------------------------------------------------------------------------------- datasets
class TokenTaskDataset(InstanceDataset):
    """DOC-SENTENCES rows with the capitalization (``caps``) and token-document labels per token."""

    def __init__(self, shards: ShardSet, instances: Instances, layout: Layout, *, capitalization: bool,
                 token_document: bool):
        if capitalization and "caps" not in shards.meta["arrays"]:
            raise DataError(f"{shards.directory}: these shards were made before reprlab stored capitalization "
                            f"labels (no 'caps' array); re-run `reprlab pretrain prepare ... -o {shards.directory} "
                            "--overwrite` to rebuild them")
        super().__init__(shards, instances, layout, extra_arrays=("caps",) if capitalization else ())
        self.token_document = token_document
        self._starts = shards.document_token_offsets()

    def item(self, i: int) -> dict[str, Any]:
        out = super().item(i)
        if self.token_document:
            inst = self.instances
            labels = [self.document_labels(int(inst.a_lo[i]), int(inst.a_hi[i]))]
            if inst.b_hi[i] > inst.b_lo[i]:
                labels.append(self.document_labels(int(inst.b_lo[i]), int(inst.b_hi[i])))
            lab = np.zeros(len(out["input_ids"]), np.int64)
            lab[~out["special"]] = np.concatenate(labels)
            out["token_document"] = lab
        return out

    def document_labels(self, lo: int, hi: int) -> np.ndarray:
        """Token-document labels of the global token range ``[lo, hi)`` (one document's)."""
        d = int(np.searchsorted(self._starts, lo, side="right")) - 1
        d_lo, d_hi = int(self._starts[d]), int(self._starts[d + 1])
        return token_document_labels(self.shards.read("tokens", d_lo, d_hi), lo - d_lo, hi - d_lo)


class ReorderDataset(InstanceDataset):
    """Sentence-reordering rows ``[CLS] p1 [SEP] p2 [SEP] ... pm [SEP]`` (pieces shuffled)."""

    def __init__(self, shards: ShardSet, table: ReorderInstances, layout: Layout):
        rows = [(int(table.lo[r, 0]), int(table.hi[r, 0]), 0, 0, int(table.label[r])) for r in range(len(table))]
        super().__init__(shards, Instances.from_rows(rows, "sentence-reordering"), layout)
        self.table = table

    def item(self, i: int) -> dict[str, Any]:
        lay = self.layout
        parts = [self._special(lay.cls, 0)] if lay.cls is not None else []
        for lo, hi in self.table.pieces(i):
            parts.append(self._segment(lo, hi, 0))
            if lay.sep is not None:
                parts.append(self._special(lay.sep, 0))
        out: dict[str, Any] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["input_ids"] = out["input_ids"].astype(np.int64)
        out.update(key=i, label=int(self.table.label[i]))
        return out


def _rows(n: int, lo: int, hi: int, seed: int, task: int, cache: dict) -> list[int]:
    """Rows at positions ``lo..hi-1`` of a task's stream of ``n`` rows: per-epoch permutations back to back."""
    out = []
    for j in range(lo, hi):
        epoch = j // n
        if (task, epoch) not in cache:
            if len(cache) > 8:
                cache.clear()
            cache[(task, epoch)] = np.random.default_rng([seed, task, epoch]).permutation(n)
        out.append(int(cache[(task, epoch)][j % n]))
    return out


class MultiTaskTrainData(Dataset):
    """Item i = micro-batch i of the run: the scheduled task's next ``batch_size`` rows.

    With ``world`` processes the items interleave (the Trainer's sampler gives process r the items
    ``g * world + r``): item ``g * world + r`` is process r's slice of global micro-batch g, whose
    ``world * batch_size`` rows are those one process of that batch size would take.
    """

    def __init__(self, datasets: dict[str, Dataset], schedule: TaskSchedule, batch_size: int, grad_accum: int,
                 seed: int, world: int = 1):
        self.datasets, self.schedule = datasets, schedule
        self.batch_size, self.grad_accum, self.seed, self.world = batch_size, grad_accum, seed, world
        self._cache: dict = {}

    def __len__(self) -> int:
        return self.schedule.max_steps * self.grad_accum * self.world

    def __getitem__(self, i: int) -> dict[str, Any]:
        g, rank = divmod(int(i), self.world)
        step, micro = divmod(g, self.grad_accum)
        t = int(self.schedule.task_of[step])
        task = self.schedule.tasks[t]
        data = self.datasets[task]
        k = int(self.schedule.occurrence[step]) * self.grad_accum + micro
        lo = (k * self.world + rank) * self.batch_size
        rows = _rows(len(data), lo, lo + self.batch_size, self.seed, t, self._cache)  # type: ignore[arg-type]
        return {"task": task, "rows": [data.item(r) for r in rows]}  # type: ignore[attr-defined]


def spread_rows(total: int, n: int | None) -> np.ndarray:
    """``n`` row numbers spread evenly over ``0..total-1`` (all of them when ``n`` is None or >= total).

    The held-out sample of the periodic evaluation: evenly spaced rather than the first ``n``, so
    a corpus made of several corpora in turn (the Bible, then WordNet) is sampled in proportion.
    """
    if n is None or n >= total:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, n).round().astype(np.int64))


class MultiTaskEvalData(Dataset):
    """Held-out batches of every task: ``rows`` rows of each spread evenly over it (the periodic evaluation).

    ``datasets`` keeps every row of every task, for the final, exact evaluation.
    """

    def __init__(self, datasets: dict[str, Dataset], batch_size: int, rows: int | None = None):
        self.datasets = datasets
        self.index: list[tuple[str, list[int]]] = []
        for task, data in datasets.items():
            chosen = spread_rows(len(data), rows).tolist()  # type: ignore[arg-type]
            self.index += [(task, chosen[lo:lo + batch_size]) for lo in range(0, len(chosen), batch_size)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        task, rows = self.index[i]
        data = self.datasets[task]
        return {"task": task, "rows": [data.item(r) for r in rows]}  # type: ignore[attr-defined]


class MultiTaskCollator:
    """A one-item list ``[{"task", "rows"}]`` -> :class:`MultiTaskBatch` (picklable)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, items: list[dict[str, Any]]) -> MultiTaskBatch:
        if len(items) != 1:
            raise ConfigError(f"multi-task items are whole batches; the loader must use batch_size=1 (got {len(items)})")
        return MultiTaskBatch(items[0]["task"], collate(items[0]["rows"], self.pad_id))


# ---------------------------------------------------------------------------------------- building
def task_datasets(shards: ShardSet, tasks: list[str], instances: InstanceConfig, aux: AuxiliaryConfig,
                  layout: Layout, seed: int) -> dict[str, Dataset]:
    """One dataset per task of one split (the token tasks share one DOC-SENTENCES table)."""
    out: dict[str, Dataset] = {}
    where = f"{shards.directory} ({shards.split})"
    if any(t in TOKEN_TASKS for t in tasks):
        inst = build_instances(shards, dataclasses.replace(instances, packing="doc-sentences"), seed)
        data = TokenTaskDataset(shards, inst, layout, capitalization="capitalization" in tasks,
                                token_document="token_document" in tasks)
        out.update({t: data for t in tasks if t in TOKEN_TASKS})
    if "sentence_reordering" in tasks:
        table = reorder_instances(shards.sentence_offsets, shards.document_offsets, max_length=instances.max_length,
                                  max_segments=aux.max_segments, seed=seed, where=where)
        out["sentence_reordering"] = ReorderDataset(shards, table, layout)
    if "sentence_distance" in tasks:
        rows = distance_pairs(shards.sentence_offsets, shards.document_offsets, max_length=instances.max_length,
                              balance=aux.distance_balance, seed=seed + 1, where=where)
        out["sentence_distance"] = InstanceDataset(shards, Instances.from_rows(rows.tolist(), "sentence-distance"),
                                                   layout)
    return {t: out[t] for t in tasks}


@dataclass
class MultiTaskData:
    """What the ``ernie`` objective gives ``run_pretrain``: datasets, stats and its model-config fields.

    ``train`` items are whole batches (train with ``batch_size=1``, no shuffling), ``collate`` the
    loader's collate function.
    """

    train: Dataset
    valid: Dataset | None
    stats: dict[str, Any]
    model_fields: dict[str, Any]
    collate: Any


def run_stages(cfg: Any) -> list[Stage]:
    """The stages of a run config: ``stages`` (a file), else one stage of ``tasks``, else MLM alone."""
    if cfg.stages and cfg.tasks:
        raise ConfigError("give --stages FILE or --tasks, not both")
    if cfg.stages:
        return load_stages(cfg.stages, TASKS)
    stages = [Stage(dict(cfg.tasks) if cfg.tasks else {"mlm": 1.0})]
    check_stages(stages, TASKS, "tasks")
    return stages


def multitask_data(cfg: Any, train_shards: ShardSet, valid_shards: ShardSet | None, layout: Layout) -> MultiTaskData:
    """Datasets of a ``PretrainRunConfig`` with ``objective = "ernie"`` (the ObjectiveSpec ``data`` hook)."""
    from reprlab.train.distributed import launch_world_size

    if cfg.instances.packing not in ("", "doc-sentences"):
        raise ConfigError(f"instances.packing={cfg.instances.packing!r}: the ernie objective reads DOC-SENTENCES "
                          "rows (token-document labels need one document per row); leave instances.packing unset")
    cfg.auxiliary.validate()
    stages = run_stages(cfg)
    tasks = [t for t in TASKS if any(t in s.tasks for s in stages)]
    train = cfg.train
    schedule = TaskSchedule(stages, tasks, train.max_steps, train.seed)
    datasets = task_datasets(train_shards, tasks, cfg.instances, cfg.auxiliary, layout, train.seed)
    valid = None
    if valid_shards is not None:
        held = task_datasets(valid_shards, tasks, cfg.instances, cfg.auxiliary, layout, train.seed)
        valid = MultiTaskEvalData(held, cfg.eval_batch_size, cfg.auxiliary.eval_rows)
    stats = {"packing": "multi-task", "tasks": tasks, "stage_ends": schedule.bounds,
             **{f"{t}_rows": len(d) for t, d in datasets.items()}}  # type: ignore[arg-type]
    fields = {"tasks": tasks, "task_embedding": cfg.auxiliary.task_embedding,
              "max_segments": cfg.auxiliary.max_segments, "stages": [s.as_dict() for s in stages]}
    return MultiTaskData(MultiTaskTrainData(datasets, schedule, train.batch_size, train.grad_accum_steps, train.seed,
                                            launch_world_size()),
                         valid, stats, fields, MultiTaskCollator(layout.pad))


# ---------------------------------------------------------------------------------------- evaluation
def majority_share(labels: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent label (the chance level reported per task)."""
    return float(np.bincount(labels).max() / len(labels)) if len(labels) else 0.0


@torch.no_grad()
def evaluate_task(objective: MultiTaskObjective, task: str, dataset: Dataset, *, batch_size: int = 64,
                  pad_id: int = 0) -> dict[str, float]:
    """Held-out ``{task}_acc``, ``_loss`` (label-weighted over every row) and ``_chance`` (majority label)."""
    from reprlab.train import move_to

    was = objective.training
    objective.eval()
    device = next(objective.parameters()).device
    ce = correct = 0.0
    ys = []
    try:
        for lo in range(0, len(dataset), batch_size):  # type: ignore[arg-type]
            rows = [dataset.item(r) for r in range(lo, min(lo + batch_size, len(dataset)))]  # type: ignore[attr-defined, arg-type]
            logits, y = objective.predict(task, move_to(collate(rows, pad_id), device))
            ce += float(F.cross_entropy(logits.float(), y, reduction="sum"))
            correct += float((logits.argmax(-1) == y).sum())
            ys.append(y.cpu().numpy())
    finally:
        objective.train(was)
    labels = np.concatenate(ys) if ys else np.zeros(0, np.int64)
    n = max(len(labels), 1)
    return {f"{task}_acc": correct / n, f"{task}_loss": ce / n, f"{task}_chance": majority_share(labels),
            f"{task}_labels": len(labels)}


def evaluate_multitask(objective: MultiTaskObjective, dataset: Dataset, *, batch_size: int = 64, pad_id: int = 0,
                       unigram: np.ndarray | None = None) -> dict[str, Any]:
    """Every task's held-out metrics: the MLM ones of :func:`evaluate_pretraining`, then each head's.

    ``dataset`` is the run's :class:`MultiTaskEvalData` (all its held-out rows are used), or a plain
    :class:`InstanceDataset` (``reprlab pretrain eval``: the masked LM only).
    """
    full = dataset.datasets if isinstance(dataset, MultiTaskEvalData) else None
    if full is None:
        with objective.as_task("mlm") if "mlm" in objective.config.tasks else contextlib.nullcontext():
            return evaluate_pretraining(objective, dataset, batch_size=batch_size, pad_id=pad_id, unigram=unigram)
    out: dict[str, Any] = {}
    for task, data in full.items():
        if task == "mlm":
            with objective.as_task("mlm"):
                out.update(evaluate_pretraining(objective, data, batch_size=batch_size, pad_id=pad_id,
                                                unigram=unigram))
            out["mlm_chance"] = out.get("most_frequent_acc", math.nan)
        else:
            out.update(evaluate_task(objective, task, data, batch_size=batch_size, pad_id=pad_id))
    return out


# model_class takes the MultiTaskModelConfig subclass (config_class), hence the ignore
register_objective(ObjectiveSpec(
    "ernie", MultiTaskObjective, "doc-sentences", "none", "dynamic", _bert_encoder, ("BertForMaskedLM",),  # type: ignore[arg-type]
    evaluate=evaluate_multitask, config_class=MultiTaskModelConfig, data=multitask_data))

__all__ = ["TASKS", "MultiTaskModelConfig", "MultiTaskObjective", "MultiTaskBatch", "TokenTaskDataset",
           "ReorderDataset", "MultiTaskTrainData", "MultiTaskEvalData", "MultiTaskCollator", "task_datasets",
           "multitask_data", "MultiTaskData", "evaluate_multitask", "spread_rows", "evaluate_task", "majority_share",
           "word_start_positions", "run_stages"]
