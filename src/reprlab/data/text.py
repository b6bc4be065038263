"""Text corpora, streamed: plain text (one sentence per line, blank line between documents),
JSONL with a text field, and directories of such files.

Nothing here loads a whole corpus into memory: readers are generators over lines. Bad bytes are
reported with the file and line number (``DataError``), never as a bare ``UnicodeDecodeError``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from reprlab.errors import DataError, MissingDataError

TEXT_SUFFIXES = (".txt", ".text", ".jsonl", ".tsv")
WORDNET_DIR = Path("/usr/share/wordnet")
BIBLE_COMMAND = "bible"  # Debian bible-kjv: prints the King James Version from /usr/lib/bible.data


def sample_path(name: str) -> Path:
    """Path of a file bundled in ``reprlab/data/samples`` (small corpora for demos and tests)."""
    path = Path(str(resources.files("reprlab.data") / "samples" / name))
    if not path.is_file():
        raise MissingDataError(f"bundled sample {name!r} is missing from {path.parent}; reinstall reprlab")
    return path


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every text-like file below a named directory (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in TEXT_SUFFIXES)
        elif p.is_file():
            out.append(p)
        else:
            raise MissingDataError(f"{p}: no such file or directory")
    if not out:
        raise DataError(f"no text files found in {', '.join(map(str, paths)) or '(nothing given)'}")
    return out


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                yield lineno, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{lineno}: not valid UTF-8 ({e.reason} at byte {e.start}); "
                                "re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


def jsonl_records(lines: Iterable[tuple[int, str]], path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of a JSONL file; bad lines as ``file:line``."""
    for lineno, line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg}); one JSON object per line") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def _jsonl_texts(path: Path, text_field: str) -> Iterator[str]:
    for lineno, obj in jsonl_records(_lines(path), path):
        if not isinstance(obj.get(text_field), str):
            raise DataError(f"{path}:{lineno}: expected an object with a string field {text_field!r}; "
                            "pass text_field=... (--text-field) to name another field")
        yield obj[text_field]


# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket) when whitespace and
# then an upper-case letter, a digit or an opening quote/bracket follow.
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]*[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split running text into sentences with a simple rule (no abbreviation list).

    Lines are split first; within a line a sentence ends at ``.``, ``!`` or ``?`` (plus any closing
    quotes/brackets) followed by whitespace and an upper-case letter, digit or opening quote.
    "Mr. Smith" is therefore split after "Mr." and "e.g. the" is not split; use one sentence per
    line (plain text) when that matters.

    >>> split_sentences("It was late. Who knew? \"Not I.\" he said.\nNew line")
    ['It was late.', 'Who knew?', '"Not I." he said.', 'New line']
    """
    out = []
    for line in text.splitlines():
        pos = 0
        for m in _SENTENCE_END.finditer(line):
            out.append(line[pos:m.end(1)].strip())
            pos = m.end()
        out.append(line[pos:].strip())
    return [s for s in out if s]


def iter_documents(paths: Iterable[str | Path], text_field: str = "text",
                   sentence_splitter: Callable[[str], list[str]] | None = None) -> Iterator[list[str]]:
    """Yield documents as lists of non-empty lines (sentences).

    Plain text: one sentence per line, blank lines separate documents. JSONL: each record is one
    document, its text split on newlines, or by ``sentence_splitter`` (e.g. :func:`split_sentences`).
    """
    for path in expand_paths(paths):
        if path.suffix == ".jsonl":
            for text in _jsonl_texts(path, text_field):
                if sentence_splitter is not None:
                    sentences = sentence_splitter(text)
                else:
                    sentences = [s.strip() for s in text.splitlines() if s.strip()]
                if sentences:
                    yield sentences
            continue
        doc: list[str] = []
        for _, line in _lines(path):
            if line.strip():
                doc.append(line.strip())
            elif doc:
                yield doc
                doc = []
        if doc:
            yield doc


def iter_lines(paths: Iterable[str | Path], text_field: str = "text") -> Iterator[str]:
    """Yield every non-empty sentence/line of a corpus, streaming (for tokenizer training)."""
    for doc in iter_documents(paths, text_field):
        yield from doc


_VERSE = re.compile(r"^(\S+?)(\d+):(\d+) (.*)$")  # "Ge1:1 In the beginning ..." (bible -f output)


def kjv_chapters(path: str | Path | None = None) -> Iterator[tuple[str, list[str]]]:
    """``(reference, verses)`` for each chapter of the King James Bible, in canonical order.

    Chapters are documents and verses sentences (1,189 chapters, 31,102 verses). Reads the output
    of ``bible -f "gen1:1-rev22:21"`` (Debian ``bible-kjv``), or a file ``path`` in that format:
    one verse per line, ``<book><chapter>:<verse> <text>``, e.g. ``Ge1:1 In the beginning ...``.
    """
    if path is not None:
        lines: Iterable[tuple[int, str]] = _lines(Path(path))
        where = str(path)
    else:
        exe = shutil.which(BIBLE_COMMAND)
        if exe is None:
            raise MissingDataError("the King James Bible is not installed; install it with "
                                   "'apt-get install -y bible-kjv' (or use the bundled sample 'kjv-sample')")
        run = subprocess.run([exe, "-f", "-m", "8192", "gen1:1-rev22:21"], stdin=subprocess.DEVNULL,
                             capture_output=True, check=False)
        if run.returncode != 0 or not run.stdout:
            raise MissingDataError(f"'{exe} -f gen1:1-rev22:21' failed ({run.stderr.decode(errors='replace')[:200]}); "
                                   "reinstall bible-kjv")
        lines = enumerate(run.stdout.decode("utf-8", errors="replace").splitlines(), 1)
        where = BIBLE_COMMAND
    ref: str = ""
    verses: list[str] = []
    for lineno, line in lines:
        if not line.strip():
            continue
        m = _VERSE.match(line)
        if m is None:
            raise DataError(f"{where}:{lineno}: expected '<book><chapter>:<verse> <text>' (bible -f format), "
                            f"got {line[:60]!r}")
        chapter = f"{m.group(1)}{m.group(2)}"
        if chapter != ref:
            if verses:
                yield ref, verses
            ref, verses = chapter, []
        verses.append(m.group(4).strip())
    if verses:
        yield ref, verses


def wordnet_glosses(directory: str | Path | None = None) -> Iterator[tuple[str, str]]:
    """``(supersense, gloss)`` pairs from WordNet's ``data.{noun,verb,adj,adv}`` files.

    The supersense is the lexicographer file (e.g. ``noun.animal``), a 45-way topic label.
    Install with ``apt-get install --no-install-recommends wordnet-base``.
    """
    d = Path(directory) if directory else WORDNET_DIR
    if not (d / "data.noun").is_file():
        raise MissingDataError(f"WordNet not found at {d}; install it with "
                               "'apt-get install --no-install-recommends wordnet-base' or pass its directory")
    names = _LEXNAMES
    for pos in ("noun", "verb", "adj", "adv"):
        for _, line in _lines(d / f"data.{pos}"):
            if line.startswith("  ") or " | " not in line:
                continue
            fields = line.split(" ", 2)
            gloss = line.split(" | ", 1)[1].strip()
            yield names[int(fields[1])], gloss


_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
    "adj.ppl").split()
