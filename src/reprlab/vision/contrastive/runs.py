"""End-to-end SimCLR runs behind ``reprlab simclr train|eval|report`` and the SimCLR demo step.

* :func:`run_simclr` — contrastive pretraining through the shared Trainer (run directory with
  config.json, metrics.jsonl, model.safetensors and ``simclr.json``, the run's own config);
* :func:`evaluate_run` — one evaluation protocol on the pretrained encoder of a run directory
  (linear, kNN, or fine-tuning with the supervised-from-scratch baseline; :mod:`reprlab.transfer`);
* :func:`run_simclr_report` — the whole table (linear, kNN, fine-tuning vs supervised at 1/10/100%)
  and the t-SNE map of the representation (:mod:`reprlab.embed`).

Data come from a :class:`reprlab.data.DataSpec` (named sets, IDX directories, image folders).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from reprlab.config import from_dict
from reprlab.data import DataSpec, load_dataset, load_split
from reprlab.errors import CheckpointError, ConfigError, MissingDataError
from reprlab.io import atomic_write, save_figure, write_json
from reprlab.train import TrainConfig, Trainer, TrainResult, read_metrics, resolve_device, torch_threads
from reprlab.train.checkpoint import load_module
from reprlab.transfer import (
    EvalConfig,
    EvalMode,
    class_balanced_indices,
    evaluate_encoder,
    extract_features,
    knn_accuracy,
    linear_probe,
    parse_fraction,
)
from reprlab.vision.contrastive.augment import AugmentConfig, SimCLRAugment
from reprlab.vision.contrastive.backbones import build_backbone
from reprlab.vision.contrastive.simclr import SimCLRConfig, SimCLRObjective

log = logging.getLogger(__name__)


def _default_train() -> TrainConfig:
    # SimCLR's optimiser: LARS, lr = 0.3 x batch/256 (scaled here for batch 256), weight decay
    # 1e-6, 10 warmup epochs then cosine; at CPU scale warmup is ~5% of the steps.
    return TrainConfig(output_dir="runs/simclr", max_steps=500, batch_size=256, optimizer="lars",
                       lr=0.3, weight_decay=1e-6, schedule="cosine", warmup_steps=25,
                       max_grad_norm=None, save_every=250, log_every=10)


@dataclass
class SimCLRRunConfig:
    """``reprlab simclr train`` configuration (TOML tables ``[data]``, ``[model]``, ``[model.augment]``, ``[train]``)."""

    data: DataSpec = field(default_factory=DataSpec)
    model: SimCLRConfig = field(default_factory=SimCLRConfig)
    train: TrainConfig = field(default_factory=_default_train)


@dataclass
class SimCLRResult:
    """The Trainer's result, the trained objective and the wall time of pretraining."""

    train: TrainResult
    objective: SimCLRObjective = field(repr=False)
    seconds: float

    @property
    def logs(self) -> dict[str, float]:
        """The last logged training metrics and the final evaluation's (``eval_*``)."""
        return {**self.train.last_logs, **self.train.eval_logs}


def run_simclr(cfg: SimCLRRunConfig) -> SimCLRResult:
    """Pretrain a SimCLR encoder on ``cfg.data`` (its test split gives the online probe's eval).

    ``model.in_channels`` and ``model.num_classes`` (of the online probe) follow the data when
    they do not fit it. Writes ``simclr.json`` (the config as run) into the run directory.
    """
    train, test = load_split(cfg.data, "train"), load_split(cfg.data, "test")
    if train.x.shape[1] != cfg.model.in_channels:
        log.info("model.in_channels=%d set from the data", train.x.shape[1])
        cfg.model.in_channels = int(train.x.shape[1])
    n_classes = int(train.y.max()) + 1
    if 0 < cfg.model.num_classes < n_classes:
        log.info("model.num_classes=%d set from the data (online probe)", n_classes)
        cfg.model.num_classes = n_classes
    objective = SimCLRObjective(cfg.model)
    t0 = time.perf_counter()
    result = Trainer(objective, cfg.train, train, eval_data=test).fit()
    seconds = time.perf_counter() - t0
    write_json(Path(cfg.train.output_dir) / "simclr.json", asdict(cfg))
    return SimCLRResult(result, objective, seconds)


# ----------------------------------------------------------------------------- run directories
def _upgrade(saved: dict[str, Any]) -> dict[str, Any]:
    """A ``simclr.json`` written before ``[data]`` was a table (``data``, ``data_path``, ``image_size``, ``strict``)."""
    if isinstance(saved.get("data"), str):
        saved = dict(saved)
        saved["data"] = {"name": saved.pop("data"), "path": saved.pop("data_path", None),
                         "image_size": saved.pop("image_size", 32), "strict": saved.pop("strict", False)}
    return saved


def read_run(run_dir: Path) -> tuple[SimCLRRunConfig, SimCLRObjective]:
    """Rebuild the run's config and its trained :class:`SimCLRObjective` from ``run_dir``."""
    cfg_path = run_dir / "simclr.json"
    if not cfg_path.is_file():
        raise MissingDataError(f"{cfg_path}: not found; RUN_DIR must be a directory written by "
                               "'reprlab simclr train'")
    try:
        saved = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_path}: corrupt JSON ({e}); the run's config is damaged — train the run "
                              "again, or restore simclr.json from a copy") from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{cfg_path}: expected a JSON object, found a {type(saved).__name__}")
    try:
        cfg = from_dict(SimCLRRunConfig, _upgrade(saved))
    except ConfigError as e:
        raise ConfigError(f"{cfg_path}: {e}") from None
    objective = SimCLRObjective(cfg.model)
    load_module(objective, run_dir / "model.safetensors")
    return cfg, objective


def finetune_augment() -> AugmentConfig:
    """Crop + flip only (SimCLR fine-tunes and the supervised baseline trains with these)."""
    return AugmentConfig(crop_scale=(0.5, 1.0), jitter_p=0.0, grayscale_p=0.0)


def evaluate_run(run_dir: Path, eval_cfg: EvalConfig, feature_cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate the encoder of a SimCLR run directory with ``eval_cfg``; write the JSON under ``RUN_DIR/eval``."""
    cfg, objective = read_run(run_dir)
    objective.to(resolve_device(eval_cfg.device))
    train, test = load_split(cfg.data, "train"), load_split(cfg.data, "test")
    m = cfg.model

    def make_encoder() -> torch.nn.Module:
        return build_backbone(m.backbone, m.in_channels, cifar_stem=m.cifar_stem, width=m.width)

    result = evaluate_encoder(objective.encoder, objective.feature_dim, train, test, eval_cfg,
                              output_dir=run_dir / "eval", make_encoder=make_encoder,
                              augment=SimCLRAugment(finetune_augment()), feature_cache=feature_cache)
    tag = eval_cfg.labels.replace("%", "pct")
    write_json(run_dir / "eval" / f"{eval_cfg.mode}-{tag}-seed{eval_cfg.seed}.json", result)
    return result


# ----------------------------------------------------------------------------- report
@dataclass
class SimCLRReportConfig:
    """``reprlab simclr report RUN_DIR``: which protocols to run on the run's encoder."""

    run_dir: str
    fractions: tuple[str, ...] = ("1%", "10%", "100%")  # fine-tuning label fractions
    seed: int = 0
    finetune_steps: int = 300  # per fraction
    baseline: bool = True  # also train the supervised-from-scratch network per fraction
    device: str = "auto"
    tsne_points: int = 2000  # t-SNE map of h for this many test images (0: skip)


@dataclass
class TSNEMap:
    """The t-SNE map of a run's representation: where it was saved and how well classes separate."""

    path: Path
    n_points: int  # test images in the map (fewer than asked when the test split is smaller)
    knn_accuracy: float  # 2-D kNN accuracy of the map


@dataclass
class SimCLRReport:
    """One evaluation dict per protocol (as :func:`evaluate_run` returns), the table, the map."""

    rows: list[dict[str, Any]]
    table: str  # Markdown, also in RUN_DIR/report.md
    tsne: TSNEMap | None


def run_simclr_report(cfg: SimCLRReportConfig, *,
                      on_row: Callable[[dict[str, Any]], None] | None = None) -> SimCLRReport:
    """Linear and kNN at 100% labels, linear at 1%, fine-tuning per fraction; ``report.md``.

    ``on_row`` sees each protocol's result as soon as it is measured (the CLI prints them).
    """
    run_dir = Path(cfg.run_dir)
    rows = []
    cache: dict[str, Any] = {}  # frozen features, extracted once for the linear and kNN rows
    protocols: list[tuple[EvalMode, str]] = [("linear", "100%"), ("knn", "100%"), ("linear", "1%")]
    protocols += [("finetune", f) for f in cfg.fractions]
    for mode, labels in protocols:
        eval_cfg = EvalConfig(mode=mode, labels=labels, seed=cfg.seed, finetune_steps=cfg.finetune_steps,
                              baseline=cfg.baseline, device=cfg.device)
        rows.append(evaluate_run(run_dir, eval_cfg, cache))
        if on_row is not None:
            on_row(rows[-1])
    lines = ["| protocol | labels | SimCLR | supervised from scratch | seconds |", "|---|---|---|---|---|"]
    for r in rows:
        sup = f"{r['supervised_accuracy']:.4f}" if "supervised_accuracy" in r else "—"
        lines.append(f"| {r['mode']} | {r['labels']} ({r['n_labelled']}) | {r['accuracy']:.4f} | {sup} | {r['seconds']} |")
    tsne = None
    if cfg.tsne_points:
        tsne = save_tsne_map(run_dir, cfg.tsne_points, seed=cfg.seed)
        lines += ["", f"t-SNE map of h for {tsne.n_points} test images: 2-D kNN accuracy {tsne.knn_accuracy:.4f} "
                      f"({tsne.path.name})"]
    table = "\n".join(lines)
    with atomic_write(run_dir / "report.md") as f:
        f.write(table + "\n")
    return SimCLRReport(rows, table, tsne)


def save_tsne_map(run_dir: Path, n_points: int = 2000, *, seed: int = 0) -> TSNEMap:
    """t-SNE (reprlab.embed) of the representation h of up to ``n_points`` test images, coloured by
    class, saved as ``RUN_DIR/tsne_h.png``."""
    from matplotlib.figure import Figure

    from reprlab.embed import TSNE, map_knn_accuracy

    cfg, objective = read_run(run_dir)
    test = load_split(cfg.data, "test")
    pick = test.subset(torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n_points])
    h, _ = extract_features(objective.encoder, pick)
    perplexity = min(30.0, max(2.0, (len(h) - 1) / 3))  # the usual 30, lowered for tiny test sets
    xy = TSNE(perplexity=perplexity, random_state=seed).fit_transform(h.numpy())
    labels = pick.y.numpy()
    acc = map_knn_accuracy(xy, labels)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=3)
    ax.set_title(f"SimCLR h, t-SNE of {len(xy)} test images: kNN acc {acc:.3f}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    path = save_figure(fig, run_dir / "tsne_h.png")
    return TSNEMap(path, len(xy), acc)


# ----------------------------------------------------------------------------- experiment
def fashion_recipe() -> tuple[SimCLRConfig, TrainConfig]:
    """The CPU recipe of ``reprlab experiment simclr`` for 28x28 grey images (docs/simclr.md).

    Small CNN 32-64-128 (h: 128-d), projection 128-512-128, NT-Xent at tau 0.5; views: random
    resized crop (area 0.2-1), flip, brightness/contrast jitter 0.4 (saturation, hue and grayscale
    are identities on one channel); AdamW 1e-3, weight decay 1e-4, batch 256, 5% warmup then cosine.
    At batch 256 and a few thousand steps AdamW learned faster than LARS (docs/simclr.md).
    """
    model = SimCLRConfig(backbone="small_cnn", in_channels=1, width=32, proj_hidden=512, proj_dim=128,
                         temperature=0.5, augment=AugmentConfig(crop_scale=(0.2, 1.0), flip_p=0.5,
                                                                brightness=0.4, contrast=0.4))
    train = TrainConfig(output_dir="runs/simclr-experiment", max_steps=1, batch_size=256, optimizer="adamw",
                        lr=1e-3, weight_decay=1e-4, schedule="cosine", max_grad_norm=None, save_every=500,
                        precision="bf16", progress=False, log_every=50)
    return model, train


@dataclass
class SimCLRExperimentConfig:
    """``reprlab experiment simclr``: pretrain per seed, evaluate every protocol, mean +- std over seeds.

    Test-set discipline: ``validation`` training images (class-balanced, drawn per seed) are held
    out of pretraining and of every classifier; the probe's C, and the fine-tuning and supervised
    learning rates, are chosen on them. The test split is read once per chosen setting.
    """

    data: DataSpec = field(default_factory=lambda: DataSpec("fashion-mnist"))
    model: SimCLRConfig = field(default_factory=lambda: fashion_recipe()[0])
    train: TrainConfig = field(default_factory=lambda: fashion_recipe()[1])  # max_steps: set by epochs
    epochs: float = 20.0  # pretraining length in passes over the (non-validation) training images
    seeds: tuple[int, ...] = (0, 1, 2)
    validation: int = 5000  # held-out training images for every choice of setting
    labels: str = "1%"  # the few-label protocol (class-balanced, per seed)
    probe_cs: tuple[float, ...] = (0.1, 1.0, 10.0)  # logistic-regression C grid (chosen on validation)
    finetune_lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2)  # AdamW grid, fine-tuning and supervised alike
    finetune_steps: int = 500
    knn_k: int = 200

    def __post_init__(self) -> None:
        if self.epochs <= 0 or not self.seeds or self.validation < 0 or self.finetune_steps < 1:
            raise ConfigError("experiment: epochs must be > 0, seeds non-empty, validation >= 0, "
                              "finetune_steps >= 1")
        if not self.probe_cs or not self.finetune_lrs:
            raise ConfigError("experiment: probe_cs and finetune_lrs need at least one value each")


@dataclass
class SimCLRExperimentResult:
    """Per-seed rows, ``mean +- std`` per protocol, the Markdown table (``report.md``) and the directory."""

    seeds: list[dict[str, Any]]
    summary: dict[str, dict[str, float]]
    table: str
    run_dir: Path


_PROTOCOLS = {  # key -> (protocol, labels, which encoder)
    "linear_100": ("linear (frozen h)", "100%", "SimCLR"),
    "knn_100": ("kNN (frozen h)", "100%", "SimCLR"),
    "linear_few": ("linear (frozen h)", "few", "SimCLR"),
    "finetune_few": ("fine-tune", "few", "SimCLR"),
    "supervised_few": ("supervised from scratch, same augmentations", "few", "—"),
}


def _split_validation(train: Any, n_val: int, seed: int) -> tuple[Any, Any | None]:
    if n_val == 0:
        return train, None
    if not 0 < n_val < len(train):
        raise ConfigError(f"validation={n_val}: must be below the {len(train)} training images")
    val_idx = class_balanced_indices(train.y, n_val / len(train), seed + 10_000)
    keep = torch.ones(len(train), dtype=torch.bool)
    keep[val_idx] = False
    return train.subset(torch.nonzero(keep).flatten()), train.subset(val_idx)


Pair = tuple[torch.Tensor, torch.Tensor]  # (features, labels)


def _probe_on_validation(cs: tuple[float, ...], tr: Pair, val: Pair | None, te: Pair) -> dict[str, float]:
    """Fit a probe per C on ``tr``; keep the best on ``val`` (the first C without one); its test accuracy."""
    best: dict[str, float] = {}
    for c in cs:
        res = linear_probe(tr[0], tr[1], (val or te)[0], (val or te)[1], C=c)
        if not best or (val is not None and res.accuracy > best["val_accuracy"]):
            test_acc = float((res.model.predict(te[0].double().numpy()) == te[1].numpy()).mean())
            best = {"accuracy": test_acc, "val_accuracy": res.accuracy if val is not None else float("nan"), "C": c}
        if val is None:
            break
    return best


def _finetune_on_validation(cfg: SimCLRExperimentConfig, encoder: torch.nn.Module | None, feature_dim: int,
                            make_encoder: Callable[[], torch.nn.Module], labelled: Any, val: Any | None,
                            test: Any, out: Path, seed: int) -> dict[str, float]:
    """Fine-tune (``encoder``) or train from scratch (``None``) per lr; keep the best on ``val``."""
    from reprlab.transfer import classifier_accuracy, fit_classifier
    from reprlab.transfer.evaluate import finetune_config

    best: dict[str, float] = {}
    n_classes = int(test.y.max()) + 1
    for lr in cfg.finetune_lrs:
        ecfg = EvalConfig(mode="finetune", labels=cfg.labels, seed=seed, finetune_steps=cfg.finetune_steps,
                          finetune_lr=lr, device=cfg.train.device)
        tcfg = finetune_config(ecfg, len(labelled), out / f"{'finetune' if encoder is not None else 'supervised'}-lr{lr:g}")
        tcfg = dataclasses.replace(tcfg, precision=cfg.train.precision)  # both arms at the pretraining's precision
        torch.manual_seed(seed)
        start = encoder if encoder is not None else make_encoder()
        res = fit_classifier(start, feature_dim, n_classes, labelled, val if val is not None else test, tcfg,
                             augment=SimCLRAugment(finetune_augment()), copy_encoder=encoder is not None)
        if not best or (val is not None and res.accuracy > best["val_accuracy"]):
            best = {"accuracy": classifier_accuracy(res.objective, test) if val is not None else res.accuracy,
                    "val_accuracy": res.accuracy if val is not None else float("nan"), "lr": lr}
        if val is None:
            break
    return best


def _experiment_seed(cfg: SimCLRExperimentConfig, seed: int, out: Path) -> dict[str, Any]:
    """One seed: pretrain on the non-validation images, then every protocol (settings chosen on validation)."""
    full_train, test = load_split(cfg.data, "train"), load_split(cfg.data, "test")
    train, val = _split_validation(full_train, cfg.validation, seed)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.seed = seed
    model_cfg.in_channels = int(train.x.shape[1])
    steps = max(1, round(cfg.epochs * len(train) / cfg.train.batch_size))
    tcfg = dataclasses.replace(cfg.train, output_dir=str(out / "pretrain"), max_steps=steps, seed=seed,
                               warmup_steps=cfg.train.warmup_steps or steps // 20)
    torch.manual_seed(seed)  # the initial weights: torch's default generator is not seeded at start-up
    objective = SimCLRObjective(model_cfg)
    t0 = time.perf_counter()
    Trainer(objective, tcfg, train, eval_data=val).fit()  # the online probe reads validation, not test
    seconds = time.perf_counter() - t0
    encoder = objective.encoder.eval()
    feats = {k: (extract_features(encoder, d)[0], d.y) for k, d in (("train", train), ("val", val), ("test", test))
             if d is not None}  # (features, labels) per split
    few = class_balanced_indices(train.y, parse_fraction(cfg.labels), seed)
    tr, te, va = feats["train"], feats["test"], feats.get("val")
    row: dict[str, Any] = {"seed": seed, "pretrain_steps": steps, "pretrain_seconds": round(seconds, 1),
                           "seconds_per_epoch": round(seconds / cfg.epochs, 1), "n_labelled_few": len(few),
                           "n_train": len(train), "n_validation": 0 if val is None else len(val)}
    row["linear_100"] = _probe_on_validation(cfg.probe_cs, tr, va, te)
    row["knn_100"] = {"accuracy": knn_accuracy(tr[0], tr[1], te[0], te[1], k=cfg.knn_k).accuracy}
    row["linear_few"] = _probe_on_validation(cfg.probe_cs, (tr[0][few], tr[1][few]), va, te)

    def make_encoder() -> torch.nn.Module:
        return build_backbone(model_cfg.backbone, model_cfg.in_channels, cifar_stem=model_cfg.cifar_stem,
                              width=model_cfg.width)

    labelled = train.subset(few)
    row["finetune_few"] = _finetune_on_validation(cfg, encoder, objective.feature_dim, make_encoder, labelled,
                                                  val, test, out, seed)
    row["supervised_few"] = _finetune_on_validation(cfg, None, objective.feature_dim, make_encoder, labelled,
                                                    val, test, out, seed)
    row["total_seconds"] = round(time.perf_counter() - t0, 1)
    return row


def run_simclr_experiment(cfg: SimCLRExperimentConfig) -> SimCLRExperimentResult:
    """Every seed of the recipe (a finished seed's ``seed-N/result.json`` is reused), then the summary table.

    Writes ``experiment.json`` (per-seed rows and the summary) and ``report.md`` into ``train.output_dir``.
    """
    out = Path(cfg.train.output_dir)
    rows = []
    for seed in cfg.seeds:
        seed_dir = out / f"seed-{seed}"
        done = seed_dir / "result.json"
        if done.is_file() and cfg.train.resume:
            rows.append(json.loads(done.read_text()))
            continue
        if seed_dir.exists() and not cfg.train.resume:
            raise ConfigError(f"{seed_dir} exists; pass --resume to continue that experiment, or choose "
                              "another output directory")
        rows.append(_experiment_seed(cfg, seed, seed_dir))
        write_json(done, rows[-1])
    summary = {}
    for key in _PROTOCOLS:
        accs = torch.tensor([r[key]["accuracy"] for r in rows], dtype=torch.float64)
        summary[key] = {"mean": float(accs.mean()), "std": float(accs.std()) if len(accs) > 1 else 0.0,
                        "n_seeds": len(accs)}
    few = f"{cfg.labels} ({rows[0]['n_labelled_few']})"
    lines = [f"| protocol | labels | test accuracy, mean ± std over {len(rows)} seed(s) | chosen on validation |",
             "|---|---|---|---|"]
    for key, (name, labels, _) in _PROTOCOLS.items():
        m = summary[key]
        chosen = ", ".join(sorted({f"C={r[key]['C']:g}" if "C" in r[key] else f"lr={r[key]['lr']:g}"
                                   for r in rows if "C" in r[key] or "lr" in r[key]})) or "—"
        lines.append(f"| {name} | {few if labels == 'few' else labels} | {m['mean']:.4f} ± {m['std']:.4f} | {chosen} |")
    epoch_s = [r["seconds_per_epoch"] for r in rows]
    lines += ["", f"Pretraining: {rows[0]['pretrain_steps']} steps ({cfg.epochs:g} epochs of {rows[0]['n_train']} "
                  f"images), {min(epoch_s):.1f}-{max(epoch_s):.1f} s per epoch; whole experiment "
                  f"{sum(r['total_seconds'] for r in rows):.0f} s."]
    table = "\n".join(lines)
    curves = {str(r["seed"]): pretraining_curve(out / f"seed-{r['seed']}" / "pretrain", r["n_train"], cfg.train.batch_size)
              for r in rows}
    write_json(out / "experiment.json", {"config": asdict(cfg), "seeds": rows, "summary": summary, "curves": curves})
    if any(curves.values()):
        save_curve_figure(curves, rows, out / "curve.png")
    with atomic_write(out / "report.md") as f:
        f.write(table + "\n")
    return SimCLRExperimentResult(rows, summary, table, out)


def pretraining_curve(run_dir: Path, n_train: int, batch_size: int) -> list[dict[str, float]]:
    """The online probe's and NT-Xent's evaluations of a pretraining run, against epochs.

    One row per evaluation in ``run_dir/metrics.jsonl``: ``epoch`` (steps x batch / n_train),
    ``probe_acc`` (the online linear probe on ``h.detach()``) and ``pair_acc`` on the eval split.
    """
    return [{"epoch": round(m["step"] * batch_size / n_train, 3), "probe_acc": m["eval_probe_acc"],
             "pair_acc": m.get("eval_pair_acc", float("nan"))}
            for m in read_metrics(run_dir / "metrics.jsonl") if "eval_probe_acc" in m and "step" in m]


def save_curve_figure(curves: dict[str, list[dict[str, float]]], rows: list[dict[str, Any]], path: Path) -> Path:
    """Validation accuracy against pretraining epochs per seed: the online probe (line) and the
    linear probe fitted to convergence on the final frozen h (marker)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for i, ((seed, curve), row) in enumerate(zip(curves.items(), rows)):
        colour = f"C{i % 10}"
        ax.plot([c["epoch"] for c in curve], [c["probe_acc"] for c in curve], color=colour, marker=".",
                label=f"seed {seed}: online probe")
        val = row["linear_100"].get("val_accuracy")
        if curve and val is not None:
            ax.plot([curve[-1]["epoch"]], [val], color=colour, marker="*", markersize=10, linestyle="none",
                    label=f"seed {seed}: linear probe on frozen h")
    ax.set_xlabel("pretraining epochs")
    ax.set_ylabel("validation accuracy")
    ax.set_title("SimCLR on Fashion-MNIST: accuracy against pretraining", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


# ----------------------------------------------------------------------------- demo
def save_views_figure(x: torch.Tensor, path: Path, config: AugmentConfig | None = None, n_images: int = 6,
                      n_views: int = 5, seed: int = 0) -> Path:
    """A grid: each row an image followed by ``n_views`` random views of it."""
    from matplotlib.figure import Figure

    aug = SimCLRAugment(config)
    gen = torch.Generator().manual_seed(seed)
    x = x[:n_images]
    views = [aug(x, gen) for _ in range(n_views)]
    fig = Figure(figsize=(1.2 * (n_views + 1), 1.2 * len(x)))
    axes = fig.subplots(len(x), n_views + 1, squeeze=False)
    for i in range(len(x)):
        for j, img in enumerate([x[i]] + [v[i] for v in views]):
            ax = axes[i, j]
            arr = img.permute(1, 2, 0).numpy()
            ax.imshow(arr[..., 0] if arr.shape[2] == 1 else arr, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title("input" if j == 0 else f"view {j}", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def digits_recipe(output_dir: str | Path, *, steps: int = 150, seed: int = 0) -> tuple[SimCLRConfig, TrainConfig]:
    """Small CNN (width 16) on 8x8 digits: crop + brightness/contrast jitter, Adam, cosine."""
    model = SimCLRConfig(backbone="small_cnn", in_channels=1, width=16, proj_hidden=64, proj_dim=32,
                         temperature=0.5, seed=seed,
                         augment=AugmentConfig(crop_scale=(0.5, 1.0), flip_p=0.0, saturation=0.0,
                                               hue=0.0, grayscale_p=0.0))
    train = TrainConfig(output_dir=str(output_dir), max_steps=steps, batch_size=128, optimizer="adamw",
                        lr=3e-3, weight_decay=1e-4, schedule="cosine", warmup_steps=steps // 10,
                        seed=seed, save_every=None, progress=False, log_every=max(1, steps // 5))
    return model, train


def demo(out_dir: Path) -> str:
    """SimCLR on digits with the small CNN: linear-probe accuracy vs the same encoder at random init."""
    out = Path(out_dir) / "simclr"
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    model_cfg, train_cfg = digits_recipe(out / "run", steps=100)
    save_views_figure(train.x, out / "views.png", model_cfg.augment)
    # 8x8 images make tiny kernels: one intra-op thread is faster than two (docs/benchmarks.md)
    with torch_threads(1):
        torch.manual_seed(0)
        objective = SimCLRObjective(model_cfg)
        random_encoder = copy.deepcopy(objective.encoder)
        t0 = time.perf_counter()
        if (out / "run").exists():
            import shutil
            shutil.rmtree(out / "run")
        Trainer(objective, train_cfg, train).fit()
        seconds = time.perf_counter() - t0
        acc = {name: linear_probe(extract_features(enc, train)[0], train.y, extract_features(enc, test)[0],
                                  test.y, max_iter=300).accuracy
               for name, enc in (("simclr", objective.encoder), ("random", random_encoder))}
    return (f"simclr: small CNN on digits, {train_cfg.max_steps} steps in {seconds:.0f}s; linear probe "
            f"{acc['simclr']:.3f} vs random-init encoder {acc['random']:.3f}; views in {out}/views.png")


__all__ = ["SimCLRRunConfig", "SimCLRResult", "run_simclr", "read_run", "finetune_augment", "evaluate_run",
           "SimCLRReportConfig", "SimCLRReport", "TSNEMap", "run_simclr_report", "save_tsne_map",
           "save_views_figure", "digits_recipe", "fashion_recipe", "SimCLRExperimentConfig",
           "SimCLRExperimentResult", "run_simclr_experiment", "pretraining_curve", "save_curve_figure", "demo"]
