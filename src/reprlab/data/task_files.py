"""Labelled examples for fine-tuning from JSONL or CSV files (``reprlab finetune --train FILE``).

Columns (JSONL keys or a CSV header), as HF's ``run_glue.py`` / ``run_ner.py`` read them:

* sequence tasks: ``text``, optional ``text_pair``, ``label`` (a string or a number, kept as its
  string form, so ``1`` and ``"1"`` are one label);
* tagging: ``tokens`` (a list of words) and ``tags`` (one label per word; in CSV both are
  space-separated strings);
* multiple choice: ``text`` (the context), ``choices`` (a list; CSV: ``|``-separated) and ``label``
  (the index of the right choice).

At prediction time ``label``/``tags`` may be absent. Problems are reported as ``file:line``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprlab.data.text import _lines, jsonl_records
from reprlab.errors import DataError, MissingDataError

TASK_COLUMNS = {"seq-cls": ("text",), "pair-cls": ("text", "text_pair"), "token-cls": ("tokens",),
                "multiple-choice": ("text", "choices")}
LABEL_COLUMN = {"seq-cls": "label", "pair-cls": "label", "token-cls": "tags", "multiple-choice": "label"}


@dataclass
class TaskRow:
    """One example as read: its fields and ``file:line`` for error messages."""

    where: str
    text: str | None = None
    text_pair: str | None = None
    tokens: list[str] | None = None
    choices: list[str] | None = None
    label: Any = None  # str (sequence tasks), list of str (tagging), int (multiple choice), or None
    extra: dict[str, Any] = field(default_factory=dict)


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise MissingDataError(f"{path}: no such file; give a .jsonl or .csv file")
    lines = list(_lines(path))  # UTF-8 errors are reported as file:line
    out: list[tuple[int, dict[str, Any]]] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text for _, text in lines)
        if reader.fieldnames is None:
            raise DataError(f"{path}:1: empty CSV; the first line must be a header such as text,label")
        for row in reader:
            if None in row:
                raise DataError(f"{path}:{reader.line_num}: more fields than the header's {len(reader.fieldnames)}")
            out.append((reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}))
        return out
    out.extend(jsonl_records(lines, path))
    return out


def _as_list(value: Any, sep: str | None, where: str, column: str) -> list[str]:
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    if isinstance(value, str):
        return value.split(sep) if sep != " " else value.split()
    raise DataError(f"{where}: column {column!r} must be a list of strings (CSV: {sep!r}-separated)")


def read_task_file(path: str | Path, task: str, *, labels_required: bool = True) -> list[TaskRow]:
    """Rows of a JSONL or CSV task file.

    Raises
    ------
    DataError
        A line that is not JSON, a CSV without the task's columns, a row without its label when
        ``labels_required``, an empty text, or tags that do not match the tokens (``file:line``).
    """
    path = Path(path)
    if task not in TASK_COLUMNS:
        raise DataError(f"task={task!r}: choose one of {', '.join(TASK_COLUMNS)}")
    records = _records(path)
    if not records:
        raise DataError(f"{path}: no examples")
    need, label_col = TASK_COLUMNS[task], LABEL_COLUMN[task]
    if path.suffix.lower() == ".csv":
        header = set(records[0][1])
        missing = [c for c in need + ((label_col,) if labels_required else ()) if c not in header]
        if missing:
            raise DataError(f"{path}:1: CSV header {sorted(header)} lacks column(s) {missing}; task {task} reads "
                            f"{', '.join(need)} and {label_col}")
    rows = []
    for lineno, rec in records:
        where = f"{path}:{lineno}"
        for c in need:
            if c not in rec or rec[c] is None:
                raise DataError(f"{where}: no {c!r} column; task {task} reads {', '.join(need)} and {label_col}")
        label = rec.get(label_col)
        if label in (None, "") and labels_required:
            raise DataError(f"{where}: no {label_col!r}; every training/validation row needs one")
        row = TaskRow(where, extra={k: v for k, v in rec.items() if k not in need + (label_col,)})
        if task == "token-cls":
            row.tokens = _as_list(rec["tokens"], " ", where, "tokens")
            if label not in (None, ""):
                row.label = _as_list(label, " ", where, "tags")
                if len(row.label) != len(row.tokens):
                    raise DataError(f"{where}: {len(row.tokens)} tokens but {len(row.label)} tags; give one tag per token")
        else:
            for c in ("text", "text_pair"):
                if c in need:
                    value = rec[c]
                    if not isinstance(value, str) or not value.strip():
                        raise DataError(f"{where}: empty {c!r}; remove the row or give it a text")
                    setattr(row, c, value)
            if task == "multiple-choice":
                row.choices = _as_list(rec["choices"], "|", where, "choices")
                if label not in (None, ""):
                    try:
                        row.label = int(label)
                    except (TypeError, ValueError):
                        raise DataError(f"{where}: label {label!r} must be the index of the right choice") from None
                    if not 0 <= row.label < len(row.choices):
                        raise DataError(f"{where}: label {row.label} is not a choice index 0..{len(row.choices) - 1}")
            elif label not in (None, ""):
                if isinstance(label, float) and label.is_integer():
                    label = int(label)
                row.label = str(label)
        rows.append(row)
    return rows


__all__ = ["TaskRow", "read_task_file", "TASK_COLUMNS", "LABEL_COLUMN"]
