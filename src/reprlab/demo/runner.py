"""``reprlab demo``: both source texts end to end, one cached stage at a time, then ``report.html``.

Run directory::

    RUN_DIR/
      demo.json            what ran: the stages in order, --quick or not (marks the directory as a demo run)
      stages/<id>.json     a finished stage's report section (the cache: a rerun skips these stages)
      <id>/                the stage's own outputs (models, figures); cleared when the stage (re)starts
      metrics.json         every number report.html shows (rewritten after every stage)
      report.html          the page, rendered from metrics.json

A rerun of the same command after an interruption (Ctrl-C, a kill, a full disk) resumes at the
first unfinished stage. A directory that holds anything but a demo run is refused unless
``overwrite``, which clears the demo's own files (not the foreign ones) and starts again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprlab.demo.stage import Stage, StageContext
from reprlab.errors import ConfigError
from reprlab.io import write_json
from reprlab.report import new_section, write_report

log = logging.getLogger(__name__)
_OWN = ("demo.json", "stages", "metrics.json", "report.html")


@dataclass
class DemoConfig:
    """Settings of ``reprlab demo``."""

    output_dir: str = "demo-output"
    quick: bool = False  # the small sizes (<= 90 s on 2 cores; the test suite runs them)
    stages: list[str] = field(default_factory=list)  # stage ids to run (empty: all)
    overwrite: bool = False  # write into a directory that holds other files (clears the demo's own)
    progress: bool = True  # one progress bar per stage (stderr)


@dataclass
class DemoResult:
    run_dir: Path
    report: Path
    lines: list[str]  # one summary line per stage
    document: dict[str, Any] = field(repr=False)


def select_stages(names: list[str], stages: tuple[Stage, ...]) -> list[Stage]:
    """The stages named (in the demo's order), or all; an unknown name is a one-line error."""
    known = {s.id: s for s in stages}
    for name in names:
        if name not in known:
            raise ConfigError(f"--stages: unknown stage {name!r}; choose from {', '.join(known)}")
    return [s for s in stages if not names or s.id in names]


def _is_demo_dir(run_dir: Path) -> bool:
    try:
        return json.loads((run_dir / "demo.json").read_text(encoding="utf-8")).get("kind") == "reprlab-demo"
    except (OSError, ValueError, AttributeError):
        return False


def prepare_run_dir(run_dir: Path, overwrite: bool, stages: tuple[Stage, ...]) -> None:
    """Refuse a foreign non-empty directory unless ``overwrite``; with it, clear the demo's own files."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"-o {run_dir}: exists and is not a directory; choose another -o")
    entries = sorted(p.name for p in run_dir.iterdir()) if run_dir.is_dir() else []
    if entries and not overwrite and not _is_demo_dir(run_dir):
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ConfigError(f"-o {run_dir}: holds files that are not a reprlab demo run ({shown}); choose an "
                          "empty or new directory, or pass --overwrite to write the demo into it")
    if overwrite:
        for name in (*_OWN, *(s.id for s in stages)):
            path = run_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)


def _fingerprint(stage: Stage, quick: bool, run_dir: Path) -> dict[str, Any]:
    """What a cached section must match: the stage, its size, and the cached sections it read."""
    upstream: dict[str, str | None] = {}
    for dep in stage.depends:
        try:
            upstream[dep] = hashlib.sha256((run_dir / "stages" / f"{dep}.json").read_bytes()).hexdigest()[:16]
        except OSError:
            upstream[dep] = None
    return {"stage": stage.id, "version": stage.version, "quick": quick, "depends": upstream}


def _cached(run_dir: Path, stage: Stage, quick: bool) -> dict[str, Any] | None:
    try:
        section = json.loads((run_dir / "stages" / f"{stage.id}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(section, dict) or section.get("fingerprint") != _fingerprint(stage, quick, run_dir):
        return None
    return section if section.get("status") in ("done", "skipped") else None


def _bar(stage: Stage, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=stage.parts, desc=stage.id, leave=False, dynamic_ncols=True, file=sys.stderr)


def run_stage(stage: Stage, run_dir: Path, quick: bool, progress: bool = False) -> dict[str, Any]:
    """Run one stage in a fresh ``RUN_DIR/<id>`` and return its finished section (also cached)."""
    section = new_section(stage.id, stage.title)
    section["fingerprint"] = _fingerprint(stage, quick, run_dir)
    out = run_dir / stage.id
    if out.exists():  # a stage interrupted last time starts again from nothing
        shutil.rmtree(out)
    reason = stage.missing()
    t0 = time.perf_counter()
    if reason is not None:
        section.update(status="skipped", summary=f"skipped: {reason}")
    else:
        out.mkdir(parents=True)
        bar = _bar(stage, progress)
        try:
            section["summary"] = stage.run(StageContext(out, run_dir, quick, section, bar))
        finally:
            if bar is not None:
                bar.close()
    section["seconds"] = round(time.perf_counter() - t0, 2)
    section["finished"] = time.time()  # a rerun changes the section, so stages that read it rerun too
    write_json(run_dir / "stages" / f"{stage.id}.json", section)
    return section


def run_demo(cfg: DemoConfig, stages: tuple[Stage, ...] | None = None,
             echo: Callable[[str], None] = print) -> DemoResult:
    """Run (or resume) the demo: every selected stage not cached yet, then the report.

    ``echo`` receives one line per stage (``[  12.3s] id: summary``, or ``cached``). On Ctrl-C the
    finished stages stay cached, the report shows them, and ``KeyboardInterrupt`` propagates.
    """
    from reprlab.demo.stages import STAGES

    all_stages = STAGES if stages is None else stages
    chosen = select_stages(cfg.stages, all_stages)
    run_dir = Path(cfg.output_dir)
    prepare_run_dir(run_dir, cfg.overwrite, all_stages)
    # the page shows the stages of this run and those an earlier --stages run left cached here
    shown = [s for s in all_stages if s in chosen or _cached(run_dir, s, cfg.quick) is not None]
    write_json(run_dir / "demo.json", {
        "kind": "reprlab-demo", "title": "reprlab demo: " + ("quick run" if cfg.quick else "default run"),
        "config": {"quick": cfg.quick, "stages": ", ".join(s.id for s in shown)},
        "stages": [{"id": s.id, "title": s.title} for s in shown]})
    lines = []
    for stage in chosen:
        section = _cached(run_dir, stage, cfg.quick)
        if section is not None:
            line = f"[cached ] {stage.id}: {section['summary']}"
        else:
            try:
                section = run_stage(stage, run_dir, cfg.quick, cfg.progress)
            except KeyboardInterrupt:
                write_report(run_dir)
                echo(f"interrupted in stage {stage.id}: finished stages are kept in {run_dir / 'stages'}; "
                     "rerun the same command to resume")
                raise
            line = f"[{section['seconds']:6.1f}s] {stage.id}: {section['summary']}"
            write_report(run_dir)  # the page after every stage, so an interrupted run still has one
        lines.append(line)
        echo(line)
    report = write_report(run_dir)
    doc = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    echo(f"report: {report} ({doc['wall_seconds']:.1f} s of stages)")
    return DemoResult(run_dir, report, lines, doc)


__all__ = ["DemoConfig", "DemoResult", "run_demo", "run_stage", "select_stages", "prepare_run_dir"]
