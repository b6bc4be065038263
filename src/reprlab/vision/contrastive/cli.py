"""``reprlab simclr train|eval|report`` and the SimCLR step of ``reprlab demo``.

* ``train --data digits|fashion-mnist|mnist|IDX_DIR|IMAGE_DIR``: contrastive pretraining through
  the shared Trainer (run directory with config.json, metrics.jsonl, model.safetensors);
* ``eval --mode linear|knn|finetune --labels 1%|10%|100% RUN_DIR``: one evaluation protocol on the
  pretrained encoder (finetune also trains the supervised-from-scratch baseline);
* ``report RUN_DIR``: the whole table (linear, kNN, fine-tuning vs supervised at 1/10/100%).

An image folder is ``DIR/<class>/<image>`` (PNG/JPEG/... read with Pillow), optionally split into
``DIR/train`` and ``DIR/test``; otherwise a seeded, stratified 80/20 split is used. Unreadable
files are skipped with a warning that counts them (``--strict`` fails on the first, naming it).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reprlab.cli.common import add_config_args, command_group, config_from_args
from reprlab.errors import DataError, MissingDataError
from reprlab.train.config import TrainConfig
from reprlab.transfer import EvalConfig
from reprlab.vision.contrastive.augment import AugmentConfig
from reprlab.vision.contrastive.simclr import SimCLRConfig

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _default_train() -> TrainConfig:
    # SimCLR's optimiser: LARS, lr = 0.3 x batch/256 (scaled here for batch 256), weight decay
    # 1e-6, 10 warmup epochs then cosine; at CPU scale warmup is ~5% of the steps.
    return TrainConfig(output_dir="runs/simclr", max_steps=500, batch_size=256, optimizer="lars",
                       lr=0.3, weight_decay=1e-6, schedule="cosine", warmup_steps=25,
                       max_grad_norm=None, save_every=250, log_every=10)


@dataclass
class SimCLRRunConfig:
    """``reprlab simclr train`` configuration (TOML tables ``[model]``, ``[model.augment]``, ``[train]``)."""

    data: str = "digits"  # digits | fashion-mnist | mnist | directory of IDX files or of class folders
    data_path: str | None = None  # overrides a named data set's location (e.g. MNIST IDX directory)
    image_size: int = 32  # image folders are resized to image_size x image_size
    strict: bool = False  # image folders: fail on an unreadable file instead of skipping it
    model: SimCLRConfig = field(default_factory=SimCLRConfig)
    train: TrainConfig = field(default_factory=_default_train)


# ----------------------------------------------------------------------------- data
def load_image_folder(directory: str | Path, image_size: int = 32, *, strict: bool = False):
    """Read ``directory/<class>/<image>`` into an :class:`ArrayDataset` of ``(N, C, S, S)`` floats.

    Images are converted to grey when every readable file is grey (``L``), else to RGB, and resized
    to ``image_size`` with bilinear filtering. Unreadable files are skipped and counted in a
    warning; ``strict=True`` raises :class:`DataError` naming the first one.
    """
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    from reprlab.data import ArrayDataset

    root = Path(directory)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not classes:
        raise MissingDataError(f"{root}: expected class sub-directories holding images "
                               "(DIR/<class>/<image>.png)")
    images, labels, bad = [], [], []
    for label, name in enumerate(classes):
        for path in sorted(p for p in (root / name).rglob("*") if p.is_file()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(path) as im:
                    im.load()
                    images.append(im.copy())
                labels.append(label)
            except (UnidentifiedImageError, OSError, ValueError) as e:
                if strict:
                    raise DataError(f"{path}: unreadable image ({e}); remove it or drop --strict to "
                                    "skip unreadable files") from None
                bad.append(path)
    if bad:
        log.warning("%s: skipped %d unreadable image file(s), e.g. %s", root, len(bad), bad[0])
    if not images:
        raise DataError(f"{root}: no readable images found (suffixes {', '.join(IMAGE_SUFFIXES)})")
    mode = "L" if all(im.mode in ("L", "1", "I;16", "I") for im in images) else "RGB"
    arrays = [np.asarray(im.convert(mode).resize((image_size, image_size), Image.BILINEAR),
                         dtype=np.float32) / 255.0 for im in images]
    x = torch.from_numpy(np.stack(arrays))
    x = x.unsqueeze(1) if mode == "L" else x.permute(0, 3, 1, 2).contiguous()
    return ArrayDataset(x, torch.tensor(labels, dtype=torch.long), tuple(classes), str(root))


def load_split(spec: str, split: str, *, data_path: str | None = None, image_size: int = 32,
               strict: bool = False):
    """``split`` (train/test) of a named set, an IDX directory, or an image folder."""
    from reprlab.data import available_datasets, load_dataset

    path = Path(spec)
    is_idx = path.is_dir() and any(path.glob("*-images-idx3-ubyte*"))
    if spec in available_datasets() or is_idx or not path.is_dir():
        return load_dataset(spec, split, data_path)
    if (path / "train").is_dir() and (path / "test").is_dir():
        return load_image_folder(path / split, image_size, strict=strict)
    import numpy as np
    from sklearn.model_selection import train_test_split

    full = load_image_folder(path, image_size, strict=strict)
    counts = np.bincount(full.y.numpy())
    stratify = full.y.numpy() if counts.min() >= 2 else None
    idx_train, idx_test = train_test_split(np.arange(len(full)), test_size=0.2, random_state=0,
                                           stratify=stratify)
    return full.subset(idx_train if split == "train" else idx_test)


# ----------------------------------------------------------------------------- run directories
def _read_run(run_dir: Path) -> tuple[SimCLRRunConfig, Any]:
    """Rebuild the run's config and its trained :class:`SimCLRObjective` from ``run_dir``."""
    from reprlab.config import from_dict
    from reprlab.train.checkpoint import load_module
    from reprlab.vision.contrastive.simclr import SimCLRObjective

    cfg_path = run_dir / "simclr.json"
    if not cfg_path.is_file():
        raise MissingDataError(f"{cfg_path}: not found; RUN_DIR must be a directory written by "
                               "'reprlab simclr train'")
    cfg = from_dict(SimCLRRunConfig, json.loads(cfg_path.read_text()))
    objective = SimCLRObjective(cfg.model)
    load_module(objective, run_dir / "model.safetensors")
    return cfg, objective


def finetune_augment() -> AugmentConfig:
    """Crop + flip only (SimCLR fine-tunes and the supervised baseline trains with these)."""
    return AugmentConfig(crop_scale=(0.5, 1.0), jitter_p=0.0, grayscale_p=0.0)


def evaluate_run(run_dir: Path, eval_cfg: EvalConfig, feature_cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate the encoder of a SimCLR run directory with ``eval_cfg``; write the JSON next to it."""
    import torch

    from reprlab.io import write_json
    from reprlab.train import resolve_device
    from reprlab.transfer import evaluate_encoder
    from reprlab.vision.contrastive.augment import SimCLRAugment
    from reprlab.vision.contrastive.backbones import build_backbone

    cfg, objective = _read_run(run_dir)
    device = resolve_device(eval_cfg.device)
    objective.to(device)
    train = load_split(cfg.data, "train", data_path=cfg.data_path, image_size=cfg.image_size)
    test = load_split(cfg.data, "test", data_path=cfg.data_path, image_size=cfg.image_size)
    m = cfg.model

    def make_encoder() -> torch.nn.Module:
        return build_backbone(m.backbone, m.in_channels, cifar_stem=m.cifar_stem, width=m.width)

    result = evaluate_encoder(objective.encoder, objective.feature_dim, train, test, eval_cfg,
                              output_dir=run_dir / "eval", make_encoder=make_encoder,
                              augment=SimCLRAugment(finetune_augment()), feature_cache=feature_cache)
    tag = eval_cfg.labels.replace("%", "pct")
    write_json(run_dir / "eval" / f"{eval_cfg.mode}-{tag}-seed{eval_cfg.seed}.json", result)
    return result


# ----------------------------------------------------------------------------- handlers
def cmd_train(args: argparse.Namespace) -> int:
    import time

    from reprlab.io import write_json
    from reprlab.train import Trainer
    from reprlab.vision.contrastive.simclr import SimCLRObjective

    defaults: dict[str, Any] = {}
    if args.data:
        defaults["data"] = args.data
    cfg = config_from_args(SimCLRRunConfig, args, defaults)
    train = load_split(cfg.data, "train", data_path=cfg.data_path, image_size=cfg.image_size, strict=cfg.strict)
    test = load_split(cfg.data, "test", data_path=cfg.data_path, image_size=cfg.image_size, strict=cfg.strict)
    if train.x.shape[1] != cfg.model.in_channels:
        log.info("model.in_channels=%d set from the data", train.x.shape[1])
        cfg.model.in_channels = int(train.x.shape[1])
    n_classes = int(train.y.max()) + 1
    if 0 < cfg.model.num_classes < n_classes:
        log.info("model.num_classes=%d set from the data (online probe)", n_classes)
        cfg.model.num_classes = n_classes
    objective = SimCLRObjective(cfg.model)
    run_dir = Path(cfg.train.output_dir)
    t0 = time.perf_counter()
    result = Trainer(objective, cfg.train, train, eval_data=test).fit()
    write_json(run_dir / "simclr.json", asdict(cfg))
    logs = {**result.last_logs, **result.eval_logs}
    shown = ", ".join(f"{k} {logs[k]:.4g}" for k in ("ntxent", "pair_acc", "eval_probe_acc") if k in logs)
    print(f"simclr: {result.step} steps on {cfg.data} in {time.perf_counter() - t0:.0f}s ({shown}); "
          f"run in {run_dir}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    overrides = {"mode": args.mode, "labels": args.labels, "seed": args.seed, "device": args.device or "auto",
                 "baseline": not args.no_baseline}
    if args.steps:
        overrides["finetune_steps"] = args.steps
    result = evaluate_run(Path(args.run_dir), EvalConfig(**overrides))
    extra = (f", supervised from scratch {result['supervised_accuracy']:.4f}"
             if "supervised_accuracy" in result else "")
    print(f"simclr eval {args.mode} with {args.labels} labels ({result['n_labelled']} examples): "
          f"accuracy {result['accuracy']:.4f}{extra}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from reprlab.io import atomic_write

    run_dir = Path(args.run_dir)
    rows = []
    cache: dict[str, Any] = {}  # frozen features, extracted once for the linear and kNN rows
    for mode, labels in [("linear", "100%"), ("knn", "100%"), ("linear", "1%")] + \
            [("finetune", f) for f in args.fractions]:
        cfg = EvalConfig(mode=mode, labels=labels, seed=args.seed, finetune_steps=args.steps,
                         baseline=not args.no_baseline, device=args.device or "auto")
        r = evaluate_run(run_dir, cfg, cache)
        rows.append(r)
        print(json.dumps(r), flush=True)
    lines = ["| protocol | labels | SimCLR | supervised from scratch | seconds |", "|---|---|---|---|---|"]
    for r in rows:
        sup = f"{r['supervised_accuracy']:.4f}" if "supervised_accuracy" in r else "—"
        lines.append(f"| {r['mode']} | {r['labels']} ({r['n_labelled']}) | {r['accuracy']:.4f} | {sup} | {r['seconds']} |")
    if args.tsne:
        acc = save_tsne_map(run_dir, args.tsne, seed=args.seed)
        lines += ["", f"t-SNE map of h for {args.tsne} test images: 2-D kNN accuracy {acc:.4f} "
                      "(tsne_h.png)"]
    with atomic_write(run_dir / "report.md") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def save_tsne_map(run_dir: Path, n_points: int = 2000, *, seed: int = 0) -> float:
    """t-SNE (reprlab.embed) of the representation h of up to ``n_points`` test images, coloured by
    class, saved as ``RUN_DIR/tsne_h.png``; returns the 2-D kNN accuracy of the map."""
    import matplotlib.pyplot as plt
    import torch

    from reprlab.embed import TSNE, knn_accuracy
    from reprlab.io import save_figure
    from reprlab.transfer import extract_features

    cfg, objective = _read_run(run_dir)
    test = load_split(cfg.data, "test", data_path=cfg.data_path, image_size=cfg.image_size)
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n_points]
    h, y = extract_features(objective.encoder, test.subset(pick))
    perplexity = min(30.0, max(2.0, (len(h) - 1) / 3))  # the usual 30, lowered for tiny test sets
    xy = TSNE(perplexity=perplexity, random_state=seed).fit_transform(h.numpy())
    labels = y.numpy()
    acc = knn_accuracy(xy, labels)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=3)
    ax.set_title(f"SimCLR h, t-SNE of {len(xy)} test images: kNN acc {acc:.3f}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    save_figure(fig, run_dir / "tsne_h.png")
    return acc


def register(sub: argparse._SubParsersAction) -> None:
    verbs = command_group(sub, "simclr", "SimCLR contrastive pretraining and its evaluations")

    t = verbs.add_parser("train", help="contrastive pretraining (SimCLR) of an image encoder")
    t.add_argument("--data", help="digits | fashion-mnist | mnist | IDX directory | image folder "
                                  "(sets data)")
    add_config_args(t)
    t.set_defaults(handler=cmd_train)

    e = verbs.add_parser("eval", help="linear / kNN / fine-tuning evaluation of a trained run")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--mode", choices=("linear", "knn", "finetune"), default="linear")
    e.add_argument("--labels", default="100%", help="fraction of training labels: 1%%, 10%%, 100%%")
    e.add_argument("--seed", type=int, default=0, help="fixes the label subset and fine-tuning")
    e.add_argument("--steps", type=int, default=0, help="fine-tuning steps (default 300)")
    e.add_argument("--no-baseline", action="store_true", help="finetune: skip the from-scratch baseline")
    e.add_argument("--device", help="auto | cpu | cuda")
    e.set_defaults(handler=cmd_eval)

    r = verbs.add_parser("report", help="linear, kNN and 1/10/100%% fine-tuning vs supervised table")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.add_argument("--fractions", nargs="+", default=["1%", "10%", "100%"])
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--steps", type=int, default=300, help="fine-tuning steps per fraction")
    r.add_argument("--no-baseline", action="store_true", help="skip the supervised-from-scratch runs")
    r.add_argument("--device", help="auto | cpu | cuda")
    r.add_argument("--tsne", type=int, default=2000, metavar="N",
                   help="t-SNE map of h for N test images, saved as tsne_h.png (0: skip)")
    r.set_defaults(handler=cmd_report)


# ----------------------------------------------------------------------------- demo
def save_views_figure(x, path: Path, config: AugmentConfig | None = None, n_images: int = 6,
                      n_views: int = 5, seed: int = 0) -> None:
    """A grid: each row an image followed by ``n_views`` random views of it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from reprlab.io import save_figure
    from reprlab.vision.contrastive.augment import SimCLRAugment

    aug = SimCLRAugment(config)
    gen = torch.Generator().manual_seed(seed)
    x = x[:n_images]
    views = [aug(x, gen) for _ in range(n_views)]
    fig, axes = plt.subplots(len(x), n_views + 1, figsize=(1.2 * (n_views + 1), 1.2 * len(x)))
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
    save_figure(fig, path, dpi=100)


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
    import copy
    import time

    import torch

    from reprlab.data import load_dataset
    from reprlab.train import Trainer, torch_threads
    from reprlab.transfer import extract_features, linear_probe
    from reprlab.vision.contrastive.simclr import SimCLRObjective

    out = Path(out_dir) / "simclr"
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    model_cfg, train_cfg = digits_recipe(out / "run", steps=100)
    save_views_figure(train.x, out / "views.png", model_cfg.augment)
    # 8x8 images make tiny kernels; one intra-op thread ran this recipe ~10x faster than two on
    # the 2-core machine (thread-pool synchronisation per op dominates).
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
        acc = {}
        for name, enc in (("simclr", objective.encoder), ("random", random_encoder)):
            a, ay = extract_features(enc, train)
            b, by = extract_features(enc, test)
            acc[name] = linear_probe(a, ay, b, by, max_iter=300).accuracy
    return (f"simclr: small CNN on digits, {train_cfg.max_steps} steps in {seconds:.0f}s; linear probe "
            f"{acc['simclr']:.3f} vs random-init encoder {acc['random']:.3f}; views in {out}/views.png")
