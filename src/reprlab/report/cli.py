"""``reprlab report RUN_DIR``: write the run's ``metrics.json`` and ``report.html``."""

from __future__ import annotations

import argparse


def _report(args: argparse.Namespace) -> int:
    from reprlab.report import write_report

    page = write_report(args.run_dir)
    print(f"report: {page} (numbers in {page.with_name('metrics.json')})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write report.html + metrics.json of a run or demo directory",
                       description="One self-contained static page (config, environment, metric tables, "
                                   "curves from metrics.jsonl, figures) and metrics.json with every number "
                                   "it shows. Works on runs that are still going or were stopped.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the -o directory of a training command or of reprlab demo")
    p.set_defaults(handler=_report)
