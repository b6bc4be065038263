"""``reprlab`` sub-commands of the embed domain (registered by reprlab.cli.main).

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
    p.set_defaults(handler=run_tsne)

    experiments = command_group(sub, "experiment", "reproduce a figure or table from the source texts",
                                metavar="EXPERIMENT")
    e = experiments.add_parser(
        "maps", help="LLE vs SNE vs t-SNE maps of digits and Fashion-MNIST, with a metrics table")
    e.add_argument("--config", metavar="FILE.toml", help="TOML file of MapsConfig values")
    e.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one value, e.g. --set n_samples=1500 --set \"datasets=['digits']\"")
    e.add_argument("-o", "--output", default="maps-output", metavar="DIR")
    e.set_defaults(handler=run_maps)


def run_tsne(args: argparse.Namespace) -> int:
    import numpy as np

    from reprlab.data.arrays import read_matrix, save_npy
    from reprlab.embed import TSNE
    from reprlab.embed.metrics import knn_accuracy
    from reprlab.errors import DataError

    x = read_matrix(Path(args.input))
    labels = None
    if args.labels:
        labels = read_matrix(Path(args.labels)).ravel()
        if len(labels) != len(x):
            raise DataError(f"{args.labels}: {len(labels)} labels for {len(x)} rows of {args.input}")
    model = TSNE(args.n_components, perplexity=args.perplexity, method=args.method, metric=args.metric,
                 n_iter=args.n_iter, dof=args.dof, n_jobs=args.n_jobs, random_state=args.seed)
    y = model.fit_transform(x)
    out = Path(args.output)
    save_npy(out, y)
    line = f"t-SNE ({model.method_}) of {len(x)} points: KL {model.kl_divergence_:.4f}, saved {out}"
    if labels is not None:
        line += f", 2-D kNN accuracy {knn_accuracy(y, labels):.3f}"
    if args.plot:
        from reprlab.embed.experiment import MapResult, plot_maps
        from reprlab.embed.metrics import strand_ratio

        colours = labels if labels is not None else np.zeros(len(y))
        acc = knn_accuracy(y, labels) if labels is not None else float("nan")
        ratio = strand_ratio(y, colours)["median"]
        plot_maps({"tsne": y[:, :2]}, colours, {"tsne": MapResult("input", "tsne", len(y), 0, acc, 0, ratio)},
                  Path(args.plot))
        line += f", plot {args.plot}"
    print(line)
    return 0


def run_maps(args: argparse.Namespace) -> int:
    from reprlab.cli.config_io import load_config
    from reprlab.embed.experiment import MapsConfig, run_maps as run

    cfg = load_config(MapsConfig, args.config, list(args.overrides), None)
    results = run(cfg, Path(args.output))
    for r in results:
        print(f"{r.dataset:14s} {r.method:5s} n={r.n_samples} kNN acc {r.knn_accuracy:.3f} "
              f"trustworthiness {r.trustworthiness:.3f} strand ratio {r.strand_ratio:.3f} ({r.seconds:.1f} s)")
    print(f"plots and maps_metrics.md in {args.output}")
    return 0


def demo(out_dir: Path) -> str:
    """t-SNE and LLE of sklearn digits side by side, with the 2-D kNN accuracy of each."""
    from reprlab.embed.experiment import MapsConfig, run_maps as run

    cfg = MapsConfig(datasets=["digits"], n_samples=1797, methods=["lle", "tsne"])
    results = {r.method: r for r in run(cfg, out_dir / "embed")}
    lle, tsne = results["lle"], results["tsne"]
    return (f"embed: digits maps in {out_dir / 'embed' / 'maps_digits.png'}: 2-D kNN accuracy t-SNE "
            f"{tsne.knn_accuracy:.3f} vs LLE {lle.knn_accuracy:.3f} (strand ratio {tsne.strand_ratio:.2f} "
            f"vs {lle.strand_ratio:.2f})")
