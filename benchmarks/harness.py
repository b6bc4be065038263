"""Side-by-side timing of ours vs a reference implementation, in one process.

Machines here are shared and noisy, so absolute times mean little: each benchmark runs ours and the
reference alternately (A B A B ...) after a warm-up and reports the median of each and the median
of the per-pair ratios ours/reference. Peak resident memory is measured per call on Linux by
resetting the kernel's high-water mark (``/proc/self/clear_refs``) before it.

Usage in a ``benchmarks/bench_*.py`` script::

    from harness import compare, write_rows
    row = compare("tokenizers", "encode 2 MB", ours=lambda: ..., reference=lambda: ...,
                  reference_name="HF BertTokenizerFast", quality="ids identical")
    write_rows([row])          # updates docs/benchmarks.md (rows keyed by benchmark + case)

Run a script directly (``python benchmarks/bench_x.py``) or all of them with ``make bench``.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
HEADER = ("| benchmark | case | ours (median s) | reference | ref (median s) | ratio ours/ref "
          "(median, min-max) | peak MB ours / ref | quality | command |")


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@dataclass
class BenchRow:
    benchmark: str
    case: str
    ours_s: float
    reference: str
    ref_s: float | None
    ratio: float | None
    ratio_min: float | None
    ratio_max: float | None
    ours_mb: float | None
    ref_mb: float | None
    quality: str = ""
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def markdown(self) -> str:
        def num(v: float | None, fmt: str = "{:.4g}") -> str:
            return "—" if v is None else fmt.format(v)
        ratio = "—" if self.ratio is None else f"{self.ratio:.3g} ({self.ratio_min:.3g}-{self.ratio_max:.3g})"
        mem = f"{num(self.ours_mb, '{:.0f}')} / {num(self.ref_mb, '{:.0f}')}"
        return (f"| {self.benchmark} | {self.case} | {num(self.ours_s)} | {self.reference} | "
                f"{num(self.ref_s)} | {ratio} | {mem} | {self.quality} | `{self.command}` |")


def _timed(fn: Callable[[], Any]) -> tuple[float, float | None, Any]:
    measured = _reset_peak_rss()
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    return elapsed, (_peak_rss_mb() if measured else None), result


def compare(benchmark: str, case: str, ours: Callable[[], Any], reference: Callable[[], Any] | None,
            *, reference_name: str = "", repeats: int = 5, warmup: int = 1,
            quality: str | Callable[[Any, Any], str] = "", command: str | None = None) -> BenchRow:
    """Time ``ours`` and ``reference`` alternately; return a :class:`BenchRow`.

    ``quality`` may be a function of the two last results (e.g. KL divergences) returning text.
    ``reference=None`` times ours alone (for a component with no reference library).
    """
    for _ in range(warmup):
        ours()
        if reference is not None:
            reference()
    t_ours, t_ref, ratios, m_ours, m_ref = [], [], [], [], []
    r_ours = r_ref = None
    for _ in range(repeats):
        a, ma, r_ours = _timed(ours)
        t_ours.append(a)
        m_ours.append(ma)
        if reference is not None:
            b, mb, r_ref = _timed(reference)
            t_ref.append(b)
            m_ref.append(mb)
            ratios.append(a / b)
    if callable(quality):
        quality = quality(r_ours, r_ref)
    peak = lambda ms: max(ms) if ms and all(m is not None for m in ms) else None  # noqa: E731
    row = BenchRow(
        benchmark=benchmark, case=case, ours_s=statistics.median(t_ours), reference=reference_name or "—",
        ref_s=statistics.median(t_ref) if t_ref else None,
        ratio=statistics.median(ratios) if ratios else None,
        ratio_min=min(ratios) if ratios else None, ratio_max=max(ratios) if ratios else None,
        ours_mb=peak(m_ours), ref_mb=peak(m_ref), quality=str(quality),
        command=command or "python " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]))
    print(row.markdown(), flush=True)
    return row


def with_throughput(row: BenchRow, items: int, unit: str = "tok/s") -> BenchRow:
    """Prefix the row's quality with ours vs reference throughput (``items`` per call) and the speed-up."""
    assert row.ref_s is not None, "throughput needs a reference timing"
    row.quality = (f"{items / row.ours_s:,.0f} vs {items / row.ref_s:,.0f} {unit} "
                   f"(speed-up {row.ref_s / row.ours_s:.2f}x); {row.quality}")
    print("   ", row.quality, flush=True)
    return row


def write_rows(rows: list[BenchRow], path: Path = TABLE) -> None:
    """Insert or replace rows (keyed by benchmark + case) in the results table of ``path``."""
    sys.path.insert(0, str(ROOT / "src"))
    from reprlab.io import atomic_write

    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    body, tail = rest.split(END, 1)
    lines = [ln for ln in body.strip().splitlines() if ln.startswith("|")][2:]  # drop header rows
    key = lambda ln: tuple(c.strip() for c in ln.strip("|").split("|")[:2])  # noqa: E731
    new = {(r.benchmark, r.case): r.markdown() for r in rows}
    kept = [ln for ln in lines if key(ln) not in new]
    table = [HEADER, re.sub(r"[^|]+", "---", HEADER)]
    table += sorted(kept + list(new.values()), key=key)
    with atomic_write(path) as f:
        f.write(head + BEGIN + "\n" + "\n".join(table) + "\n" + END + tail)
