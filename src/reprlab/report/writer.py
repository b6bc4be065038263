"""Write ``metrics.json`` and then ``report.html`` from the saved file (so the two cannot disagree)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from reprlab.io import atomic_write, write_json
from reprlab.report.document import build_document
from reprlab.report.html import render_html

log = logging.getLogger(__name__)


def write_report(run_dir: str | Path, document: dict[str, Any] | None = None) -> Path:
    """Write ``RUN_DIR/metrics.json`` and ``RUN_DIR/report.html``; return the page's path.

    Parameters
    ----------
    run_dir: a training run or demo directory (``config.json``, ``metrics.jsonl`` or ``demo.json``).
    document: the report document to save (default: built from the run's files by
        :func:`reprlab.report.build_document`).

    Both files are written atomically; the page is rendered from ``metrics.json`` as read back.

    Raises
    ------
    MissingDataError, DataError: ``run_dir`` is missing or holds no run (one line, exit 2 in the CLI).
    """
    run_dir = Path(run_dir)
    doc = build_document(run_dir) if document is None else document
    write_json(run_dir / "metrics.json", doc)
    saved = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    page = run_dir / "report.html"
    with atomic_write(page) as f:
        f.write(render_html(saved, run_dir))
    return page


def refresh_report(run_dir: str | Path | None) -> Path | None:
    """Rewrite the report of a training run directory (one holding ``metrics.jsonl``); else do nothing.

    Called at the end of :meth:`reprlab.train.Trainer.fit` and after every CLI command that
    trained into ``-o DIR`` (so the results a run writes after training are on the page too).
    A failure to write (full or read-only disk) only warns: the finished run is already saved.
    """
    if run_dir is None or not (Path(run_dir) / "metrics.jsonl").is_file():
        return None
    try:
        return write_report(run_dir)
    except (OSError, ValueError) as e:
        log.warning("could not write the run report in %s: %s", run_dir, e)
        return None


__all__ = ["write_report", "refresh_report"]
