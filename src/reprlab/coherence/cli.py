"""``reprlab imax ...``, ``reprlab cpc ...`` and ``reprlab agreement``: the coherence domain's commands.

Heavy imports stay inside the handlers so ``reprlab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from reprlab.cli.common import command_group


def _out_dir(cfg_train_output: str) -> Path:
    out = Path(cfg_train_output)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _config(cls: type, args: argparse.Namespace):
    """``cls`` from its own defaults (including its TrainConfig defaults) < --config < --set < flags."""
    from reprlab.cli.common import config_from_args
    return config_from_args(cls, args, defaults=dataclasses.asdict(cls()))


def _write_json(path: Path, data: object) -> None:
    from reprlab.io import write_json
    write_json(path, data)


def _run(cfg, threads: int | None, run):
    """Make the run's output directory, then ``run(cfg, out)`` on ``threads`` torch threads:
    (output directory, what ``run`` returned)."""
    from reprlab.train import torch_threads

    out = _out_dir(cfg.train.output_dir)
    with torch_threads(threads):
        return out, run(cfg, out)


def _write_table(rows, path: Path) -> None:
    from reprlab.coherence.experiments import markdown_table

    table = markdown_table(rows)
    path.write_text(table + "\n")
    print(table)


# ------------------------------------------------------------------------------ imax
def _imax_config(args: argparse.Namespace, output: str):
    from reprlab.coherence.experiments import IMAXRunConfig
    if not getattr(args, "output", None) and not any(o.startswith("train.output_dir") for o in args.overrides):
        args.overrides = [f"train.output_dir={output!r}"] + list(args.overrides)
    return _config(IMAXRunConfig, args)


def imax_train(args: argparse.Namespace) -> int:
    from reprlab.coherence.experiments import plot_disparity_scatter, run_coherence
    from reprlab.coherence.stereograms import plot_stereograms, random_dot_stereograms

    def run(cfg, out: Path):
        plot_stereograms(random_dot_stereograms(4, cfg.data, seed=cfg.seed), out / "stereograms.png")
        return run_coherence(cfg)[0]

    cfg = _imax_config(args, "runs/imax")
    out, result = _run(cfg, args.threads, run)
    plot_disparity_scatter(result, out / "disparity_scatter.png")
    _write_json(out / "result.json", result.summary())
    print(f"{cfg.objective} on {cfg.data.surface} stereograms ({cfg.model.variant}): |r| = {result.abs_r:.3f}, "
          f"IMAX I = {result.imax_nats:.3f} nats, KSG I = {result.ksg_nats:.3f} nats, "
          f"{result.seconds:.1f} s; figures in {out}/")
    return 0


def imax_compare(args: argparse.Namespace) -> int:
    from reprlab.coherence.experiments import compare_imax_contrastive

    out, rows = _run(_imax_config(args, "runs/imax-compare"), args.threads, compare_imax_contrastive)
    _write_table(rows, out / "compare.md")
    return 0


def imax_nonlinear(args: argparse.Namespace) -> int:
    from reprlab.coherence.experiments import nonlinearity_study

    out, rows = _run(_imax_config(args, "runs/imax-nonlinear"), args.threads,
                     lambda cfg, out: nonlinearity_study(cfg, tuple(args.depths), out))
    _write_table(rows, out / "nonlinear.md")
    return 0


def imax_bound(args: argparse.Namespace) -> int:
    from reprlab.coherence.infonce import infonce_bound_curve, plot_infonce_bound

    out = _out_dir(args.output)
    mis = [0.25, 0.5, 1, 2, 3, 4, 5, 6, 8, 10]
    curves = infonce_bound_curve(mis, args.batch_sizes, dim=args.dim, n_batches=args.n_batches, seed=args.seed)
    plot_infonce_bound(mis, curves, out / "infonce_bound.png")
    _write_json(out / "infonce_bound.json", {"true_mi": mis, "estimates": {str(k): v for k, v in curves.items()}})
    for bsz, est in sorted(curves.items()):
        print(f"batch {bsz:5d} (log N = {__import__('math').log(bsz):.2f}): "
              + " ".join(f"{m:g}->{e:.2f}" for m, e in zip(mis, est)))
    print(f"figure: {out / 'infonce_bound.png'}")
    return 0


def imax_stereograms(args: argparse.Namespace) -> int:
    from reprlab.coherence.stereograms import StereogramConfig, plot_stereograms, random_dot_stereograms

    cfg = StereogramConfig(n_patches=args.patches, surface=args.surface, height=args.height)
    path = plot_stereograms(random_dot_stereograms(args.n, cfg, seed=args.seed), Path(args.output), args.n)
    print(f"wrote {path}")
    return 0


# ------------------------------------------------------------------------------- cpc
def cpc_train(args: argparse.Namespace) -> int:
    from reprlab.coherence.cpc import CPCRunConfig, run_cpc

    cfg = _config(CPCRunConfig, args)
    out, result = _run(cfg, args.threads, lambda cfg, out: run_cpc(cfg)[0])
    _write_json(out / "result.json", dataclasses.asdict(result))
    _plot_cpc(result, out / "cpc_accuracy.png")
    accs = ", ".join(f"k={k}: {a:.2f}" for k, a in enumerate(result.accuracy_per_step, start=1))
    print(f"CPC top-1 accuracy {accs}; InfoNCE bound {result.infonce_nats:.2f} nats; {result.seconds:.1f} s")
    for name, r2 in result.probe_r2.items():
        print(f"linear probe R^2 of {name}: {r2:.3f} (untrained network: {result.probe_r2_untrained[name]:.3f})")
    return 0


def _plot_cpc(result, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reprlab.io import save_figure

    fig, axes = plt.subplots(1, 2 if result.probe_r2 else 1, figsize=(8 if result.probe_r2 else 4, 3.2),
                             squeeze=False)
    ks = list(range(1, len(result.accuracy_per_step) + 1))
    axes[0, 0].plot(ks, result.accuracy_per_step, marker="o")
    axes[0, 0].set_xlabel("prediction step k")
    axes[0, 0].set_ylabel("top-1 accuracy among negatives")
    axes[0, 0].set_ylim(0, 1)
    if result.probe_r2:
        names = list(result.probe_r2)
        xs = range(len(names))
        axes[0, 1].bar([x - 0.2 for x in xs], [result.probe_r2_untrained[n] for n in names], 0.4, label="untrained")
        axes[0, 1].bar([x + 0.2 for x in xs], [result.probe_r2[n] for n in names], 0.4, label="CPC")
        axes[0, 1].set_xticks(list(xs), names)
        axes[0, 1].set_ylabel("linear probe R^2 from c_t")
        axes[0, 1].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


# ------------------------------------------------------------------------- agreement
def agreement_run(args: argparse.Namespace) -> int:
    from reprlab.coherence.agreement import AgreementRunConfig, run_agreement

    cfg = _config(AgreementRunConfig, args)
    out, result = _run(cfg, args.threads, lambda cfg, out: run_agreement(cfg)[0])
    _write_json(out / "result.json", dataclasses.asdict(result))
    print(f"{result.agreement} agreement on {cfg.dataset}: probe accuracy {result.probe_accuracy:.3f} "
          f"(untrained {result.probe_accuracy_untrained:.3f}); activation variance per layer "
          + ", ".join(f"{v:.2e}" for v in result.variance)
          + " (untrained " + ", ".join(f"{v:.2e}" for v in result.variance_untrained) + ")")
    return 0


# ------------------------------------------------------------------------------ demo
def demo(out_dir: Path) -> str:
    """IMAX on planar stereograms (a few seconds): scatter PNG and one line with |r|."""
    from reprlab.coherence.experiments import IMAXRunConfig, plot_disparity_scatter, run_coherence
    from reprlab.coherence.stereograms import plot_stereograms, random_dot_stereograms
    from reprlab.train import torch_threads

    out = Path(out_dir) / "coherence"
    cfg = IMAXRunConfig(n_train=4096, n_test=1024)
    cfg.train.output_dir = str(out / "imax-run")
    cfg.train.max_steps = 500
    if (out / "imax-run").exists():
        import shutil
        shutil.rmtree(out / "imax-run")
    with torch_threads(1):
        plot_stereograms(random_dot_stereograms(4, cfg.data, seed=0), out / "stereograms.png")
        result, _ = run_coherence(cfg)
    plot_disparity_scatter(result, out / "imax_disparity_scatter.png")
    return (f"coherence: IMAX on planar random-dot stereograms, |r| = {result.abs_r:.3f} between module "
            f"output and true disparity (unsupervised, {cfg.train.max_steps} steps, {result.seconds:.1f} s)")


def _threads_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: these models are tiny, more threads only add overhead)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``imax``, ``cpc`` and ``agreement`` to the top-level parser."""
    from reprlab.cli.common import add_config_args

    verbs = command_group(sub, "imax", "IMAX / contrastive coherence on random-dot stereograms")
    p = verbs.add_parser("train", help="train IMAX (or contrastive, --set objective=contrastive); "
                                       "writes disparity_scatter.png, stereograms.png, result.json")
    add_config_args(p)
    _threads_arg(p)
    p.set_defaults(handler=imax_train)
    p = verbs.add_parser("compare", help="IMAX vs contrastive coherence on the same data: one table")
    add_config_args(p)
    _threads_arg(p)
    p.set_defaults(handler=imax_compare)
    p = verbs.add_parser("nonlinear", help="the failure mode: IMAX I vs KSG MI vs |r| as modules get "
                                           "more nonlinear, and with overlapping patches")
    add_config_args(p)
    _threads_arg(p)
    p.add_argument("--depths", type=int, nargs="+", default=[0, 1, 3], help="tanh layers after the energy units")
    p.set_defaults(handler=imax_nonlinear)
    p = verbs.add_parser("bound", help="InfoNCE estimate vs true MI on Gaussians for several batch sizes")
    p.add_argument("-o", "--output", default="runs/infonce-bound", help="output directory")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64, 256, 1024])
    p.add_argument("--dim", type=int, default=8, help="dimensions the MI is spread over")
    p.add_argument("--n-batches", type=int, default=10, help="batches averaged per point")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=imax_bound)
    p = verbs.add_parser("stereograms", help="figure of example random-dot stereograms")
    p.add_argument("-o", "--output", default="stereograms.png", help="PNG path")
    p.add_argument("--surface", default="planar", choices=["planar", "curved", "discontinuous"])
    p.add_argument("--patches", type=int, default=7)
    p.add_argument("--height", type=int, default=4)
    p.add_argument("-n", type=int, default=3, help="examples")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=imax_stereograms)

    verbs = command_group(sub, "cpc", "Contrastive Predictive Coding (GRU context, k-step bilinear InfoNCE)")
    p = verbs.add_parser("train", help="train CPC on slow-factor signals (or --set text=FILE "
                                       "--set model.input=chars); probe the factors")
    add_config_args(p)
    _threads_arg(p)
    p.set_defaults(handler=cpc_train)

    p = sub.add_parser("agreement", help="layer-local bottom-up/top-down agreement: MSE collapses, "
                                         "contrastive does not (--set model.agreement=mse)")
    add_config_args(p)
    _threads_arg(p)
    p.set_defaults(handler=agreement_run)
