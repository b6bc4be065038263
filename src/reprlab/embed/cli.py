"""``reprlab`` sub-commands of the embed domain (registered by reprlab.cli.main); runs in :mod:`reprlab.embed.runs`.

- ``reprlab tsne INPUT.npy|.csv -o map.npy [--perplexity 30] [--plot map.png] [--labels labels.npy]``
- ``reprlab experiment maps [-o DIR] [--set n_samples=2000]`` — the LLE / SNE / t-SNE figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reprlab.cli.common import command_group


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``tsne`` and ``experiment maps`` to the top-level parser."""
    p = sub.add_parser("tsne", help="embed a .npy/.csv matrix with t-SNE",
                       description="Embed the rows of INPUT (a .npy array or a numeric .csv) with t-SNE.")
    p.add_argument("input", metavar="INPUT", help="(N, D) features, or (N, N) distances with --metric precomputed")
    p.add_argument("-o", "--output", required=True, metavar="MAP.npy", help="where to save the (N, d) map")
    p.add_argument("--perplexity", type=float, default=30.0)
    p.add_argument("--n-components", type=int, default=2)
    p.add_argument("--method", default="auto", choices=["auto", "exact", "barnes_hut", "fft"])
    p.add_argument("--metric", default="euclidean")
    p.add_argument("--n-iter", type=int, default=500, help="iterations after early exaggeration")
    p.add_argument("--dof", type=float, default=1.0, help="Student-t degrees of freedom (< 1: heavier tails)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=None, metavar="N",
                   help="threads (default: every core; FFT below 5,000 points: one); -1 = every core")
    p.add_argument("--plot", metavar="MAP.png", help="also save a scatter plot")
    p.add_argument("--labels", metavar="LABELS.npy", help="colour the plot and report kNN accuracy")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines (KL every 50 iterations) on stderr")
    p.set_defaults(handler=_tsne)

    experiments = command_group(sub, "experiment", "reproduce a figure or table from the source texts",
                                metavar="EXPERIMENT")
    e = experiments.add_parser(
        "maps", help="LLE vs SNE vs t-SNE maps of digits and Fashion-MNIST, with a metrics table")
    e.add_argument("--config", metavar="FILE.toml", help="TOML file of MapsRunConfig values")
    e.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one value, e.g. --set n_samples=1500 --set \"datasets=['digits']\"")
    e.add_argument("-o", "--output", metavar="DIR", help="output directory (default maps-output; sets output_dir)")
    e.set_defaults(handler=_maps, config_class="reprlab.embed.runs:MapsRunConfig", config_train_key=None)


def _tsne(args: argparse.Namespace) -> int:
    from reprlab.embed.runs import TSNERunConfig, run_tsne

    result = run_tsne(TSNERunConfig(input=args.input, output=args.output, perplexity=args.perplexity,
                                    n_components=args.n_components, method=args.method, metric=args.metric,
                                    n_iter=args.n_iter, dof=args.dof, seed=args.seed, n_jobs=args.n_jobs,
                                    plot=args.plot, labels=args.labels, verbose=not args.quiet))
    line = (f"t-SNE ({result.method}) of {len(result.embedding)} points: KL {result.kl_divergence:.4f}, "
            f"saved {result.output}")
    if result.knn_accuracy is not None:
        line += f", 2-D kNN accuracy {result.knn_accuracy:.3f}"
    if result.plot is not None:
        line += f", plot {result.plot}"
    print(line)
    return 0


def _maps(args: argparse.Namespace) -> int:
    from reprlab.cli.common import build_config
    from reprlab.embed.runs import run_maps

    result = run_maps(build_config(args))
    for r in result.results:
        print(f"{r.dataset:14s} {r.method:5s} n={r.n_samples} kNN acc {r.knn_accuracy:.3f} "
              f"trustworthiness {r.trustworthiness:.3f} strand ratio {r.strand_ratio:.3f} ({r.seconds:.1f} s)")
    print(f"plots and maps_metrics.md in {result.output_dir}")
    return 0


def demo(out_dir: Path) -> str:
    """t-SNE and LLE of sklearn digits side by side, with the 2-D kNN accuracy of each."""
    from reprlab.embed.runs import MapsRunConfig, run_maps

    cfg = MapsRunConfig(output_dir=str(out_dir / "embed"), datasets=["digits"], n_samples=1797,
                        methods=["lle", "tsne"])
    results = {r.method: r for r in run_maps(cfg).results}
    lle, tsne = results["lle"], results["tsne"]
    return (f"embed: digits maps in {out_dir / 'embed' / 'maps_digits.png'}: 2-D kNN accuracy t-SNE "
            f"{tsne.knn_accuracy:.3f} vs LLE {lle.knn_accuracy:.3f} (strand ratio {tsne.strand_ratio:.2f} "
            f"vs {lle.strand_ratio:.2f})")
