"""Evaluation of reconstruction/generative models: the paper's error measure, PCA, probes, figures.

Hinton & Salakhutdinov (2006) report "the average squared error per image" on test data: squared
differences summed over the pixels of an image (pixels in [0, 1]), averaged over images:

    err = 1/N sum_n sum_i (x_ni - x^_ni)^2

Their MNIST figures: 3.00 for the pretrained 784-1000-500-250-30 autoencoder vs 13.87 for
30-component PCA. PCA here is scikit-learn's (mean-centred, the optimal linear code of that size).
Figures use matplotlib's object API (no pyplot state) and are written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reprlab.io import save_figure
from reprlab.train import read_metrics


def squared_error_per_image(x: torch.Tensor, recon: torch.Tensor) -> float:
    """Mean over images of the squared error summed over pixels (the 2006 paper's measure)."""
    a = x.reshape(len(x), -1).double()
    b = recon.reshape(len(recon), -1).double()
    return float(((a - b) ** 2).sum(1).mean())


def pca_reconstruction(train_x: torch.Tensor, test_x: torch.Tensor, n_components: int,
                       random_state: int = 0) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """Fit PCA on ``train_x``; return (test reconstructions, test codes, the fitted PCA)."""
    from sklearn.decomposition import PCA

    tr = train_x.reshape(len(train_x), -1).double().numpy()
    te = test_x.reshape(len(test_x), -1).double().numpy()
    pca = PCA(n_components=n_components, random_state=random_state).fit(tr)
    codes = pca.transform(te)
    recon = pca.inverse_transform(codes)
    return torch.from_numpy(recon).float(), torch.from_numpy(codes).float(), pca


@dataclass
class ProbeScores:
    """Test accuracy of classifiers trained on frozen codes."""

    knn: float  # k-nearest-neighbour (Euclidean) accuracy
    linear: float  # multinomial logistic regression on standardised codes


def code_probe(train_codes: torch.Tensor, train_y: torch.Tensor, test_codes: torch.Tensor,
               test_y: torch.Tensor, *, k: int = 5) -> ProbeScores:
    """Euclidean kNN (scikit-learn) and :func:`reprlab.transfer.linear_probe` accuracy of codes."""
    from sklearn.neighbors import KNeighborsClassifier

    from reprlab.transfer import linear_probe

    knn = KNeighborsClassifier(n_neighbors=k).fit(train_codes.double().numpy(), train_y.numpy())
    lin = linear_probe(train_codes, train_y, test_codes, test_y, max_iter=2000)
    return ProbeScores(knn=float(knn.score(test_codes.double().numpy(), test_y.numpy())), linear=lin.accuracy)


def read_metric_curve(run_dir: str | Path, key: str) -> tuple[list[int], list[float]]:
    """``(steps, values)`` of one logged metric from a run's ``metrics.jsonl``."""
    steps: list[int] = []
    values: list[float] = []
    for row in read_metrics(Path(run_dir) / "metrics.jsonl"):
        if key in row and "step" in row:
            steps.append(int(row["step"]))
            values.append(float(row[key]))
    return steps, values


# ------------------------------------------------------------------- figures
def _save(fig, path: str | Path) -> Path:
    return save_figure(fig, path, bbox_inches="tight")


def _as_images(x: torch.Tensor, shape: tuple[int, int]) -> np.ndarray:
    return x.detach().reshape(len(x), *shape).clamp(0, 1).cpu().numpy()


def save_image_rows(rows: dict[str, torch.Tensor], image_shape: tuple[int, int], path: str | Path,
                    title: str = "") -> Path:
    """One labelled row per entry (e.g. originals / PCA / deep AE), same number of images each."""
    from matplotlib.figure import Figure

    n = max(len(v) for v in rows.values())
    fig = Figure(figsize=(0.9 * n + 1.2, 1.0 * len(rows) + 0.4))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        arr = _as_images(images, image_shape)
        for j in range(n):
            ax = axes[r][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(arr):
                ax.imshow(arr[j], cmap="gray", vmin=0, vmax=1)
            if j == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def save_image_grid(images: torch.Tensor, image_shape: tuple[int, int], path: str | Path,
                    ncols: int = 10, title: str = "") -> Path:
    """Images tiled row by row (samples, interpolations, latent-space grids)."""
    from matplotlib.figure import Figure

    arr = _as_images(images, image_shape)
    nrows = (len(arr) + ncols - 1) // ncols
    h, w = image_shape
    canvas = np.ones((nrows * (h + 1) - 1, ncols * (w + 1) - 1))
    for i, img in enumerate(arr):
        r, c = divmod(i, ncols)
        canvas[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = img
    fig = Figure(figsize=(min(12, 0.5 * ncols + 1), min(12, 0.5 * nrows + 0.6)))
    ax = fig.subplots()
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def save_curves(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], path: str | Path, *,
                ylabel: str, title: str = "", hlines: dict[str, float] | None = None,
                logy: bool = False) -> Path:
    """Training curves (x, y) per label, with optional horizontal reference lines (e.g. PCA)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for label, (xs, ys) in curves.items():
        ax.plot(list(xs), list(ys), label=label)
    for j, (label, value) in enumerate((hlines or {}).items()):
        ax.axhline(value, linestyle="--", color=f"C{len(curves) + j}", label=label)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def save_latent_map(codes: torch.Tensor, labels: torch.Tensor, path: str | Path,
                    class_names: Sequence[str] = (), title: str = "", axes: tuple[str, str] = ("z1", "z2")) -> Path:
    """Scatter of 2-D codes coloured by class; ``axes`` names what the two coordinates are."""
    from matplotlib.figure import Figure

    z = codes.detach().cpu().numpy()
    y = labels.cpu().numpy()
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    for cls in np.unique(y):
        sel = y == cls
        name = class_names[cls] if len(class_names) > cls else str(cls)
        ax.scatter(z[sel, 0], z[sel, 1], s=3, alpha=0.6, label=name)
    ax.legend(fontsize=7, markerscale=3, loc="best")
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


__all__ = ["squared_error_per_image", "pca_reconstruction", "ProbeScores", "code_probe",
           "read_metric_curve", "save_image_rows", "save_image_grid", "save_curves", "save_latent_map"]
