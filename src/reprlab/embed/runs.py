"""End-to-end runs of the embed domain: ``reprlab tsne`` and ``reprlab experiment maps``.

:func:`run_tsne` embeds a saved matrix (``.npy``/``.csv``) and writes the map, optionally a plot.

:func:`run_maps` reproduces the maps figure of Hinton's SIGIR 2020 talk (and van der Maaten &
Hinton 2008, figures 2-3): LLE collapses digit classes into nearly one-dimensional strands while
t-SNE separates them into clusters with gaps. It embeds each data set with each method, saves
side-by-side coloured scatter plots, and writes a metrics table that quantifies the difference:
2-D kNN accuracy, trustworthiness, and the median per-class strand ratio lambda_2/lambda_1
(small = strand-like).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from reprlab.config import check_choices
from reprlab.errors import ConfigError, DataError
from reprlab.io import atomic_path, atomic_write, write_json

Method = Literal["lle", "sne", "tsne"]


@dataclass
class MapsRunConfig:
    """Settings of ``reprlab experiment maps``."""

    output_dir: str = "maps-output"  # maps_<data>.png, maps_metrics.json and maps_metrics.md
    datasets: list[str] = field(default_factory=lambda: ["digits", "fashion-mnist"])
    n_samples: int = 1500          # points per data set (SNE is O(N^2): keep it modest)
    pca_dims: int = 50             # PCA before every method, as in van der Maaten & Hinton (2008)
    perplexity: float = 30.0
    lle_neighbors: int = 12
    sne_iter: int = 500
    methods: list[Method] = field(default_factory=lambda: ["lle", "sne", "tsne"])
    seed: int = 0

    def __post_init__(self) -> None:
        check_choices(self)


@dataclass
class MapResult:
    dataset: str
    method: str
    n_samples: int
    seconds: float
    knn_accuracy: float
    trustworthiness: float
    strand_ratio: float


def load_points(name: str, n_samples: int, pca_dims: int, seed: int
                ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """A random class-mixed subset of a data set, flattened and reduced by PCA: (x (n, p), labels, class names)."""
    from sklearn.decomposition import PCA

    from reprlab.data import load_dataset

    parts = [load_dataset(name, split=split) for split in ("train", "test")]
    x = np.concatenate([p.x.flatten(1).numpy() for p in parts]).astype(np.float64)
    labels = np.concatenate([np.asarray(p.y) for p in parts])
    rng = np.random.default_rng(seed)
    keep = rng.permutation(len(x))[:min(n_samples, len(x))]
    x, labels = x[keep], labels[keep]
    if pca_dims and x.shape[1] > pca_dims:
        x = PCA(pca_dims, random_state=seed).fit_transform(x)
    return x, labels, parts[0].classes


def embed(method: Method, x: np.ndarray, cfg: MapsRunConfig, callbacks: Sequence[Callable] = ()) -> np.ndarray:
    """The ``method`` map of ``x`` with ``cfg``'s settings, ``(n, 2)``.

    ``callbacks`` go to SNE and t-SNE (``(iteration, kl, embedding) -> bool`` every 50 iterations).
    """
    from reprlab.embed import LLE, SNE, TSNE

    if method == "lle":
        return LLE(n_neighbors=cfg.lle_neighbors, random_state=cfg.seed).fit_transform(x)
    if method == "sne":
        return SNE(perplexity=cfg.perplexity, n_iter=cfg.sne_iter, random_state=cfg.seed,
                   callbacks=list(callbacks)).fit_transform(x)
    return TSNE(perplexity=cfg.perplexity, random_state=cfg.seed, callbacks=list(callbacks)).fit_transform(x)


def _iterations(method: Method, cfg: MapsRunConfig) -> int | None:
    """Optimiser iterations of a map (the progress bar's length); None for LLE (one eigen-solve)."""
    from reprlab.embed import TSNE

    if method == "lle":
        return None
    if method == "sne":
        return cfg.sne_iter
    t = TSNE()
    return t.early_exaggeration_iter + t.n_iter


class MapProgress:
    """``experiment maps`` progress: per map a tqdm bar over its iterations (KL, it/s, ETA) when the
    stream is a terminal; otherwise one plain line every 50 iterations and one per finished map.

    The KL shown is the one the optimiser just computed (the current window, not a past one).
    """

    def __init__(self, total: int, stream: Any = None):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.done, self.label = total, 0, ""
        self.bar: Any = None
        self.length: int | None = None
        self.t0 = time.perf_counter()

    def start(self, dataset: str, method: Method, iterations: int | None) -> None:
        self.label = f"maps {self.done + 1}/{self.total} {dataset} {_DISPLAY.get(method, method)}"
        self.length, self.t0 = iterations, time.perf_counter()
        if self.tty:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=iterations, desc=self.label, unit="it", dynamic_ncols=True, leave=False,
                            file=self.stream)

    def iteration(self, it: int, kl: float, embedding: np.ndarray) -> bool:
        if self.bar is not None:
            self.bar.update(it - self.bar.n)
            self.bar.set_postfix({"KL": f"{kl:.4f}"}, refresh=True)
        else:
            rate = it / max(time.perf_counter() - self.t0, 1e-9)
            eta = f", ETA {(self.length - it) / rate:.0f} s" if self.length else ""
            print(f"{self.label}: iteration {it}/{self.length}, KL {kl:.4f}, {rate:.0f} it/s{eta}", file=self.stream,
                  flush=True)
        return False

    def finish(self, r: MapResult) -> None:
        self.done += 1
        line = (f"maps: {r.dataset} {r.method} ({self.done}/{self.total}) in {r.seconds:.1f} s, kNN acc "
                f"{r.knn_accuracy:.3f}")
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        print(line, file=self.stream, flush=True)


METRICS_CAPTION = ("kNN acc: share of points whose 10 nearest map neighbours vote their own class. "
                   "strand ratio: median over classes of lambda2/lambda1, the variances of a class's points "
                   "along its two principal map axes (near 0: drawn as a thin strand, as LLE tends to; "
                   "near 1: a round cluster).")


_DISPLAY = {"lle": "LLE", "sne": "SNE", "tsne": "t-SNE"}


def plot_maps(maps: dict[str, np.ndarray], labels: np.ndarray | None, scores: dict[str, MapResult], path: Path,
              title: str = "", classes: Sequence[str] = ()) -> None:
    """Side-by-side scatter plots, one panel per method, coloured by class with a legend of class names.

    Without ``labels`` the points are drawn in one colour and the titles carry no class scores.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(maps), figsize=(5 * len(maps) + (1.6 if labels is not None else 0), 5.4),
                             squeeze=False)
    values = np.unique(labels) if labels is not None else np.array([])
    cmap = plt.get_cmap("tab10" if len(values) <= 10 else "tab20")
    for ax, (name, y) in zip(axes[0], maps.items()):
        if labels is None:
            ax.scatter(y[:, 0], y[:, 1], s=3, linewidths=0, color="0.3")
            ax.set_title(_DISPLAY.get(name, name))
        else:
            for i, c in enumerate(values):
                pick = labels == c
                text = classes[int(c)] if len(classes) > int(c) >= 0 else (str(int(c)) if float(c).is_integer() else str(c))
                ax.scatter(y[pick, 0], y[pick, 1], s=3, linewidths=0, color=cmap(i % cmap.N), label=text)
            sc = scores[name]
            ax.set_title(f"{_DISPLAY.get(name, name)}  kNN acc {sc.knn_accuracy:.3f}  strand ratio {sc.strand_ratio:.2f}")
        ax.set_xticks([])
        ax.set_yticks([])
    if labels is not None:
        axes[0][-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=4, frameon=False,
                           fontsize=9)
        fig.text(0.01, 0.01, METRICS_CAPTION, fontsize=7.5, wrap=True, va="bottom")
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06 if labels is not None else 0, 1, 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


@dataclass
class MapsResult:
    """One :class:`MapResult` per (data set, method), in run order, and the Markdown table."""

    results: list[MapResult]
    table: str
    output_dir: Path


def run_maps(cfg: MapsRunConfig) -> MapsResult:
    """Embed every data set with every method; write ``maps_<data>.png`` and ``maps_metrics.{json,md}``."""
    from reprlab.embed.metrics import map_knn_accuracy, strand_ratio, trustworthiness

    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[MapResult] = []
    progress = MapProgress(len(cfg.datasets) * len(cfg.methods))
    for name in cfg.datasets:
        x, labels, classes = load_points(name, cfg.n_samples, cfg.pca_dims, cfg.seed)
        maps: dict[str, np.ndarray] = {}
        scores: dict[str, MapResult] = {}
        for method in cfg.methods:
            t0 = time.perf_counter()
            progress.start(name, method, _iterations(method, cfg))
            y = embed(method, x, cfg, [progress.iteration])
            secs = time.perf_counter() - t0
            r = MapResult(name, method, len(x), secs, map_knn_accuracy(y, labels, 10), trustworthiness(x, y, 10),
                          strand_ratio(y, labels)["median"])
            progress.finish(r)
            maps[method], scores[method] = y, r
            results.append(r)
        plot_maps(maps, labels, scores, out_dir / f"maps_{name}.png", title=f"{name} (n={len(x)})", classes=classes)
    write_json(out_dir / "maps_metrics.json", {"config": asdict(cfg), "results": [asdict(r) for r in results]})
    lines = ["| data | method | n | kNN acc (2-D, k=10) | trustworthiness (k=10) | strand ratio l2/l1 | s |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.dataset} | {r.method} | {r.n_samples} | {r.knn_accuracy:.3f} | {r.trustworthiness:.3f} | "
              f"{r.strand_ratio:.3f} | {r.seconds:.1f} |" for r in results]
    table = "\n".join(lines)
    with atomic_write(out_dir / "maps_metrics.md") as f:
        f.write(table + "\n")
    return MapsResult(results, table, out_dir)


# ---------------------------------------------------------------------------- tsne
@dataclass
class TSNERunConfig:
    """``reprlab tsne INPUT -o MAP.npy``: t-SNE of the rows of a saved matrix."""

    input: str  # (N, D) features as .npy or numeric .csv/.tsv, or (N, N) distances with metric=precomputed
    output: str  # where the (N, n_components) map is saved (.npy)
    perplexity: float = 30.0
    n_components: int = 2
    method: Literal["auto", "exact", "barnes_hut", "fft"] = "auto"
    metric: str = "euclidean"
    n_iter: int = 500  # iterations after early exaggeration
    dof: float = 1.0  # Student-t degrees of freedom (< 1: heavier tails)
    seed: int = 0
    n_jobs: int | None = None  # threads (None: every core; FFT below 5,000 points: one)
    plot: str | None = None  # also save a scatter plot here (.png)
    labels: str | None = None  # labels (.npy/.csv) to colour the plot and report the 2-D kNN accuracy
    verbose: bool = True  # KL every 50 iterations on stderr, as openTSNE's verbose=True

    def __post_init__(self) -> None:
        check_choices(self)
        if self.plot and self.n_components != 2:
            raise ConfigError(f"--plot draws a 2-D map, but n_components={self.n_components}: use --n-components 2 "
                              "for a plot, or drop --plot and plot the saved map yourself")


@dataclass
class TSNEResult:
    """The map and what was measured on it."""

    embedding: np.ndarray  # (N, n_components)
    method: str  # the gradient engine used
    kl_divergence: float
    knn_accuracy: float | None  # 2-D kNN accuracy when labels were given
    output: Path
    plot: Path | None


def run_tsne(cfg: TSNERunConfig) -> TSNEResult:
    """Embed the rows of ``cfg.input``; save the map atomically (and the plot, when asked)."""
    from reprlab.data import read_matrix, save_npy
    from reprlab.embed import TSNE
    from reprlab.embed.metrics import map_knn_accuracy, strand_ratio

    x = read_matrix(Path(cfg.input))
    labels = None
    if cfg.labels:
        labels = read_matrix(Path(cfg.labels)).ravel()
        if len(labels) != len(x):
            raise DataError(f"{cfg.labels}: {len(labels)} labels for {len(x)} rows of {cfg.input}")
    model = TSNE(cfg.n_components, perplexity=cfg.perplexity, method=cfg.method, metric=cfg.metric,
                 n_iter=cfg.n_iter, dof=cfg.dof, n_jobs=cfg.n_jobs, random_state=cfg.seed, verbose=cfg.verbose)
    y = model.fit_transform(x)
    out = save_npy(cfg.output, y)
    acc = map_knn_accuracy(y, labels) if labels is not None else None
    plot = None
    if cfg.plot:
        scores = {}
        if labels is not None and acc is not None:
            scores["tsne"] = MapResult("input", "tsne", len(y), 0, acc, 0, strand_ratio(y, labels)["median"])
        plot = Path(cfg.plot)
        plot_maps({"tsne": y}, labels, scores, plot, title=f"t-SNE of {Path(cfg.input).name} (n={len(y)})")
    return TSNEResult(y, model.method_, float(model.kl_divergence_), acc, out, plot)
