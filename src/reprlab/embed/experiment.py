"""The talk's maps figure, reproduced: LLE vs SNE vs t-SNE on MNIST-format images.

Hinton's SIGIR 2020 talk (and van der Maaten & Hinton 2008, figures 2-3) shows LLE collapsing
digit classes into nearly one-dimensional strands while t-SNE separates them into clusters with
gaps. :func:`run_maps` embeds each data set with the three methods, saves side-by-side coloured
scatter plots, and writes a metrics table that quantifies the difference: 2-D kNN accuracy,
trustworthiness, and the median per-class strand ratio lambda_2/lambda_1 (small = strand-like).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from reprlab.io import atomic_path, write_json

log = logging.getLogger(__name__)


@dataclass
class MapsConfig:
    """Settings of ``reprlab experiment maps``."""

    datasets: list[str] = field(default_factory=lambda: ["digits", "fashion-mnist"])
    n_samples: int = 1500          # points per data set (SNE is O(N^2): keep it modest)
    pca_dims: int = 50             # PCA before every method, as in van der Maaten & Hinton (2008)
    perplexity: float = 30.0
    lle_neighbors: int = 12
    sne_iter: int = 500
    methods: list[str] = field(default_factory=lambda: ["lle", "sne", "tsne"])
    seed: int = 0


@dataclass
class MapResult:
    dataset: str
    method: str
    n_samples: int
    seconds: float
    knn_accuracy: float
    trustworthiness: float
    strand_ratio: float


def load_points(name: str, n_samples: int, pca_dims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random class-mixed subset of a data set, flattened and reduced by PCA: (x (n, p), labels)."""
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
    return x, labels


def embed(method: str, x: np.ndarray, cfg: MapsConfig) -> np.ndarray:
    from reprlab.embed import LLE, SNE, TSNE

    if method == "lle":
        return LLE(n_neighbors=cfg.lle_neighbors, random_state=cfg.seed).fit_transform(x)
    if method == "sne":
        return SNE(perplexity=cfg.perplexity, n_iter=cfg.sne_iter, random_state=cfg.seed).fit_transform(x)
    if method == "tsne":
        return TSNE(perplexity=cfg.perplexity, random_state=cfg.seed).fit_transform(x)
    raise ValueError(f"unknown method {method!r}; use lle, sne or tsne")


def plot_maps(maps: dict[str, np.ndarray], labels: np.ndarray, scores: dict[str, MapResult], path: Path,
              title: str = "") -> None:
    """Side-by-side scatter plots coloured by class, one panel per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(maps), figsize=(5 * len(maps), 5), squeeze=False)
    for ax, (name, y) in zip(axes[0], maps.items()):
        ax.scatter(y[:, 0], y[:, 1], c=labels, cmap="tab10", s=3, linewidths=0)
        s = scores[name]
        ax.set_title(f"{name.upper()}  kNN acc {s.knn_accuracy:.3f}  strand {s.strand_ratio:.2f}")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def run_maps(cfg: MapsConfig, out_dir: Path) -> list[MapResult]:
    """Embed every data set with every method; write ``maps_<data>.png`` and ``maps_metrics.{json,md}``."""
    from reprlab.embed.metrics import knn_accuracy, strand_ratio, trustworthiness

    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[MapResult] = []
    for name in cfg.datasets:
        x, labels = load_points(name, cfg.n_samples, cfg.pca_dims, cfg.seed)
        maps, scores = {}, {}
        for method in cfg.methods:
            t0 = time.perf_counter()
            y = embed(method, x, cfg)
            secs = time.perf_counter() - t0
            r = MapResult(name, method, len(x), secs, knn_accuracy(y, labels, 10), trustworthiness(x, y, 10),
                          strand_ratio(y, labels)["median"])
            log.info("%s %s: %s", name, method, r)
            maps[method], scores[method] = y, r
            results.append(r)
        plot_maps(maps, labels, scores, out_dir / f"maps_{name}.png", title=f"{name} (n={len(x)})")
    write_json(out_dir / "maps_metrics.json", {"config": asdict(cfg), "results": [asdict(r) for r in results]})
    lines = ["| data | method | n | kNN acc (2-D, k=10) | trustworthiness (k=10) | strand ratio l2/l1 | s |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.dataset} | {r.method} | {r.n_samples} | {r.knn_accuracy:.3f} | {r.trustworthiness:.3f} | "
              f"{r.strand_ratio:.3f} | {r.seconds:.1f} |" for r in results]
    with atomic_path(out_dir / "maps_metrics.md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return results


def summary(results: list[MapResult]) -> str:
    return json.dumps([asdict(r) for r in results])
