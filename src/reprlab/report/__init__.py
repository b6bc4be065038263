"""Run reports: ``metrics.json`` (every number) and ``report.html`` (a page rendered from it).

``write_report(run_dir)`` is what ``reprlab report RUN_DIR``, the end of every training run (the
:class:`reprlab.train.Trainer`) and ``reprlab demo`` call. The document schema is described in
:mod:`reprlab.report.document`; the page in :mod:`reprlab.report.html`.
"""

from reprlab.report.document import (
    build_document,
    check_run_dir,
    curves_from_rows,
    environment,
    is_run_dir,
    new_section,
    read_jsonl,
)
from reprlab.report.html import format_value, render_html
from reprlab.report.writer import refresh_report, write_report

__all__ = ["write_report", "refresh_report", "build_document", "check_run_dir", "is_run_dir", "new_section", "environment",
           "read_jsonl", "curves_from_rows", "format_value", "render_html"]
