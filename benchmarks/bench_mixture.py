"""Gaussian mixture by EM: reprlab (torch) vs scikit-learn's GaussianMixture on Fashion-MNIST.

Data: the 70,000 Fashion-MNIST images (train + test) reduced to 50 dimensions by PCA (outside the
timing), the first N rows of a fixed shuffle. K = 10, full covariances, tol = 1e-3, both libraries
on the same number of threads (torch intra-op threads; BLAS threads for NumPy via threadpoolctl).

Cases per N:
- *same start*: both get identical weights/means/precisions (from one scikit-learn k-means labelling)
  and run EM to convergence — the time of EM itself, same iterations;
- *float32*: ours in float32 from the same start (scikit-learn computes in float64);
- *own init*: each library's default k-means initialisation + EM (time to convergence end to end).

    python benchmarks/bench_mixture.py                 # N = 10000 and 70000
    python benchmarks/bench_mixture.py --sizes 10000 --threads 2
    python benchmarks/bench_mixture.py --sizes 70000 --cases same64 --repeats 1   # one pair, ~75 s on 2 cores

Each row is written to docs/benchmarks.md as soon as it is measured, so an interrupted run keeps
the rows it finished.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from harness import compare, write_rows  # noqa: E402


def fashion_pca(n: int, dims: int = 50, seed: int = 0) -> np.ndarray:
    from sklearn.decomposition import PCA

    from reprlab.data import load_dataset

    parts = [load_dataset("fashion-mnist", split=s) for s in ("train", "test")]
    x = np.concatenate([p.x.flatten(1).numpy() for p in parts]).astype(np.float64)
    keep = np.random.default_rng(seed).permutation(len(x))[:n]
    return PCA(dims, random_state=seed).fit_transform(x[keep])


def same_start(x: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Weights, means and precisions of a hard k-means labelling (scikit-learn's own initialisation)."""
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    labels = KMeans(k, n_init=1, random_state=0).fit(x).labels_
    resp = np.eye(k)[labels]
    gm = GaussianMixture(k, max_iter=1)
    gm._initialize(x, resp)  # scikit-learn's M-step on the one-hot responsibilities
    return dict(weights_init=gm.weights_, means_init=gm.means_,
                precisions_init=np.linalg.inv(gm.covariances_))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,70000")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--cases", default="same64,same32,own",
                    help="comma-separated: same64 (same start, float64), same32 (ours float32), own (own init)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed pairs per case (default 3 after a warm-up below 20,000 rows, else 2)")
    args = ap.parse_args()
    cases = set(args.cases.split(","))
    if not cases <= {"same64", "same32", "own"}:
        ap.error(f"--cases {args.cases}: choose from same64, same32, own")

    import torch
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkGMM
    from threadpoolctl import threadpool_limits

    from reprlab.mixture import GaussianMixture

    warnings.simplefilter("ignore", ConvergenceWarning)
    torch.set_num_threads(args.threads)
    k = args.k

    def keep(row) -> None:  # each row goes into the table when measured (an interrupted run keeps it)
        write_rows([row])

    sizes = [int(s) for s in args.sizes.split(",")]
    full = fashion_pca(max(sizes))
    with threadpool_limits(args.threads):
        for n in sizes:
            x = full[:n]
            init = same_start(x, k)
            repeats, warmup = (3, 1) if n <= 20_000 else (2, 0)
            if args.repeats is not None:
                repeats, warmup = args.repeats, 0 if args.repeats == 1 else warmup

            def quality(a, b):
                return (f"mean log-lik {a.lower_bound_:.5f} vs {b.lower_bound_:.5f} nats/row "
                        f"(|diff| {abs(a.lower_bound_ - b.lower_bound_):.1e}); {a.n_iter_} vs {b.n_iter_} iterations")

            ref = lambda: SkGMM(k, tol=1e-3, max_iter=1000, **init).fit(x)  # noqa: E731
            for dtype in [d for d, c in (("float64", "same64"), ("float32", "same32")) if c in cases]:
                keep(compare(
                    "mixture", f"EM to convergence, same start, {dtype}, Fashion-MNIST PCA-50 N={n}, K={k} full",
                    ours=lambda: GaussianMixture(k, tol=1e-3, max_iter=1000, dtype=dtype, **init).fit(x),
                    reference=ref, reference_name="scikit-learn GaussianMixture (float64)",
                    repeats=repeats, warmup=warmup, quality=quality))
            if "own" in cases:
                keep(compare(
                    "mixture", f"k-means init + EM, own init, float64, Fashion-MNIST PCA-50 N={n}, K={k} full",
                    ours=lambda: GaussianMixture(k, random_state=0, max_iter=1000).fit(x),
                    reference=lambda: SkGMM(k, random_state=0, max_iter=1000).fit(x),
                    reference_name="scikit-learn GaussianMixture (float64)", repeats=repeats, warmup=warmup,
                    quality=quality))


if __name__ == "__main__":
    main()
