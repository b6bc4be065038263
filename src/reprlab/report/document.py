"""The report document: every number a run's ``report.html`` shows, as one JSON-ready dict.

``reprlab report RUN_DIR`` first builds this document from the files a run wrote, saves it as
``metrics.json`` and then renders the page from that saved file (:mod:`reprlab.report.html`), so
the page and the file cannot disagree. Two kinds of directory are runs:

* a training run (``config.json`` and/or ``metrics.jsonl``, written by :class:`reprlab.train.Trainer`);
  its document has the config, the curves of ``metrics.jsonl`` (train and eval rows), the numbers of
  the other JSON files the run wrote (``evaluation.json``, ``result.json``, ...), its figures, and
  the wall time between its first and last logged row;
* a demo run (``demo.json`` listing stages, each stage's section cached in ``stages/<id>.json``).

A run that is still going, or was killed, has no final ``model.safetensors`` (or unfinished demo
stages): its document says so and holds what exists so far. Schema (version 1)::

    {"schema": 1, "kind": "run"|"demo", "title": str, "status": "complete"|"partial",
     "status_note": str, "wall_seconds": float|None, "environment": {str: str},
     "config": {str: value}, "sections": [Section, ...]}
    Section = {"id", "title", "status": "done"|"pending"|"skipped"|"failed", "summary": str,
               "seconds": float|None, "tables": [{"title", "columns": [...], "rows": [[...]]}],
               "anchors": [{"what", "published", "source", "ours", "note"}],
               "curves": [{"title", "series": {name: [[step, value], ...]}}],
               "figures": [{"path", "caption"}], "text": [{"title", "body"}]}
"""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path
from typing import Any

from reprlab.errors import DataError, MissingDataError

SCHEMA = 1
SECTION_STATUSES = ("done", "pending", "skipped", "failed")
# metrics.jsonl fields that are bookkeeping, not curves
_NOT_CURVES = {"step", "time", "epoch", "world"}
_MAX_POINTS = 400  # per curve; longer curves are thinned evenly (first and last row kept)
_MAX_FIGURES = 24
_SKIP_JSON = {"config.json", "metrics.json", "trainer_state.json", "demo.json"}


def new_section(id: str, title: str, *, status: str = "done", summary: str = "",
                seconds: float | None = None) -> dict[str, Any]:
    """An empty section of the schema above (tables, anchors, curves, figures and text to fill)."""
    return {"id": id, "title": title, "status": status, "summary": summary, "seconds": seconds,
            "tables": [], "anchors": [], "curves": [], "figures": [], "text": []}


def environment() -> dict[str, str]:
    """Versions, device and threads of this process (the numbers a reader needs to compare runs)."""
    import torch

    from reprlab import __version__
    from reprlab.train import resolve_device

    return {"reprlab": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "platform": platform.platform(), "device (auto)": str(resolve_device("auto")),
            "torch threads": str(torch.get_num_threads()), "cpu cores": str(os.cpu_count())}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``metrics.jsonl``; a torn last line (a run killed mid-write) is skipped (the Trainer's reader)."""
    from reprlab.train.callbacks import read_metrics  # imported here: building the CLI parser must not load torch

    return read_metrics(path)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _thin(points: list[list[float]]) -> list[list[float]]:
    if len(points) <= _MAX_POINTS:
        return points
    stride = (len(points) - 1) / (_MAX_POINTS - 1)
    return [points[round(i * stride)] for i in range(_MAX_POINTS)]


def curves_from_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One chart per metric of ``metrics.jsonl``: its train rows and its ``eval_`` rows as two series."""
    charts: dict[str, dict[str, list[list[float]]]] = {}
    for row in rows:
        step = row.get("step")
        if not isinstance(step, (int, float)) or not _finite(step):
            continue
        for key, value in row.items():
            if key in _NOT_CURVES or not _finite(value):
                continue
            base, series = (key[5:], "eval") if key.startswith("eval_") else (key, "train")
            charts.setdefault(base, {}).setdefault(series, []).append([step, value])
    order = sorted(charts, key=lambda k: (k != "loss", k in ("lr", "grad_norm", "items_per_s"), k))
    return [{"title": name, "series": {s: _thin(p) for s, p in charts[name].items()}} for name in order]


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(obj, list) and obj and all(isinstance(v, (dict, list)) for v in obj):
        out = []
        for i, v in enumerate(obj):
            out += _flatten(v, f"{prefix}[{i}]")
        return out
    if isinstance(obj, list):
        return [(prefix, ", ".join(str(v) for v in obj))]
    return [(prefix, obj)]


def _figures(run_dir: Path) -> list[dict[str, Any]]:
    found = []
    # the run directory and one level below (sub-runs such as layer-1/): never a whole tree
    for path in sorted([*run_dir.glob("*.png"), *run_dir.glob("*/*.png")]):
        rel = path.relative_to(run_dir)
        if any(part.startswith(("checkpoint-", ".")) for part in rel.parts):
            continue
        found.append({"path": rel.as_posix(), "caption": rel.as_posix()})
    return found[:_MAX_FIGURES]


def is_run_dir(path: Path) -> bool:
    """True for a directory a reprlab training command or the demo wrote."""
    return any((path / name).is_file() for name in ("config.json", "metrics.jsonl", "demo.json"))


def check_run_dir(path: str | Path) -> Path:
    """``path`` as a run directory, or the one-line error that says what a run directory holds."""
    path = Path(path)
    if not path.exists():
        raise MissingDataError(f"{path}: no such directory; pass the -o directory of a reprlab training "
                               "command or of `reprlab demo`")
    if not path.is_dir() or not is_run_dir(path):
        raise DataError(f"{path}: not a reprlab run directory (no config.json, metrics.jsonl or demo.json); "
                        "pass the -o directory of a reprlab training command or of `reprlab demo`")
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def run_document(run_dir: Path) -> dict[str, Any]:
    """The document of a training run directory (see the module docstring)."""
    rows = read_jsonl(run_dir / "metrics.jsonl")
    config = _read_json(run_dir / "config.json")
    times = [r["time"] for r in rows if _finite(r.get("time"))]
    steps = [r["step"] for r in rows if _finite(r.get("step"))]
    complete = (run_dir / "model.safetensors").is_file()
    note = ("finished: final weights in model.safetensors" if complete else
            "partial: no model.safetensors yet (the run is still going, or was stopped); showing what exists so far")
    overview = new_section("overview", "Run", summary=note)
    last: dict[str, Any] = {}
    for r in rows:
        last.update({k: v for k, v in r.items() if _finite(v) and k not in ("time",)})
    overview["tables"].append({"title": "last logged values", "columns": ["metric", "value"],
                               "rows": [[k, v] for k, v in sorted(last.items())]})
    curves = new_section("curves", "Curves (metrics.jsonl)",
                         summary=f"{len(rows)} logged rows" + (f", steps {steps[0]} to {steps[-1]}" if steps else ""))
    curves["curves"] = curves_from_rows(rows)
    sections = [overview, curves]
    results = new_section("results", "Results")
    for path in sorted(run_dir.glob("*.json")):
        if path.name in _SKIP_JSON:
            continue
        data = _read_json(path)
        if data is None:
            continue
        flat = [[k, v] for k, v in _flatten(data) if k][:80]
        results["tables"].append({"title": path.name, "columns": ["field", "value"], "rows": flat})
    if results["tables"]:
        sections.append(results)
    figures = new_section("figures", "Figures")
    figures["figures"] = _figures(run_dir)
    if figures["figures"]:
        sections.append(figures)
    if isinstance(config, dict):
        cfg = new_section("config", "Config (config.json)")
        cfg["tables"].append({"title": "config.json", "columns": ["field", "value"],
                              "rows": [[k, v] for k, v in _flatten(config)]})
        sections.append(cfg)
    return {"schema": SCHEMA, "kind": "run", "title": f"reprlab run {run_dir.name}",
            "status": "complete" if complete else "partial", "status_note": note,
            "wall_seconds": round(times[-1] - times[0], 3) if len(times) > 1 else None,
            "wall_note": "between the first and the last logged row of metrics.jsonl",
            "environment": environment(), "config": config if isinstance(config, dict) else {},
            "sections": sections}


def demo_document(run_dir: Path) -> dict[str, Any]:
    """The document of a demo run: its stages in order, each from its cached ``stages/<id>.json``."""
    state = _read_json(run_dir / "demo.json")
    if not isinstance(state, dict) or not isinstance(state.get("stages"), list):
        raise DataError(f"{run_dir / 'demo.json'}: not a demo state file (no 'stages' list); "
                        "rerun `reprlab demo -o DIR --overwrite`")
    sections, total = [], 0.0
    for entry in state["stages"]:
        cached = _read_json(run_dir / "stages" / f"{entry['id']}.json")
        if isinstance(cached, dict) and cached.get("status") in SECTION_STATUSES:
            section = cached
        else:
            section = new_section(entry["id"], entry["title"], status="pending",
                                  summary="not run yet (or interrupted): rerun the same command to resume here")
        if _finite(section.get("seconds")):
            total += section["seconds"]
        sections.append(section)
    complete = all(s["status"] != "pending" for s in sections)
    note = ("every stage finished" if complete else
            "partial: some stages have not finished yet; rerun the same `reprlab demo` command to resume")
    return {"schema": SCHEMA, "kind": "demo", "title": state.get("title", "reprlab demo"),
            "status": "complete" if complete else "partial", "status_note": note,
            "wall_seconds": round(total, 3), "wall_note": "sum of the stage times",
            "environment": environment(), "config": state.get("config", {}), "sections": sections}


def build_document(run_dir: str | Path) -> dict[str, Any]:
    """The document of ``run_dir`` (a training run or a demo run); one-line errors otherwise."""
    path = check_run_dir(run_dir)
    return demo_document(path) if (path / "demo.json").is_file() else run_document(path)


__all__ = ["SCHEMA", "new_section", "environment", "read_jsonl", "curves_from_rows", "is_run_dir",
           "check_run_dir", "run_document", "demo_document", "build_document"]
