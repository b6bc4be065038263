"""One demo stage: a named piece of the story that fills one report section in its own directory.

A stage function receives a :class:`StageContext` and adds tables, published anchors, figures and
text to ``ctx.section`` (the schema of :mod:`reprlab.report.document`); the runner times it, caches
the section in ``stages/<id>.json`` and skips it on the next run.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class StageContext:
    """What a stage works with: its directory, the run's size, its report section and its progress bar."""

    out: Path  # the stage's own directory, RUN_DIR/<stage id> (empty when the stage starts)
    run_dir: Path  # the demo's run directory (a stage may read an earlier stage's outputs there)
    quick: bool  # the --quick sizes (the suite runs them) instead of the default ones
    section: dict[str, Any]
    bar: Any = None  # a tqdm bar over the stage's parts, or None

    def pick(self, quick: Any, default: Any) -> Any:
        """``quick`` under ``--quick``, else ``default``."""
        return quick if self.quick else default

    def part(self, label: str) -> None:
        """Advance the stage's progress bar to the part named ``label``."""
        if self.bar is not None:
            self.bar.set_postfix_str(label, refresh=False)
            self.bar.update(1)

    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.section["tables"].append({"title": title, "columns": columns, "rows": rows})

    def anchor(self, what: str, published: Any, source: str, ours: Any, note: str) -> None:
        """A published figure beside our number; ``published`` is the only constant a section may hold."""
        self.section["anchors"].append({"what": what, "published": published, "source": source,
                                        "ours": ours, "note": note})

    def figure(self, path: Path, caption: str) -> None:
        self.section["figures"].append({"path": Path(path).relative_to(self.run_dir).as_posix(), "caption": caption})

    def text(self, title: str, body: str) -> None:
        self.section["text"].append({"title": title, "body": body})

    def curves(self, run_dir: Path, titles: tuple[str, ...] = ("loss",)) -> None:
        """Add the curves of a training run's ``metrics.jsonl`` named ``titles`` to the section."""
        from reprlab.report import curves_from_rows, read_jsonl

        rows = read_jsonl(Path(run_dir) / "metrics.jsonl")
        self.section["curves"] += [c for c in curves_from_rows(rows) if c["title"] in titles]

    def metric(self, name: str, value: Any) -> Any:
        """Record a number the tests and tools read from ``metrics.json`` (``section['metrics'][name]``)."""
        self.section.setdefault("metrics", {})[name] = value
        return value


@dataclass(frozen=True)
class Stage:
    """A stage of ``reprlab demo``: ``run`` fills the section; ``requires`` names a module it needs."""

    id: str
    title: str
    run: Callable[[StageContext], str]  # returns the stage's one-line summary
    parts: int = 1  # progress-bar length (calls to ctx.part)
    requires: str | None = None  # a module of a domain this build may not have yet
    version: int = 1  # bump to invalidate cached sections when the stage changes
    depends: tuple[str, ...] = ()  # stages whose outputs this one reads: a rerun of those reruns this one

    def missing(self) -> str | None:
        """Why the stage cannot run in this build, or None."""
        if self.requires is None:
            return None
        try:
            found = importlib.util.find_spec(self.requires) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            return None
        if self.requires.startswith("reprlab."):
            return f"{self.requires} is not in this build of reprlab yet"
        return f"needs the {self.requires} package: pip install {self.requires.replace('_', '-')}"


__all__ = ["Stage", "StageContext"]
