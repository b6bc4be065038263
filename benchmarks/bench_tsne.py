"""t-SNE and LLE: reprlab vs openTSNE (FFT and Barnes-Hut) vs scikit-learn on Fashion-MNIST.

Every run: PCA to 50 dimensions first (outside the timing), perplexity 30, 250 early-exaggeration
+ 500 iterations, PCA initialisation, one process, the same number of threads for every library
(``--threads``, default all cores: numba/torch/scipy.fft threads for ours, ``n_jobs`` for openTSNE
and scikit-learn). Quality: KL(P || Q) as each library reports it and 2-D kNN accuracy (k=10).

    python benchmarks/bench_tsne.py                       # N = 2000, 10000
    python benchmarks/bench_tsne.py --sizes 70000
    python benchmarks/bench_tsne.py --curve 1000,2000,5000,10000,20000,70000   # docs/figures/tsne_scaling.*
    python benchmarks/bench_tsne.py --knn 10000,70000   # t-SNE's kNN: pynndescent vs exact search
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import ROOT, compare, write_rows  # noqa: E402


def fashion(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    from reprlab.data import load_dataset

    parts = [load_dataset("fashion-mnist", split=s) for s in ("train", "test")]
    x = np.concatenate([p.x.flatten(1).numpy() for p in parts]).astype(np.float64)
    y = np.concatenate([np.asarray(p.y) for p in parts])
    keep = np.random.default_rng(seed).permutation(len(x))[:n]
    return PCA(50, random_state=seed).fit_transform(x[keep]), y[keep]


def engines(threads: int) -> dict:
    """name -> (x -> fitted model), every engine with the same schedule and at most ``threads``
    threads: the references get ``n_jobs=threads``; ours keeps its default thread policy (every
    core, but one thread for FFT below 5,000 points) unless fewer threads than cores are asked for."""
    import openTSNE
    from sklearn.manifold import TSNE as SkTSNE

    from reprlab.embed import TSNE

    ours_jobs = None if threads >= (os.cpu_count() or 1) else threads
    return {
        "ours fft": lambda x: TSNE(method="fft", random_state=0, initial_momentum=0.8, n_jobs=ours_jobs).fit(x),
        "ours bh": lambda x: TSNE(method="barnes_hut", random_state=0, initial_momentum=0.8,
                                  n_jobs=ours_jobs).fit(x),
        "openTSNE 1.0.4 FFT": lambda x: openTSNE.TSNE(negative_gradient_method="fft", random_state=0,
                                                      n_jobs=threads).fit(x),
        "openTSNE 1.0.4 BH": lambda x: openTSNE.TSNE(negative_gradient_method="bh", random_state=0,
                                                     n_jobs=threads).fit(x),
        "scikit-learn 1.9 BH": lambda x: SkTSNE(max_iter=750, init="pca", random_state=0, n_jobs=threads).fit(x),
    }


def kl_of(model) -> float:
    return getattr(model, "kl_divergence_", getattr(model, "kl_divergence", float("nan")))


def embedding_of(model) -> np.ndarray:
    return np.asarray(getattr(model, "embedding_", model))


def scaling_curve(sizes: list[int], threads: int, sklearn_max: int) -> None:
    """Time ours (FFT), openTSNE (FFT) and scikit-learn (BH, up to ``sklearn_max``) once per size;
    write docs/figures/tsne_scaling.{png,json} and print a table."""
    from reprlab.io import atomic_write, save_figure

    run = engines(threads)
    names = ["ours fft", "openTSNE 1.0.4 FFT", "scikit-learn 1.9 BH"]
    results: dict[str, dict[int, dict[str, float]]] = {name: {} for name in names}
    for n in sizes:
        x, labels = fashion(n)
        for name in names:
            if name.startswith("scikit") and n > sklearn_max:
                continue
            t0 = time.perf_counter()
            model = run[name](x)
            results[name][n] = {"seconds": time.perf_counter() - t0, "kl": float(kl_of(model))}
            print(f"N={n:6d} {name:22s} {results[name][n]['seconds']:8.1f} s  KL {results[name][n]['kl']:.3f}",
                  flush=True)
    figures = ROOT / "docs" / "figures"
    with atomic_write(figures / "tsne_scaling.json") as f:
        json.dump({"threads": threads, "command": "python " + " ".join(sys.argv), "results": results}, f, indent=1)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, style in zip(names, ["o-", "s--", "^:"]):
        ns = sorted(results[name])
        ax.loglog(ns, [results[name][n]["seconds"] for n in ns], style, label=name)
    ax.set_xlabel("points N (Fashion-MNIST, PCA 50)")
    ax.set_ylabel("wall time (s), 750 iterations")
    ax.set_title(f"t-SNE time vs N ({threads} threads)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    save_figure(fig, figures / "tsne_scaling.png")
    print("| N | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for n in sizes:
        cells = [f"{results[k][n]['seconds']:.1f} s (KL {results[k][n]['kl']:.3f})" if n in results[k] else "—"
                 for k in names]
        print(f"| {n} | " + " | ".join(cells) + " |")


def knn_comparison(sizes: list[int]) -> list:
    """The 90 nearest neighbours (3 x perplexity 30) of every point: nearest-neighbour descent
    (pynndescent, warm: its JIT compilation is timed separately, once) vs our exact chunked search,
    on Fashion-MNIST in 50 PCA dimensions. Quality: recall of the exact neighbours, and (up to 20,000
    points) the 2-D kNN accuracy / KL of the FFT t-SNE map built on each."""
    from reprlab.embed import TSNE, map_knn_accuracy
    from reprlab.embed.affinity import approximate_neighbors, nearest_neighbors

    t0 = time.perf_counter()
    approximate_neighbors(np.random.default_rng(0).normal(size=(500, 50)), 90)
    print(f"pynndescent first call in this process (JIT compilation, 500 points): {time.perf_counter() - t0:.1f} s",
          flush=True)
    rows = []
    for n in sizes:
        x, labels = fashion(n)

        def quality(a, b, x=x, labels=labels, n=n):
            recall = float(np.mean([len(np.intersect1d(i, j, assume_unique=True)) for i, j in zip(a[0], b[0])])) / 90
            if n > 20000:  # the two maps would take longer than both searches; recall is the measure here
                return f"recall {recall:.4f}"
            maps = {s: TSNE(method="fft", neighbors=s, random_state=0).fit(x) for s in ("approx", "exact")}
            return (f"recall {recall:.4f}; t-SNE map KL {maps['approx'].kl_divergence_:.3f} vs "
                    f"{maps['exact'].kl_divergence_:.3f}, kNN acc {map_knn_accuracy(maps['approx'].embedding_, labels):.3f}"
                    f" vs {map_knn_accuracy(maps['exact'].embedding_, labels):.3f}")

        rows.append(compare("embed", f"t-SNE kNN (k=90) approx (pynndescent) vs exact, Fashion-MNIST N={n}",
                            ours=lambda x=x: approximate_neighbors(x, 90),
                            reference=lambda x=x: nearest_neighbors(x, 90), reference_name="ours exact (torch)",
                            repeats=2, warmup=0, quality=quality))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2000,10000")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--curve", default=None, help="comma-separated sizes: time vs N for the scaling figure")
    ap.add_argument("--sklearn-max", type=int, default=20000, help="largest N given to scikit-learn in --curve")
    ap.add_argument("--knn", default=None, help="comma-separated sizes: approximate vs exact kNN search only")
    ap.add_argument("--no-write", action="store_true", help="print rows without updating docs/benchmarks.md")
    args = ap.parse_args()

    import torch
    from sklearn.manifold import LocallyLinearEmbedding

    from reprlab.embed import LLE, TSNE, map_knn_accuracy

    torch.set_num_threads(args.threads)
    # compile the numba kernels once, outside every timing
    for method in ("barnes_hut", "fft"):
        TSNE(n_iter=5, early_exaggeration_iter=5, method=method).fit(np.random.default_rng(0).normal(size=(200, 5)))
    if args.knn:
        rows = knn_comparison([int(s) for s in args.knn.split(",")])
        if not args.no_write:
            write_rows(rows)
        return
    if args.curve:
        scaling_curve([int(s) for s in args.curve.split(",")], args.threads, args.sklearn_max)
        return

    run = engines(args.threads)
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        x, labels = fashion(n)

        def quality(a, b):
            return (f"KL {kl_of(a):.3f} vs {kl_of(b):.3f}; kNN acc {map_knn_accuracy(embedding_of(a), labels):.3f} vs "
                    f"{map_knn_accuracy(embedding_of(b), labels):.3f}")

        pairs = [("ours fft", "openTSNE 1.0.4 FFT"), ("ours bh", "openTSNE 1.0.4 BH"),
                 ("ours fft", "scikit-learn 1.9 BH")]
        if n > 20000:
            pairs = pairs[:1]  # BH and sklearn take tens of minutes here
        for mine, ref in pairs:
            rows.append(compare("embed", f"t-SNE {mine} vs {ref.split()[0]} {ref.split()[-1]}, Fashion-MNIST "
                                f"N={n}", ours=lambda: run[mine](x), reference=lambda: run[ref](x),
                                reference_name=ref, repeats=args.repeats, warmup=0, quality=quality))
        if n <= 10000:
            def lle_quality(a, b):
                return (f"reconstruction error {a.reconstruction_error_:.3g} vs {b.reconstruction_error_:.3g}; "
                        f"kNN acc {map_knn_accuracy(a.embedding_, labels):.3f} vs {map_knn_accuracy(b.embedding_, labels):.3f}")

            for method in ("standard", "modified"):
                name = "LLE" if method == "standard" else "modified LLE"
                rows.append(compare("embed", f"{name} k=12, Fashion-MNIST N={n}",
                                    ours=lambda: LLE(n_neighbors=12, method=method, random_state=0).fit(x),
                                    reference=lambda: LocallyLinearEmbedding(n_neighbors=12, method=method,
                                                                             random_state=0).fit(x),
                                    reference_name="scikit-learn 1.9", repeats=args.repeats, warmup=0,
                                    quality=lle_quality))
    if not args.no_write:
        write_rows(rows)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - t0:.0f} s")
