"""``reprlab gmm fit|predict`` and ``reprlab experiment objectives`` (registered by reprlab.cli.main).

Heavy imports stay inside the handlers so ``reprlab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

from reprlab.cli.common import command_group


def _components(spec: str) -> list[int]:
    """``10`` -> [10]; ``2:12`` -> [2, ..., 12]; ``4,8,16`` -> [4, 8, 16]."""
    from reprlab.errors import ConfigError

    try:
        if ":" in spec:
            lo, hi = (int(v) for v in spec.split(":", 1))
            ks = list(range(lo, hi + 1))
        else:
            ks = [int(v) for v in spec.split(",")]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise ConfigError(f"--n-components {spec!r}: give K, a range LO:HI or a list K1,K2 of integers >= 1")
    return ks


def _output_dir(out: Path) -> Path:
    """``out``, created; a one-line error before any work if it cannot be."""
    from reprlab.errors import DataError

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{out}: cannot create the output directory ({e.strerror}); choose another -o") from None
    return out


@contextlib.contextmanager
def _reading(path: str) -> Iterator[None]:
    """Name the input file in a data error raised while fitting or scoring its rows (NaN at row r, ...)."""
    from reprlab.errors import DataError

    try:
        yield
    except DataError as e:
        raise DataError(f"{path}: {e}") from None


@contextlib.contextmanager
def _writing(where: Path) -> Iterator[None]:
    """Turn a failed write (full or read-only disk) into one line; the atomic writers leave no half file."""
    from reprlab.errors import DataError

    try:
        yield
    except OSError as e:
        raise DataError(f"{e.filename or where}: cannot write ({e.strerror or e}); free space or choose another "
                        "output path") from None


def gmm_fit(args: argparse.Namespace) -> int:

    from reprlab.data import read_matrix, save_npy
    from reprlab.errors import DataError
    from reprlab.io import write_json
    from reprlab.mixture import cluster_purity, select_n_components

    x = read_matrix(Path(args.input))
    ks = _components(args.n_components)
    params = dict(covariance_type=args.covariance_type, reg_covar=args.reg_covar, tol=args.tol,
                  max_iter=args.max_iter, n_init=args.n_init, random_state=args.seed, device=args.device,
                  dtype=args.dtype)
    labels = None
    if args.labels:
        labels = read_matrix(Path(args.labels)).ravel()
        if len(labels) != len(x):
            raise DataError(f"{args.labels}: {len(labels)} labels for {len(x)} rows of {args.input}")
    out = _output_dir(Path(args.output))
    with _reading(args.input):
        model, scores = select_n_components(x, ks, criterion=args.criterion, **params)
    clusters = model.predict(x)
    with _writing(out):
        model.save(out / "gmm.safetensors")
        save_npy(out / "clusters.npy", clusters)
    summary = {"input": str(args.input), "n_rows": int(len(x)), "n_features": int(x.shape[1]),
               "n_components": model.n_components, "covariance_type": model.covariance_type,
               args.criterion: {str(k): v for k, v in scores.items()}, "lower_bounds": model.lower_bounds_,
               "converged": bool(model.converged_), "n_iter": int(model.n_iter_)}
    line = (f"GMM K={model.n_components} ({model.covariance_type}) on {len(x)}x{x.shape[1]}: mean log-likelihood "
            f"{model.lower_bound_:.4f} nats/row after {model.n_iter_} iterations"
            f"{'' if model.converged_ else ' (not converged: raise --max-iter)'}")
    if len(ks) > 1:
        line += f"; {args.criterion.upper()} over K={ks[0]}..{ks[-1]} picks {model.n_components}"
    if labels is not None:
        from sklearn.metrics import normalized_mutual_info_score

        summary["purity"] = cluster_purity(labels, clusters)
        summary["nmi"] = float(normalized_mutual_info_score(labels, clusters))
        line += f"; purity {summary['purity']:.3f}, NMI {summary['nmi']:.3f} against {args.labels}"
    with _writing(out):
        write_json(out / "summary.json", summary)
    print(line + f"; wrote {out}/gmm.safetensors, clusters.npy, summary.json")
    return 0


def gmm_predict(args: argparse.Namespace) -> int:
    from reprlab.data import read_matrix, save_npy
    from reprlab.mixture import GaussianMixture

    model = GaussianMixture.load(args.model)
    x = read_matrix(Path(args.input))
    with _reading(args.input):
        clusters = model.predict(x)
    with _writing(Path(args.output).parent):
        save_npy(Path(args.output), clusters)
        if args.proba:
            save_npy(Path(args.proba), model.predict_proba(x))
    print(f"{len(x)} rows -> {model.n_components} components; mean log-likelihood {model.score(x):.4f} "
          f"nats/row; clusters in {args.output}" + (f", responsibilities in {args.proba}" if args.proba else ""))
    return 0


def objectives(args: argparse.Namespace) -> int:
    from reprlab.cli.common import build_config
    from reprlab.mixture.runs import run_objectives
    from reprlab.train import torch_threads

    cfg = build_config(args)
    with torch_threads(args.threads):
        result = run_objectives(cfg)
    print(f"{cfg.data.name}: {result.n_train} training images (labels unused), {result.n_test} test images, "
          f"GMM with K={result.n_components} on {cfg.dims}-d representations")
    print(result.markdown())
    print(f"table in {cfg.output_dir}/objectives.md")
    return 0


# reprlab.mixture.em.COVARIANCE_TYPES, spelled out so that --help does not import torch (tested equal)
_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gmm fit``, ``gmm predict`` and ``experiment objectives``."""
    from reprlab.cli.common import add_experiment_args

    verbs = command_group(sub, "gmm", "Gaussian mixtures fitted by EM (scikit-learn's GaussianMixture, in torch)")
    p = verbs.add_parser("fit", help="fit a Gaussian mixture to the rows of a .npy/.csv matrix",
                         description="Fit a Gaussian mixture by EM; with a range of K, keep the lowest BIC/AIC.")
    p.add_argument("input", metavar="INPUT", help="(N, D) matrix: .npy or numeric .csv/.tsv")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="writes gmm.safetensors, clusters.npy and summary.json here")
    p.add_argument("-k", "--n-components", default="1", metavar="K|LO:HI|K1,K2",
                   help="components, or candidates to choose from by --criterion (default 1)")
    p.add_argument("--criterion", default="bic", choices=["bic", "aic"])
    p.add_argument("--covariance-type", default="full", choices=list(_COVARIANCE_TYPES))
    p.add_argument("--reg-covar", type=float, default=1e-6, help="ridge on every covariance diagonal")
    p.add_argument("--tol", type=float, default=1e-3, help="stop when the mean log-likelihood changes less")
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--n-init", type=int, default=1, help="initialisations; the best is kept")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--labels", metavar="LABELS.npy", help="also report cluster purity and NMI against these")
    p.set_defaults(handler=gmm_fit)
    p = verbs.add_parser("predict", help="clusters (and responsibilities) of new rows under a fitted mixture")
    p.add_argument("model", metavar="GMM.safetensors")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("-o", "--output", required=True, metavar="CLUSTERS.npy")
    p.add_argument("--proba", metavar="PROBA.npy", help="also save the (N, K) responsibilities")
    p.set_defaults(handler=gmm_predict)

    experiments = command_group(sub, "experiment", "reproduce a figure or table from the source texts",
                                metavar="EXPERIMENT")
    e = experiments.add_parser("objectives", help="the talk's three unsupervised objectives (likelihood, "
                                                  "reconstruction, coherence) scored by GMM cluster purity/NMI")
    add_experiment_args(e, "reprlab.mixture.runs:ObjectivesRunConfig", "simclr_train.max_steps=100")
    e.add_argument("--data", help="digits | fashion-mnist | mnist | a directory of IDX files (sets data.name)")
    e.set_defaults(handler=objectives)
