"""``reprlab imax ...``, ``reprlab cpc ...`` and ``reprlab agreement``: the coherence domain's commands.

Each handler builds a config and calls its run in :mod:`reprlab.coherence.runs`. Heavy imports stay
inside the handlers so ``reprlab --help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from reprlab.cli.common import add_config_args, build_config, command_group

R = TypeVar("R")


def _on_threads(args: argparse.Namespace, run: Callable[[Any], R], cfg: Any) -> R:
    """``run(cfg)`` on ``--threads`` torch threads (these models are tiny: one is fastest)."""
    from reprlab.train import torch_threads

    with torch_threads(args.threads):
        return run(cfg)


# ------------------------------------------------------------------------------ imax
def imax_train(args: argparse.Namespace) -> int:
    from reprlab.coherence.runs import run_imax

    cfg = build_config(args)
    result = _on_threads(args, run_imax, cfg)
    print(f"{cfg.objective} on {cfg.data.surface} stereograms ({cfg.model.variant}): |r| = {result.abs_r:.3f}, "
          f"IMAX I = {result.imax_nats:.3f} nats, KSG I = {result.ksg_nats:.3f} nats, "
          f"{result.seconds:.1f} s; figures in {cfg.train.output_dir}/")
    return 0


def imax_compare(args: argparse.Namespace) -> int:
    from reprlab.coherence.runs import compare_imax_contrastive

    cfg = build_config(args)
    print(_on_threads(args, compare_imax_contrastive, cfg).table)
    return 0


def imax_nonlinear(args: argparse.Namespace) -> int:
    from reprlab.coherence.runs import nonlinearity_study

    cfg = build_config(args)
    print(_on_threads(args, lambda c: nonlinearity_study(c, tuple(args.depths)), cfg).table)
    return 0


def imax_bound(args: argparse.Namespace) -> int:
    import math

    from reprlab.coherence.runs import InfoNCEBoundRunConfig, run_infonce_bound

    result = run_infonce_bound(InfoNCEBoundRunConfig(output_dir=args.output, batch_sizes=tuple(args.batch_sizes),
                                                     dim=args.dim, n_batches=args.n_batches, seed=args.seed))
    for bsz, est in sorted(result.estimates.items()):
        print(f"batch {bsz:5d} (log N = {math.log(bsz):.2f}): "
              + " ".join(f"{m:g}->{e:.2f}" for m, e in zip(result.true_mis, est)))
    print(f"figure: {result.figure}")
    return 0


def imax_stereograms(args: argparse.Namespace) -> int:
    from reprlab.coherence.stereograms import StereogramConfig, plot_stereograms, random_dot_stereograms

    cfg = StereogramConfig(n_patches=args.patches, surface=args.surface, height=args.height)
    path = plot_stereograms(random_dot_stereograms(args.n, cfg, seed=args.seed), Path(args.output), args.n)
    print(f"wrote {path}")
    return 0


# ------------------------------------------------------------------------------- cpc
def cpc_train(args: argparse.Namespace) -> int:
    from reprlab.coherence.runs import run_cpc

    result = _on_threads(args, run_cpc, build_config(args))
    accs = ", ".join(f"k={k}: {a:.2f}" for k, a in enumerate(result.accuracy_per_step, start=1))
    print(f"CPC top-1 accuracy {accs}; InfoNCE bound {result.infonce_nats:.2f} nats; {result.seconds:.1f} s")
    for name, r2 in result.probe_r2.items():
        print(f"linear probe R^2 of {name}: {r2:.3f} (untrained network: {result.probe_r2_untrained[name]:.3f})")
    return 0


# ------------------------------------------------------------------------- agreement
def agreement_run(args: argparse.Namespace) -> int:
    from reprlab.coherence.runs import run_agreement

    cfg = build_config(args)
    result = _on_threads(args, run_agreement, cfg)
    print(f"{result.agreement} agreement on {cfg.data.name}: probe accuracy {result.probe_accuracy:.3f} "
          f"(untrained {result.probe_accuracy_untrained:.3f}); activation variance per layer "
          + ", ".join(f"{v:.2e}" for v in result.variance)
          + " (untrained " + ", ".join(f"{v:.2e}" for v in result.variance_untrained) + ")")
    return 0


# ------------------------------------------------------------------------------ demo
def demo(out_dir: Path) -> str:
    """IMAX on planar stereograms (a few seconds): scatter PNG and one line with |r|."""
    from reprlab.coherence.runs import demo as run_demo

    return run_demo(out_dir)


def _run_verb(group: argparse._SubParsersAction, name: str, help_: str, handler: Callable, config: str, *,
              data: str | None = None, output_dir: str | None = None) -> argparse.ArgumentParser:
    """A verb that builds run config ``config`` (--config, --set, -o, ... and --threads) and calls ``handler``."""
    p = group.add_parser(name, help=help_)
    add_config_args(p, config=f"reprlab.coherence.runs:{config}", data=data, output_dir=output_dir)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: these models are tiny, more threads only add overhead)")
    p.set_defaults(handler=handler)
    return p


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``imax``, ``cpc`` and ``agreement`` to the top-level parser."""
    verbs = command_group(sub, "imax", "IMAX / contrastive coherence on random-dot stereograms")
    _run_verb(verbs, "train", "train IMAX (or contrastive, --set objective=contrastive); writes "
              "disparity_scatter.png, stereograms.png, result.json", imax_train, "IMAXRunConfig")
    _run_verb(verbs, "compare", "IMAX vs contrastive coherence on the same data: one table", imax_compare, "IMAXRunConfig",
              output_dir="runs/imax-compare")
    p = _run_verb(verbs, "nonlinear", "the failure mode: IMAX I vs KSG MI vs |r| as modules get more "
                  "nonlinear, and with overlapping patches", imax_nonlinear, "IMAXRunConfig",
                  output_dir="runs/imax-nonlinear")
    p.add_argument("--depths", type=int, nargs="+", default=[0, 1, 3], help="tanh layers after the energy units")
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
    _run_verb(verbs, "train", "train CPC on slow-factor signals (or --set text=FILE --set model.input=chars); "
              "probe the factors", cpc_train, "CPCRunConfig")
    _run_verb(sub, "agreement", "layer-local bottom-up/top-down agreement: MSE collapses, contrastive does not "
              "(--set model.agreement=mse)", agreement_run, "AgreementRunConfig",
              data="any image data set, e.g. fashion-mnist or digits (with --set model.grid=2)")
