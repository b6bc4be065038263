"""t-SNE and LLE: reprlab vs openTSNE (FFT and Barnes-Hut) vs scikit-learn on Fashion-MNIST.

Every run: PCA to 50 dimensions first (outside the timing), perplexity 30, 250 early-exaggeration
+ 500 iterations, PCA initialisation, one process (openTSNE n_jobs=1; numba and torch use the
machine's threads). Quality: KL(P || Q) as each library reports it and 2-D kNN accuracy (k=10).

    python benchmarks/bench_tsne.py                       # N = 2000, 10000
    python benchmarks/bench_tsne.py --sizes 2000,10000,70000 --repeats 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import compare, write_rows  # noqa: E402


def fashion(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    from reprlab.data import load_dataset

    parts = [load_dataset("fashion-mnist", split=s) for s in ("train", "test")]
    x = np.concatenate([p.x.flatten(1).numpy() for p in parts]).astype(np.float64)
    y = np.concatenate([np.asarray(p.y) for p in parts])
    keep = np.random.default_rng(seed).permutation(len(x))[:n]
    return PCA(50, random_state=seed).fit_transform(x[keep]), y[keep]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="2000,10000")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--no-write", action="store_true", help="print rows without updating docs/benchmarks.md")
    args = ap.parse_args()

    import openTSNE
    from sklearn.manifold import TSNE as SkTSNE
    from sklearn.manifold import LocallyLinearEmbedding

    from reprlab.embed import LLE, TSNE, knn_accuracy

    # compile the numba kernels once, outside every timing
    TSNE(n_iter=5, early_exaggeration_iter=5, method="barnes_hut").fit(np.random.default_rng(0).normal(size=(200, 5)))

    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        x, labels = fashion(n)
        runs = {
            "ours fft": lambda: TSNE(method="fft", random_state=0, initial_momentum=0.8).fit(x),
            "ours bh": lambda: TSNE(method="barnes_hut", random_state=0, initial_momentum=0.8).fit(x),
        }
        refs = {
            "openTSNE 1.0.4 FFT": lambda: openTSNE.TSNE(negative_gradient_method="fft", random_state=0,
                                                        n_jobs=1).fit(x),
            "openTSNE 1.0.4 BH": lambda: openTSNE.TSNE(negative_gradient_method="bh", random_state=0,
                                                       n_jobs=1).fit(x),
            "scikit-learn 1.9 BH": lambda: SkTSNE(max_iter=750, init="pca", random_state=0).fit(x),
        }

        def kl_of(r):
            return getattr(r, "kl_divergence_", getattr(r, "kl_divergence", float("nan")))

        def emb(r):
            return np.asarray(getattr(r, "embedding_", r))

        def quality(a, b):
            return (f"KL {kl_of(a):.3f} vs {kl_of(b):.3f}; kNN acc {knn_accuracy(emb(a), labels):.3f} vs "
                    f"{knn_accuracy(emb(b), labels):.3f}")

        pairs = [("ours fft", "openTSNE 1.0.4 FFT"), ("ours bh", "openTSNE 1.0.4 BH"),
                 ("ours fft", "scikit-learn 1.9 BH")]
        if n > 20000:
            pairs = pairs[:1]  # BH and sklearn take tens of minutes here
        for mine, ref in pairs:
            rows.append(compare("embed", f"t-SNE {mine} vs {ref.split()[0]} {ref.split()[-1]}, Fashion-MNIST "
                                f"N={n}", ours=runs[mine], reference=refs[ref], reference_name=ref,
                                repeats=args.repeats, warmup=0, quality=quality))
        if n <= 10000:
            def lle_quality(a, b):
                return (f"reconstruction error {a.reconstruction_error_:.3g} vs {b.reconstruction_error_:.3g}; "
                        f"kNN acc {knn_accuracy(a.embedding_, labels):.3f} vs {knn_accuracy(b.embedding_, labels):.3f}")

            rows.append(compare("embed", f"LLE k=12, Fashion-MNIST N={n}",
                                ours=lambda: LLE(n_neighbors=12, random_state=0).fit(x),
                                reference=lambda: LocallyLinearEmbedding(n_neighbors=12, random_state=0).fit(x),
                                reference_name="scikit-learn 1.9", repeats=args.repeats, warmup=0,
                                quality=lle_quality))
    if not args.no_write:
        write_rows(rows)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - t0:.0f} s")
