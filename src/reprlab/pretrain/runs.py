"""End-to-end pretraining runs behind ``reprlab pretrain run`` and ``reprlab pretrain eval``.

:func:`run_pretrain` takes one :class:`PretrainRunConfig`: it reads the shards, builds the
objective's instances for the train and held-out splits, seeds once *before* the model is built
(two identical commands give identical weights), trains through the shared Trainer and writes the
run directory described in :mod:`reprlab.pretrain.pretrained`. Every default lives in the dataclass
itself, the nested ``train`` settings included.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError
from reprlab.io import write_json
from reprlab.pretrain.auxiliary import AuxiliaryConfig
from reprlab.pretrain.batches import Collator, InstanceDataset, Layout
from reprlab.pretrain.evaluate import unigram_counts
from reprlab.pretrain.instances import InstanceConfig, build_instances, group_by_tokens, instance_lengths
from reprlab.pretrain.knowledge import SPAN_ARRAYS, has_spans
from reprlab.pretrain.knowledge_masking import SPAN_UNITS
from reprlab.pretrain.masking import MaskingConfig
from reprlab.pretrain.objectives import ObjectiveSpec, get_objective
from reprlab.pretrain.pretrained import TOKENIZER_DIR, load_pretrained
from reprlab.pretrain.shards import ShardSet
from reprlab.text import EncoderConfig, sinusoidal_table
from reprlab.train import Callback, TrainConfig, Trainer, is_main_process, seed_everything

log = logging.getLogger(__name__)


def _default_train() -> TrainConfig:
    return TrainConfig(output_dir="runs/pretrain", max_steps=600, batch_size=32, lr=1e-3, schedule="linear",
                       warmup_steps=100, weight_decay=0.01, max_grad_norm=1.0, eval_every=100, save_every=100,
                       log_every=10)


@dataclass
class PretrainRunConfig:
    """``reprlab pretrain run``: one pretraining run (every field settable with ``--set``)."""

    shards: str = ""  # directory written by `reprlab pretrain prepare` (required)
    objective: str = "roberta"  # bert (MLM+NSP) | roberta (MLM) | albert (MLM+SOP) | any registered objective
    model: str = "bert-mini"  # EncoderConfig preset (vocab size, pad id, max length come from the shards)
    model_overrides: dict[str, Any] = field(default_factory=dict)  # EncoderConfig fields, e.g. {norm = "pre"}
    instances: InstanceConfig = field(default_factory=InstanceConfig)
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    eval_batch_size: int = 64
    time_budget: float | None = None  # stop after this many seconds of training (evaluation excluded)
    # With time_budget: the schedule's horizon follows the clock (train.max_steps becomes the step at
    # which the budget is expected to end, re-estimated at every logged step), so warmup + linear
    # decay reaches 0 when the budget runs out (Cramming's budget schedule). train.max_steps is the cap.
    budget_schedule: bool = False
    # How the learned position table starts: "normal" (BERT: N(0, initializer_range)) or "sinusoidal"
    # (Vaswani et al. 2017's table scaled to std initializer_range, then trained): see position_init().
    position_init: Literal["normal", "sinusoidal"] = "normal"
    partial_prediction_k: int = 6  # xlnet: predict the last 1/K of each factorization order
    stages: str = ""  # ernie: a stage file of [[stage]] tables (tasks and weights per stage, docs/ernie.md)
    tasks: dict[str, float] = field(default_factory=dict)  # ernie: one stage's task weights, e.g. {mlm = 1.0}
    auxiliary: AuxiliaryConfig = field(default_factory=AuxiliaryConfig)  # ernie: the auxiliary tasks' settings
    train: TrainConfig = field(default_factory=_default_train)

    def __post_init__(self) -> None:
        check_choices(self)


@dataclass
class PretrainResult:
    """What :func:`run_pretrain` returns (also written as ``evaluation.json``)."""

    run_dir: Path
    steps: int
    train_seconds: float
    evaluation: dict[str, Any]
    last_logs: dict[str, float]
    instances: dict[str, Any]


class TimeBudget(Callback):
    """Stop training once ``seconds`` of training time have passed (evaluation time excluded).

    Checked at every logged step, so set ``eval_every`` to a multiple of ``log_every``. With
    ``schedule=True`` the Trainer's ``max_steps`` (the horizon of its warmup + decay schedule) is
    re-estimated at every logged step as ``step + remaining seconds / mean seconds per step so far``
    (never above the configured cap), so a linear decay reaches 0 when the budget ends whatever the
    machine's speed: Cramming's budget-based schedule (Geiping & Goldstein 2022, section 3). The
    schedule then depends on the clock, so a resumed budget run is not bit-identical to an
    uninterrupted one.
    """

    def __init__(self, seconds: float, schedule: bool = False):
        self.seconds = seconds
        self.schedule = schedule
        self.t0 = self.last = 0.0
        self.eval_seconds = 0.0
        self.first_step = 0
        self.cap = 0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0 - self.eval_seconds

    def on_train_begin(self, trainer: Any) -> None:
        self.t0 = self.last = time.perf_counter()
        self.first_step = trainer.step
        self.cap = trainer.config.max_steps

    def on_step_end(self, trainer: Any, step: int, logs: dict[str, float]) -> None:
        self.last = time.perf_counter()
        elapsed = self.elapsed
        if elapsed >= self.seconds:
            trainer.should_stop = True
        elif self.schedule and step > self.first_step:
            per_step = elapsed / (step - self.first_step)
            horizon = step + int((self.seconds - elapsed) / per_step)
            trainer.config.max_steps = max(step + 1, min(self.cap, horizon))

    def on_evaluate(self, trainer: Any, step: int, logs: dict[str, float]) -> None:
        self.eval_seconds += time.perf_counter() - self.last
        self.last = time.perf_counter()


def encoder_config(spec: ObjectiveSpec, model: str, overrides: dict[str, Any], shards: ShardSet) -> EncoderConfig:
    """The preset sized for the shards' tokenizer, with the objective family's and the user's changes."""
    special = shards.special_ids
    base = EncoderConfig.preset(model, vocab_size=shards.vocab_size, pad_token_id=int(special.get("pad") or 0))
    config = spec.encoder(base, special)
    try:
        return config.replace(**overrides)
    except TypeError as e:
        raise ConfigError(f"model_overrides: {e}; valid fields are those of EncoderConfig") from None


def position_init(encoder: Any, how: str) -> None:
    """Initialise the learned position table of ``encoder`` (``Encoder``) in place.

    ``"sinusoidal"`` writes c PE into the table, PE[p, 2i] = sin(p / 10000^(2i/E)),
    PE[p, 2i+1] = cos(p / 10000^(2i/E)) (Vaswani et al. 2017, section 3.5), with c chosen so that its
    entries have standard deviation ``initializer_range`` like the token table they are added to (the
    unscaled table, entries of std 0.71 against the tokens' 0.02, drowns the token identity in the
    embedding LayerNorm: measured in docs/pretrain.md). The table stays a trained parameter, so the
    model still exports to HF's learned-position classes. PE[p + k] is a rotation of PE[p], so
    "attend to the neighbour" is a fixed linear map of the inputs from the first step; a random
    table's vectors must first learn to resemble their neighbours'. RoBERTa's offset table is filled
    from row 0 too: only differences of positions matter.
    """
    if how == "normal":
        return
    table = encoder.embeddings.position
    if table is None:
        raise ConfigError("position_init='sinusoidal' initialises a learned position table; this model has "
                          "positions='sinusoidal' (fixed) already: drop one of the two")
    values = sinusoidal_table(*table.weight.shape)
    with torch.no_grad():
        table.weight.copy_(values * (encoder.config.initializer_range / values.std()))


def pretraining_data(shards: ShardSet, packing: str, instances: InstanceConfig, *, seed: int, batch_size: int,
                     evaluation: bool = False, layout: Layout | None = None,
                     extra_arrays: tuple[str, ...] | None = None) -> tuple[InstanceDataset, dict[str, Any]]:
    """The dataset of one split for a packing scheme (DOC-SENTENCES: one item per batch).

    ``layout`` places the special tokens (default BERT's, from the shards' special ids);
    ``extra_arrays`` names per-token side arrays to carry into the batches (default: the phrase and
    entity spans when the shards have them).
    """
    cfg = dataclasses.replace(instances, packing=packing, dupe_factor=1 if evaluation else instances.dupe_factor)
    inst = build_instances(shards, cfg, seed)
    layout = layout or Layout.from_special_ids(shards.special_ids)
    groups = None
    if packing == "doc-sentences" and not evaluation:
        target = instances.tokens_per_batch or batch_size * instances.max_length
        groups = group_by_tokens(instance_lengths(inst, shards), target, seed)
    if extra_arrays is None:
        extra_arrays = tuple(SPAN_ARRAYS) if has_spans(shards.meta) else ()
    return InstanceDataset(shards, inst, layout, groups, extra_arrays), {"packing": packing, **inst.stats}


def _splits(directory: str) -> tuple[ShardSet, ShardSet | None]:
    if not directory:
        raise ConfigError("shards is required: --shards SHARDS_DIR (made by `reprlab pretrain prepare`)")
    train = ShardSet(directory, "train")
    valid = ShardSet(directory, "valid") if train.meta["splits"]["valid"]["documents"] else None
    return train, valid


def run_pretrain(cfg: PretrainRunConfig) -> PretrainResult:
    """Pretrain a BERT-family model on prepared shards; see the module docstring.

    Raises
    ------
    ConfigError
        Unknown objective or preset, ``max_length`` outside [8, model positions], bad masking rates.
    DataError, MissingDataError
        Missing/corrupt shards, a tokenizer without [MASK]/[CLS]/[SEP]/[PAD], a corpus of one-sentence
        documents for NSP/SOP.
    """
    spec = get_objective(cfg.objective)
    if cfg.budget_schedule and not cfg.time_budget:
        raise ConfigError("budget_schedule=true follows the clock to the end of time_budget; "
                          "set time_budget (seconds), e.g. --set time_budget=900")
    if cfg.budget_schedule and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("budget_schedule=true times the steps of one process; under torchrun the "
                          "processes would end at different steps: set train.max_steps instead")
    train_shards, valid_shards = _splits(cfg.shards)
    special = train_shards.special_ids
    if spec.masked_lm and special.get("mask") is None:
        raise DataError(f"{cfg.shards}: the tokenizer has no mask token ([MASK] or <mask>); masked-LM "
                        "pretraining needs one (train the tokenizer with it as a special token)")
    enc = encoder_config(spec, cfg.model, cfg.model_overrides, train_shards)
    cfg.instances.validate(enc.max_length)
    masking = dataclasses.replace(cfg.masking, mode=cfg.masking.mode or spec.masking_mode)
    if masking.unit == "staged" and not masking.total_steps:  # the stages split the run's steps
        masking = dataclasses.replace(masking, total_steps=int(cfg.train.max_steps))
    masking.validate()
    if masking.unit in SPAN_UNITS and not has_spans(train_shards.meta):
        raise DataError(f"{cfg.shards}: masking.unit={masking.unit!r} needs phrase/entity spans, which these shards "
                        "lack; prepare them with `reprlab pretrain prepare ... --spans auto` (or --lexicon FILE)")
    packing = cfg.instances.packing or spec.packing
    train_cfg = cfg.train
    seed = train_cfg.seed
    layout = spec.layout(special)
    model_fields: dict[str, Any] = {}
    collate: Any = Collator(layout.pad)
    if spec.data is not None:  # the objective builds its datasets (multi-task): an item is a whole batch
        data = spec.data(cfg, train_shards, valid_shards, layout)
        train_data, valid_data, train_stats = data.train, data.valid, data.stats
        model_fields, collate = data.model_fields, data.collate
        train_cfg = dataclasses.replace(train_cfg, batch_size=1, shuffle=False)
    else:
        if cfg.stages or cfg.tasks:
            raise ConfigError(f"stages/tasks choose the tasks of a multi-task run; objective={spec.name!r} has "
                              "one task: pass --objective ernie")
        train_data, train_stats = pretraining_data(train_shards, packing, cfg.instances, seed=seed,
                                                   batch_size=train_cfg.batch_size, layout=layout)
        if train_data.groups is not None:  # DOC-SENTENCES: an item is already a batch
            train_cfg = dataclasses.replace(train_cfg, batch_size=1)
        valid_data = None
        if valid_shards is not None:
            valid_data, _ = pretraining_data(valid_shards, packing, cfg.instances, seed=seed,
                                             batch_size=cfg.eval_batch_size, evaluation=True, layout=layout)
    tokenizer = train_shards.tokenizer()
    model_cfg = spec.config_class(
        encoder=enc, objective=spec.name, sentence_task=spec.sentence_task, masking=masking,
        mask_token_id=int(special["mask"] or 0), vocab_hash=train_shards.vocab_hash,
        partial_prediction_k=cfg.partial_prediction_k,
        special_ids=sorted({tokenizer.vocab[t] for t in tokenizer.special_tokens} | {int(i) for i in special.values()
                                                                                      if i is not None}),
        **model_fields)
    seed_everything(seed)  # before the model exists: its initialisation is part of the run
    objective = spec.model_class(model_cfg)
    position_init(objective.encoder, cfg.position_init)  # a resumed run loads its trained table over it
    run_dir = Path(train_cfg.output_dir)
    if is_main_process():
        run_dir.mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(run_dir / TOKENIZER_DIR)
        write_json(run_dir / "pretrain.json", dataclasses.asdict(cfg))
    callbacks = [TimeBudget(cfg.time_budget, cfg.budget_schedule)] if cfg.time_budget else []
    # Periodic evaluation (metrics.jsonl) when train.eval_every is set; the exact one below always runs.
    periodic = valid_data if train_cfg.eval_every else None
    trainer = Trainer(objective, train_cfg, train_data, eval_data=periodic, collate_fn=collate, callbacks=callbacks)
    t0 = time.perf_counter()
    result = trainer.fit()
    seconds = callbacks[0].elapsed if callbacks else time.perf_counter() - t0
    evaluation: dict[str, Any] = {}
    if valid_data is not None and is_main_process():
        evaluation = spec.evaluate(objective, valid_data, batch_size=cfg.eval_batch_size, pad_id=layout.pad,
                                   unigram=unigram_counts(train_shards))
        evaluation.update(step=result.step, train_seconds=round(seconds, 1))
        write_json(run_dir / "evaluation.json", evaluation)
    return PretrainResult(run_dir=run_dir, steps=result.step, train_seconds=seconds, evaluation=evaluation,
                          last_logs=result.last_logs, instances=train_stats)


def layout_pad(special: dict[str, int | None]) -> int:
    return int(special.get("pad") or 0)


@dataclass
class PretrainEvalConfig:
    """``reprlab pretrain eval RUN --shards DIR``."""

    run: str = ""  # a pretraining run directory
    shards: str = ""  # shards to evaluate on (default: the run's own, from pretrain.json)
    split: Literal["train", "valid"] = "valid"
    batch_size: int = 64
    checkpoint: str | None = None  # a checkpoint-NNNNNN directory of the run (default: final weights)

    def __post_init__(self) -> None:
        check_choices(self)


def run_eval(cfg: PretrainEvalConfig) -> dict[str, Any]:
    """Held-out MLM loss, perplexity, accuracy (and NSP/SOP accuracy) of a run on shards.

    Raises
    ------
    DataError
        Shards made with another vocabulary than the run's (``meta.json`` hash), or corrupt shards.
    """
    import json

    model = load_pretrained(cfg.run, checkpoint=cfg.checkpoint)
    run_cfg = json.loads((Path(cfg.run) / "pretrain.json").read_text()) if (Path(cfg.run) / "pretrain.json").is_file() else {}
    directory = cfg.shards or run_cfg.get("shards", "")
    if not directory:
        raise ConfigError("--shards SHARDS_DIR is required (the run does not name its shards)")
    shards = ShardSet(directory, cfg.split)
    shards.check_vocab(model.config.vocab_hash, cfg.run)
    instances = InstanceConfig(**run_cfg["instances"]) if "instances" in run_cfg else InstanceConfig()
    spec = get_objective(model.config.objective)
    packing = instances.packing or spec.packing
    layout = spec.layout(shards.special_ids)
    data, _ = pretraining_data(shards, packing, instances, seed=int(run_cfg.get("train", {}).get("seed", 0)),
                               batch_size=cfg.batch_size, evaluation=True, layout=layout)
    train = ShardSet(directory, "train")
    out = spec.evaluate(model.objective, data, batch_size=cfg.batch_size, pad_id=layout.pad,
                        unigram=unigram_counts(train))
    out.update(run=cfg.run, shards=directory, split=cfg.split, checkpoint=cfg.checkpoint)
    return out


DEMO_SENTENCES = ("and god said , let there be [MASK] : and there was light .",
                  "in the beginning god created the heaven and the [MASK] .")


def run_demo(out_dir: str | Path, steps: int = 300) -> str:
    """The demo's pretraining step: a tiny RoBERTa-style model on the bundled KJV sample, then ``fill``.

    Trains a 2,000-token WordPiece vocabulary, prepares shards, pretrains bert-tiny for ``steps``
    steps (a few seconds) and fills in the masked word of two verses. Returns a summary line.
    """
    from reprlab.pretrain.corpus import iter_corpus
    from reprlab.pretrain.pretrained import fill_mask
    from reprlab.pretrain.shards import PrepareConfig, prepare_shards
    from reprlab.tokenizers import train_wordpiece

    out = Path(out_dir)
    tok = train_wordpiece((s for d in iter_corpus(["kjv-sample"]) for s in d), 2000)
    tok_dir = tok.save_pretrained(out / "tokenizer")
    prepare_shards(PrepareConfig(corpus=["kjv-sample"], tokenizer=str(tok_dir), output=str(out / "shards"),
                                 valid_fraction=0.1, workers=1, overwrite=True), command=["reprlab", "demo"])
    cfg = PretrainRunConfig(
        shards=str(out / "shards"), objective="roberta", model="bert-tiny", instances=InstanceConfig(max_length=64),
        model_overrides={"hidden_dropout": 0.0, "attention_dropout": 0.0},
        masking=MaskingConfig(mlm_probability=0.25),
        train=TrainConfig(output_dir=str(out / "run"), max_steps=steps, batch_size=32, lr=2e-3, schedule="linear",
                          warmup_steps=30, progress=False, save_every=None, eval_every=None, log_every=50))
    if (out / "run").exists():
        import shutil
        shutil.rmtree(out / "run")
    ev = run_pretrain(cfg).evaluation
    model = load_pretrained(out / "run")
    fills = []
    for text in DEMO_SENTENCES:
        completions, _ = fill_mask(model, text, top_k=3)
        fills.append(f"{text.replace(' ,', ',')!r} -> {', '.join(completions[0].tokens)}")
    return (f"pretrain: bert-tiny MLM on 84 KJV chapters, {steps} steps: held-out MLM accuracy {ev['mlm_acc']:.1%} "
            f"(most frequent token {ev['most_frequent_acc']:.1%}), loss {ev['mlm_loss']:.2f} (unigram "
            f"{ev['unigram_loss']:.2f}); fill: " + "; ".join(fills))
