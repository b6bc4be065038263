"""``reprlab demo [--quick] [--stages a,b] [-o DIR] [--overwrite]``: parse and call :func:`reprlab.demo.run_demo`."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from reprlab.demo import DemoConfig, run_demo

    stages = [s.strip() for s in (args.stages or "").split(",") if s.strip()]
    run_demo(DemoConfig(output_dir=args.output, quick=args.quick, stages=stages, overwrite=args.overwrite,
                        progress=not args.no_progress))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="both source texts end to end on bundled data; writes report.html",
                       description="Stages: tokenizers, pretrain, transfer, generative, simclr, imax, maps. "
                                   "Each finished stage is cached in the output directory; rerunning the same "
                                   "command after an interruption resumes at the first unfinished stage.")
    p.add_argument("-o", "--output", default="demo-output", metavar="DIR", help="run directory (default demo-output)")
    p.add_argument("--quick", action="store_true", help="small sizes: about a minute on 2 cores")
    p.add_argument("--stages", metavar="A,B", help="run only these stages, e.g. --stages imax,maps")
    p.add_argument("--overwrite", action="store_true",
                   help="write into a directory that holds other files (clears the demo's own files, keeps the rest)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=run)
