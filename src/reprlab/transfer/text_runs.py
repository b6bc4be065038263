"""End-to-end text transfer runs: ``reprlab finetune``, ``reprlab predict``, HF export.

:class:`TextTransferConfig` + :func:`fit_text_task` (in memory) / :func:`run_finetune` (files). A
run directory holds::

    OUT/
      task.json           task, mode, label names, the run config, the encoder config
      tokenizer/          the model's tokenizer (reprlab format, which HF AutoTokenizer reads)
      model.safetensors   final weights (encoder + head), written by the Trainer
      best/               the best validation checkpoint (model.safetensors, best.json)
      evaluation.json     validation metrics of the weights kept: accuracy, macro-F1, per-class report
      confusion.png       the validation confusion matrix
      checkpoint-*/, metrics.jsonl, config.json   the Trainer's files (``--resume`` continues)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from reprlab.config import check_choices, from_dict
from reprlab.data.task_files import TaskRow, read_task_file
from reprlab.errors import CheckpointError, ConfigError, DataError
from reprlab.io import atomic_write, save_figure, write_json
from reprlab.text import Encoder, EncoderConfig
from reprlab.train import KeepBest, TrainConfig, Trainer
from reprlab.train.checkpoint import load_module, save_module
from reprlab.transfer.long_text import LongText
from reprlab.transfer.text_finetune import (
    CachedDataset,
    CachedHeadObjective,
    TextTaskObjective,
    cached_features,
    freeze_below,
)
from reprlab.transfer.text_inputs import IGNORE_INDEX, Example, ExampleDataset, TextWindows, collate
from reprlab.transfer.text_model import TASK_FILE, TOKENIZER_DIR, TextModel
from reprlab.transfer.text_tasks import HeadName, TaskName, TextPooling, TextTaskModel

log = logging.getLogger(__name__)
Mode = Literal["features", "finetune"]
Probe = Literal["sgd", "logistic"]
MAX_EVALUATIONS = 10  # validation once per epoch, but at most this many times per run (tiny label subsets)


def _train_defaults() -> TrainConfig:
    return TrainConfig(output_dir="runs/finetune", lr=5e-5, batch_size=16, schedule="linear", warmup_steps=0,
                       weight_decay=0.01, save_every=100, progress=False, log_every=10)


@dataclass
class TextTransferConfig:
    """One text transfer run: feature extraction or fine-tuning, one flag apart (``mode``)."""

    task: TaskName = "seq-cls"  # seq-cls | pair-cls | token-cls | multiple-choice
    mode: Mode = "finetune"  # finetune (train the encoder too) | features (frozen encoder, cached features)
    model: str = ""  # a reprlab pretraining run, a reprlab fine-tuned run, or a HF BERT/RoBERTa/ALBERT dir
    init: Literal["pretrained", "random"] = "pretrained"  # random: the same architecture from scratch
    train_file: str = ""  # JSONL or CSV (see reprlab.data.task_files)
    valid_file: str = ""  # optional; enables early stopping and the best checkpoint
    max_length: int = 128  # tokens per window, special tokens included (capped at the model's)
    pooling: TextPooling | None = None  # None: pooler if the model has one, else cls (finetune); mean (features)
    layer: str = "last"  # last | N | concat-last-K | mix (ELMo scalar mix)
    head: HeadName = "linear"  # linear | mlp (one hidden tanh layer)
    head_hidden: int | None = None  # mlp width (default: the feature width)
    probe: Probe = "sgd"  # features mode: sgd (the Trainer) | logistic (scikit-learn L-BFGS, linear head only)
    probe_c: float = 1.0  # logistic probe's inverse L2 strength
    train_layers: int | None = None  # finetune: unfreeze only the top k blocks (None: all)
    layer_decay: float = 1.0  # finetune: lr * decay ** (L + 1 - depth); 1.0 = off (ELECTRA uses 0.8)
    dropout: float = 0.1
    epochs: float = 3.0  # sets train.max_steps = ceil(epochs * examples / batch)
    warmup_ratio: float = 0.1  # sets train.warmup_steps (linear warmup, then train.schedule)
    patience: int | None = 3  # evaluations without improvement before stopping (None: never)
    long_text: LongText = field(default_factory=LongText)
    train: TrainConfig = field(default_factory=_train_defaults)

    def __post_init__(self) -> None:
        check_choices(self, "")
        if self.max_length < 3:
            raise ConfigError(f"max_length={self.max_length}: must be >= 3")
        if not 0 < self.layer_decay <= 1:
            raise ConfigError(f"layer_decay={self.layer_decay}: must be in (0, 1]")
        if self.epochs <= 0:
            raise ConfigError(f"epochs={self.epochs}: must be > 0")
        if self.train_layers is not None and self.train_layers < 0:
            raise ConfigError(f"train_layers={self.train_layers}: must be >= 0 or None")
        if self.probe == "logistic" and (self.head != "linear" or self.layer == "mix"):
            raise ConfigError("probe='logistic' fits a linear head on fixed features; use head='linear' and a "
                              "layer other than 'mix' (or probe='sgd')")


@dataclass
class TextTaskResult:
    """What a run returns: the trained model, its labels and the validation metrics."""

    model: TextTaskModel
    label_names: list[str]
    metrics: dict[str, Any]
    run_dir: Path
    steps: int = 0
    seconds: float = 0.0


# ------------------------------------------------------------------------------------------ examples
def label_vocabulary(rows: list[TaskRow], task: str) -> list[str]:
    """Sorted label (or tag) names of the training rows; multiple choice has none."""
    if task == "multiple-choice":
        return []
    if task == "token-cls":
        return sorted({t for r in rows if r.label is not None for t in r.label})
    return sorted({r.label for r in rows if r.label is not None})


def build_examples(rows: list[TaskRow], windows: TextWindows, task: str, label_names: list[str]) -> list[Example]:
    """Tokenize rows into examples; a label unseen in training is an error naming the row."""
    index = {n: i for i, n in enumerate(label_names)}

    def lookup(name: str, where: str) -> int:
        if name not in index:
            raise DataError(f"{where}: label {name!r} was not seen in training (labels: "
                            f"{', '.join(label_names[:10])}{', ...' if len(label_names) > 10 else ''})")
        return index[name]

    out = []
    for r in rows:
        if task == "token-cls":
            tags = None if r.label is None else [lookup(t, r.where) for t in r.label]
            out.append(windows.words(r.tokens or [], tags, what=r.where))
        elif task == "multiple-choice":
            out.append(windows.choices(r.text or "", r.choices or [], -1 if r.label is None else r.label, what=r.where))
        elif task == "pair-cls":
            out.append(windows.pair(r.text or "", r.text_pair or "", -1 if r.label is None else lookup(r.label, r.where),
                                    what=r.where))
        else:
            out.append(windows.single(r.text or "", -1 if r.label is None else lookup(r.label, r.where), what=r.where))
    return out


def make_windows(model: TextModel, cfg: TextTransferConfig) -> TextWindows:
    return TextWindows(model.tokenizer, min(cfg.max_length, model.max_length), cfg.long_text,
                       segments=model.encoder.config.type_vocab_size >= 2)


def resolve_pooling(cfg: TextTransferConfig, encoder: Encoder) -> str:
    if cfg.pooling is not None:
        return cfg.pooling
    if cfg.mode == "features":
        return "mean"
    return "pooler" if encoder.pooler is not None or cfg.layer == "last" else "cls"


def build_task_model(encoder: Encoder, cfg: TextTransferConfig, num_labels: int) -> TextTaskModel:
    return TextTaskModel(encoder, cfg.task, num_labels, pooling=resolve_pooling(cfg, encoder), layer=cfg.layer,
                         head=cfg.head, aggregate=cfg.long_text.aggregate, head_hidden=cfg.head_hidden,
                         dropout=cfg.dropout)


# ------------------------------------------------------------------------------------------ predictions
@torch.no_grad()
def predict_logits(model: TextTaskModel, examples: list[Example], *, batch_size: int = 32, pad_id: int = 0,
                   cache: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Logits of every example in order (from cached features when ``cache`` is given)."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[torch.Tensor] = []
    try:
        if cache is not None:
            for s in range(0, len(cache["labels"]), batch_size):
                out.append(model.head_logits(cache["features"][s:s + batch_size].to(device),
                                             cache["window_mask"][s:s + batch_size].to(device)).float().cpu())
        else:
            for s in range(0, len(examples), batch_size):
                batch = collate(examples[s:s + batch_size], pad_id)
                out.append(model({k: v.to(device) for k, v in batch.items()}).float().cpu())
    finally:
        model.train(was)
    if out and out[0].dim() == 3:  # tagging: pad to one width
        width = max(o.shape[1] for o in out)
        out = [torch.nn.functional.pad(o, (0, 0, 0, width - o.shape[1])) for o in out]
    return torch.cat(out)


def classification_metrics(y_true: list[int], y_pred: list[int], label_names: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and the per-class report (scikit-learn), and the confusion matrix."""
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

    labels = list(range(len(label_names))) if label_names else sorted(set(y_true) | set(y_pred))
    names = label_names or [str(i) for i in labels]
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
            "n": len(y_true),
            "report": classification_report(y_true, y_pred, labels=labels, target_names=names, output_dict=True,
                                            zero_division=0),
            "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(), "label_names": names}


def evaluate_examples(model: TextTaskModel, examples: list[Example], label_names: list[str], *,
                      pad_id: int = 0, cache: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
    """Metrics of ``model`` on labelled examples (tagging: over first pieces of words)."""
    logits = predict_logits(model, examples, pad_id=pad_id, cache=cache)
    labels = cache["labels"] if cache is not None else collate(examples, pad_id)["labels"]
    pred = logits.argmax(-1)
    if labels.dim() == 2:
        width = min(labels.shape[1], pred.shape[1])
        keep = labels[:, :width] != IGNORE_INDEX
        y_true, y_pred = labels[:, :width][keep].tolist(), pred[:, :width][keep].tolist()
    else:
        y_true, y_pred = labels.tolist(), pred.tolist()
    return classification_metrics(y_true, y_pred, label_names)


def plot_confusion(metrics: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = metrics["confusion"]
    names = metrics["label_names"]
    size = max(3.0, 0.45 * len(names) + 1.5)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}", fontsize=9)
    for i, row in enumerate(cm):
        for j, v in enumerate(row):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=6)
    fig.tight_layout()
    return save_figure(fig, path)


# ------------------------------------------------------------------------------------------ training
def fit_logistic_head(model: TextTaskModel, cache: dict[str, torch.Tensor], c: float) -> None:
    """Fit scikit-learn's standardised logistic regression on the cached features; fold it into the linear head.

    With scaler mean ``mu``, scale ``s``, coefficients ``W`` and intercept ``b``, the head becomes
    ``W / s`` and ``b - (W / s) mu``, so ``head(x) = decision_function(x)``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if model.task == "multiple-choice":
        raise ConfigError("probe='logistic' does not fit multiple choice; use probe='sgd'")
    with torch.no_grad():
        x = cache["features"].flatten(-2)
        if model.task == "token-cls":
            keep = cache["labels"] != IGNORE_INDEX
            x, y = x[keep], cache["labels"][keep]
        else:
            x, y = model.aggregator(x, cache["window_mask"]), cache["labels"]
    if len(torch.unique(y)) < 2:
        raise DataError("probe='logistic': the training labels hold a single class; use more labels")
    scaler = StandardScaler().fit(x.double().numpy())
    lr = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x.double().numpy()), y.numpy())
    coef, intercept = torch.tensor(lr.coef_), torch.tensor(lr.intercept_)
    classes = torch.tensor(lr.classes_)
    if coef.shape[0] == 1:  # binary: sklearn keeps one row, for class 1
        coef, intercept = torch.cat([torch.zeros_like(coef), coef]), torch.cat([torch.zeros(1, dtype=intercept.dtype),
                                                                              intercept])
    w = coef / torch.tensor(scaler.scale_)
    b = intercept - w @ torch.tensor(scaler.mean_)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(-1e4)  # classes absent from the training subset are never predicted
        model.classifier.weight[classes] = w.to(model.classifier.weight)
        model.classifier.bias[classes] = b.to(model.classifier.bias)


def _train_config(cfg: TextTransferConfig, n_train: int, output_dir: Path, has_valid: bool) -> TrainConfig:
    batch = min(cfg.train.batch_size, n_train)
    steps_per_epoch = max(1, n_train // batch)
    steps = max(1, math.ceil(cfg.epochs * steps_per_epoch))
    every = max(steps_per_epoch, math.ceil(steps / MAX_EVALUATIONS))
    return dataclasses.replace(cfg.train, output_dir=str(output_dir), batch_size=batch, max_steps=steps,
                               warmup_steps=int(cfg.warmup_ratio * steps), eval_every=every if has_valid else None)


def fit_text_task(model: TextModel, train_rows: list[TaskRow], valid_rows: list[TaskRow] | None,
                  cfg: TextTransferConfig, output_dir: str | Path) -> TextTaskResult:
    """Train ``cfg.task`` on ``train_rows`` from ``model`` (feature extraction or fine-tuning); write the run.

    The encoder of ``model`` is copied, never changed. With ``valid_rows`` the run evaluates once
    per epoch, keeps the best weights (restored at the end) and stops after ``cfg.patience``
    evaluations without improvement.
    """
    import copy
    import time

    t0 = time.perf_counter()
    out = Path(output_dir)
    if cfg.init == "random":
        torch.manual_seed(cfg.train.seed)
        encoder = Encoder(model.encoder.config).to(next(model.encoder.parameters()).device)
    else:
        encoder = copy.deepcopy(model.encoder)
    label_names = label_vocabulary(train_rows, cfg.task)
    windows = make_windows(model, cfg)
    train_ex = build_examples(train_rows, windows, cfg.task, label_names)
    valid_ex = build_examples(valid_rows, windows, cfg.task, label_names) if valid_rows else None
    torch.manual_seed(cfg.train.seed)
    task_model = build_task_model(encoder, cfg, len(label_names))
    train_cfg = _train_config(cfg, len(train_ex), out, valid_ex is not None)
    description = {"task": cfg.task, "mode": cfg.mode, "labels": label_names}
    keep = KeepBest("eval_acc", patience=cfg.patience)
    steps = 0
    valid_cache = None
    if cfg.mode == "features":
        pad = model.pad_id
        train_cache = cached_features(task_model, train_ex, pad_id=pad)  # each text encoded once per run
        valid_cache = cached_features(task_model, valid_ex, pad_id=pad) if valid_ex else None
        objective: Any = CachedHeadObjective(task_model, description)
        if cfg.probe == "logistic":
            fit_logistic_head(task_model, train_cache, cfg.probe_c)
            out.mkdir(parents=True, exist_ok=True)
            save_module(objective, out / "model.safetensors")
        else:
            trainer = Trainer(objective, train_cfg, CachedDataset(train_cache),
                              eval_data=CachedDataset(valid_cache) if valid_cache else None,
                              callbacks=[keep] if valid_cache else [])
            steps = trainer.fit().step
    else:
        freeze_below(task_model, cfg.train_layers)
        objective = TextTaskObjective(task_model, lr=cfg.train.lr, layer_decay=cfg.layer_decay, config=description)
        trainer = Trainer(objective, train_cfg, ExampleDataset(train_ex),
                          eval_data=ExampleDataset(valid_ex) if valid_ex else None,
                          collate_fn=lambda items: collate(items, model.pad_id), callbacks=[keep] if valid_ex else [])
        steps = trainer.fit().step
    if (out / "best" / "model.safetensors").is_file():
        load_module(objective, out / "best" / "model.safetensors")
    model.tokenizer.save_pretrained(out / TOKENIZER_DIR)
    write_json(out / TASK_FILE, {**description, "config": _config_dict(cfg), "encoder": encoder.config.to_dict(),
                                 "source": model.source, "steps": steps})
    metrics: dict[str, Any] = {}
    if valid_ex:
        metrics = evaluate_examples(task_model, valid_ex, label_names, pad_id=model.pad_id, cache=valid_cache)
        if cfg.task != "multiple-choice":
            plot_confusion(metrics, out / "confusion.png")
        write_json(out / "evaluation.json", {"valid": metrics})
    task_model.eval()
    return TextTaskResult(task_model, label_names, metrics, out, steps, time.perf_counter() - t0)


def _config_dict(cfg: TextTransferConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def run_finetune(cfg: TextTransferConfig, *, device: str = "cpu") -> TextTaskResult:
    """``reprlab finetune``: read the files, load the model, :func:`fit_text_task`."""
    from reprlab.transfer.text_model import load_text_model

    if not cfg.model:
        raise ConfigError("no model; pass --model RUN_OR_HF_DIR")
    if not cfg.train_file:
        raise ConfigError("no training data; pass --train FILE.jsonl|csv")
    model = load_text_model(cfg.model, device=device)
    train_rows = read_task_file(cfg.train_file, cfg.task)
    valid_rows = read_task_file(cfg.valid_file, cfg.task) if cfg.valid_file else None
    return fit_text_task(model, train_rows, valid_rows, cfg, cfg.train.output_dir)


# ------------------------------------------------------------------------------------------ loading a run
@dataclass
class FinetunedRun:
    """A fine-tuned (or probed) run loaded back: model, tokenizer, labels and config."""

    model: TextTaskModel
    tokenizer: Any
    label_names: list[str]
    config: TextTransferConfig
    run_dir: Path

    def windows(self) -> TextWindows:
        enc = self.model.encoder
        return TextWindows(self.tokenizer, min(self.config.max_length, enc.config.max_length), self.config.long_text,
                           segments=enc.config.type_vocab_size >= 2)


def load_finetuned(run_dir: str | Path, *, device: str | torch.device = "cpu") -> FinetunedRun:
    """Load a :func:`fit_text_task` run directory (its best weights when it kept some)."""
    from reprlab.tokenizers import load_tokenizer

    run = Path(run_dir)
    path = run / TASK_FILE
    if not path.is_file():
        raise CheckpointError(f"{run}: no {TASK_FILE}; pass a `reprlab finetune -o OUT` directory")
    try:
        meta = json.loads(path.read_text())
        cfg = from_dict(TextTransferConfig, meta["config"], TASK_FILE)
        enc_cfg = EncoderConfig.from_dict(meta["encoder"])
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: not a fine-tuned run description ({e}); re-run reprlab finetune") from None
    model = build_task_model(Encoder(enc_cfg), cfg, len(meta["labels"]))
    holder = TextTaskObjective(model, lr=1.0)
    weights = run / "best" / "model.safetensors"
    load_module(holder, weights if weights.is_file() else run / "model.safetensors")
    return FinetunedRun(model.to(device).eval(), load_tokenizer(run / TOKENIZER_DIR), list(meta["labels"]), cfg, run)


def predict_file(run_dir: str | Path, file: str | Path, output: str | Path, *, batch_size: int = 32,
                 device: str = "cpu") -> dict[str, Any]:
    """``reprlab predict``: label and probabilities for every row of ``file``, written as JSONL.

    Rows that carry a label are also scored (metrics returned); a label the run never saw is an
    error naming the row.
    """
    run = load_finetuned(run_dir, device=device)
    task = run.config.task
    rows = read_task_file(file, task, labels_required=False)
    examples = build_examples(rows, run.windows(), task, run.label_names)
    logits = predict_logits(run.model, examples, batch_size=batch_size, pad_id=run.model.encoder.config.pad_token_id)
    probs = logits.softmax(-1)
    names = run.label_names
    lines: list[dict[str, Any]] = []
    for i, (r, ex) in enumerate(zip(rows, examples)):
        if task == "token-cls":
            tags: list[str | None] = [None] * len(r.tokens or [])
            for pos, w in enumerate(ex.meta["word_ids"]):
                if w is not None and (pos == 0 or ex.meta["word_ids"][pos - 1] != w):
                    tags[w] = names[int(probs[i, pos].argmax())]
            lines.append({"tokens": r.tokens, "tags": tags})
        elif task == "multiple-choice":
            p = probs[i, :len(r.choices or [])]
            lines.append({"label": int(p.argmax()), "probabilities": [round(float(v), 6) for v in p]})
        else:
            lines.append({"label": names[int(probs[i].argmax())],
                          "probabilities": {n: round(float(v), 6) for n, v in zip(names, probs[i])}})
    with atomic_write(output) as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    labelled = [ex for r, ex in zip(rows, examples) if r.label is not None]
    if labelled and len(labelled) == len(examples):
        return evaluate_examples(run.model, examples, names, pad_id=run.model.encoder.config.pad_token_id)
    return {}


# ------------------------------------------------------------------------------------------ HF export
_HF_HEADS = {"seq-cls": "ForSequenceClassification", "pair-cls": "ForSequenceClassification",
             "token-cls": "ForTokenClassification", "multiple-choice": "ForMultipleChoice"}


def export_hf(run_dir: str | Path, directory: str | Path) -> Path:
    """Write the run as a HF ``{Bert,Roberta,Albert}{ForSequenceClassification, ForTokenClassification, ForMultipleChoice}``.

    ``from_pretrained`` on the directory gives the run's logits (within float error). Needs the HF
    head layout: a linear head on the last layer, pooled by ``pooler`` (sequence tasks), and no chunks.
    RoBERTa's sequence head (``RobertaClassificationHead``: ``out_proj(tanh(dense(h_<s>)))``, dropout
    before each linear layer, no pooler) is the same function at evaluation as either ``pooling='pooler'``
    with a linear head (the pooler's dense becomes ``classifier.dense``) or ``pooling='cls'`` with the
    ``mlp`` head of width H (``hidden`` becomes ``classifier.dense``); both export.
    """
    from safetensors.torch import save_file

    from reprlab.io import atomic_path
    from reprlab.text.interop import config_to_hf, hf_family, to_hf_state

    run = load_finetuned(run_dir)
    m, cfg = run.model, run.config
    h = m.encoder.config.hidden_size
    family = hf_family(m.encoder.config)
    roberta_head = family == "roberta" and cfg.task in ("seq-cls", "pair-cls")
    problems = []
    if m.mix is not None or m.layers != [m.encoder.config.num_layers]:
        problems.append("a head on the last layer")
    if roberta_head:
        if not (m.pooling == "pooler" and m.hidden is None
                or m.pooling == "cls" and m.hidden is not None and m.hidden.out_features == h):
            problems.append(f"RoBERTa's classification head: pooling 'pooler' with the linear head, or pooling 'cls' "
                            f"with the mlp head of width {h} (the run uses pooling {m.pooling!r}, head "
                            f"{'mlp' if m.hidden is not None else 'linear'})")
    else:
        if m.hidden is not None:
            problems.append("a linear head")
        if cfg.task != "token-cls" and m.pooling != "pooler":
            problems.append(f"pooling 'pooler' (the run uses {m.pooling!r})")
    if cfg.long_text.strategy == "chunks":
        problems.append("no chunk aggregation")
    if problems:
        raise ConfigError(f"{run_dir}: HF export needs {'; '.join(problems)}")
    base = to_hf_state(m.encoder)
    drop_pooler = cfg.task == "token-cls" or roberta_head  # these HF heads have no pooler
    state = {f"{family}.{k}": v for k, v in base.items() if not (drop_pooler and k.startswith("pooler."))}

    def copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {p: getattr(module, p).detach().clone().contiguous() for p in ("weight", "bias")}

    if roberta_head:
        pooler = m.encoder.pooler
        dense = m.hidden if m.hidden is not None else pooler.dense if pooler is not None else None
        if dense is None:
            raise CheckpointError(f"{run_dir}: pooling 'pooler' but the encoder has no pooler weights")
        state.update({f"classifier.dense.{p}": t for p, t in copy(dense).items()})
        state.update({f"classifier.out_proj.{p}": t for p, t in copy(m.classifier).items()})
    else:
        state.update({f"classifier.{p}": t for p, t in copy(m.classifier).items()})
    hf = config_to_hf(m.encoder.config)
    hf["architectures"] = [family.capitalize() + _HF_HEADS[cfg.task]]
    hf["classifier_dropout"] = cfg.dropout
    if run.label_names:
        hf["id2label"] = {str(i): n for i, n in enumerate(run.label_names)}
        hf["label2id"] = {n: i for i, n in enumerate(run.label_names)}
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    write_json(out / "config.json", hf)
    run.tokenizer.save_pretrained(out)
    return out


__all__ = ["TextTransferConfig", "TextTaskResult", "fit_text_task", "run_finetune", "FinetunedRun", "load_finetuned",
           "predict_file", "export_hf", "classification_metrics", "evaluate_examples", "predict_logits",
           "build_examples", "label_vocabulary"]
