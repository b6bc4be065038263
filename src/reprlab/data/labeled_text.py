"""Labelled texts for classification and probing: WordNet supersenses, bundled samples, TSV files.

A :class:`LabeledTexts` holds texts, integer labels, the label names, and one *item* key per text.
Splits are a fixed function of the item key (a hash), never of the order or of what else was
loaded: an item is in the same split on every machine, in every subset, for every task that
uses this module — so a gloss held out from pretraining is never seen in fine-tuning either.

Sources:

- :func:`wordnet_supersenses`: every WordNet gloss labelled with its lexicographer file (the
  45 supersenses such as ``noun.animal``; ``man 5 lexnames``), item = the synset
  (``noun.02084071``). Falls back to the bundled sample (3,200 glosses, 8 noun supersenses) when
  WordNet is not installed.
- :func:`wordnet_words_in_context`: WordNet's example sentences with the character span of the
  synset's word in them, labelled with the word's supersense (item = the word, so test words
  are unseen in training); bundled sample as fallback.
- :func:`read_labeled_tsv`: ``label<TAB>text`` lines (the bundled sample's format), item = the text.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from reprlab.data.text import _LEXNAMES, WORDNET_DIR, _lines, sample_path
from reprlab.errors import ConfigError, DataError, MissingDataError

log = logging.getLogger(__name__)

Split = Literal["train", "valid", "test"]
SPLITS: tuple[str, ...] = ("train", "valid", "test")
#: fraction of items in train / valid / test (by hash of the item key)
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
WORDNET_POS = ("noun", "verb", "adj", "adv")


def split_of(item: str) -> Split:
    """The fixed split of an item key: ``train`` / ``valid`` / ``test`` with probabilities 0.8 / 0.1 / 0.1.

    ``blake2b(item)`` read as a number in [0, 1): stable across machines, Python versions and subsets.
    """
    u = int.from_bytes(hashlib.blake2b(item.encode("utf-8"), digest_size=8).digest(), "big") / 2.0 ** 64
    return "train" if u < SPLIT_FRACTIONS[0] else "valid" if u < SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1] else "test"


@dataclass
class LabeledTexts:
    """Texts with labels, label names and item keys (and, for word-level tasks, character spans).

    Attributes
    ----------
    texts : list of str
    labels : LongTensor (N,)
        Indices into ``label_names``.
    label_names : tuple of str
        The same tuple for every split of one source.
    items : list of str
        One key per text; :meth:`split` is a function of it (see :func:`split_of`).
    spans : list of (int, int) or None
        Character ``[start, end)`` of the target word in each text (word-level tasks).
    name : str
        Where the data came from (shown in reports).
    """

    texts: list[str]
    labels: torch.Tensor
    label_names: tuple[str, ...]
    items: list[str]
    spans: list[tuple[int, int]] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        n = len(self.texts)
        if len(self.labels) != n or len(self.items) != n or (self.spans is not None and len(self.spans) != n):
            raise DataError(f"{self.name or 'labelled texts'}: {n} texts, {len(self.labels)} labels, "
                            f"{len(self.items)} items{'' if self.spans is None else f', {len(self.spans)} spans'}")
        if n and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(self.label_names)):
            raise DataError(f"{self.name}: labels must index label_names (0..{len(self.label_names) - 1})")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int] | torch.Tensor) -> LabeledTexts:
        idx = [int(i) for i in indices]
        return LabeledTexts([self.texts[i] for i in idx], self.labels[idx], self.label_names,
                            [self.items[i] for i in idx], None if self.spans is None else [self.spans[i] for i in idx],
                            self.name)

    def split(self, part: Split) -> LabeledTexts:
        """The texts whose item falls in ``part`` (``train``, ``valid`` or ``test``)."""
        if part not in SPLITS:
            raise ConfigError(f"split={part!r}: choose train, valid or test")
        out = self.subset([i for i, item in enumerate(self.items) if split_of(item) == part])
        out.name = f"{self.name} [{part}]"
        return out

    def counts(self) -> dict[str, int]:
        """Texts per label name (labels with no text included as 0)."""
        c = torch.bincount(self.labels, minlength=len(self.label_names)).tolist()
        return dict(zip(self.label_names, c))


def from_pairs(rows: Iterable[tuple[str, str, str]], name: str, label_names: Sequence[str] | None = None,
               spans: list[tuple[int, int]] | None = None) -> LabeledTexts:
    """:class:`LabeledTexts` from ``(label name, text, item)`` rows; label names sorted unless given."""
    rows = list(rows)
    names = tuple(label_names) if label_names is not None else tuple(sorted({r[0] for r in rows}))
    index = {n: i for i, n in enumerate(names)}
    missing = sorted({r[0] for r in rows} - set(index))
    if missing:
        raise DataError(f"{name}: labels {missing[:5]} are not among the label names given")
    return LabeledTexts([r[1] for r in rows], torch.tensor([index[r[0]] for r in rows], dtype=torch.long), names,
                        [r[2] for r in rows], spans, name)


def read_labeled_tsv(path: str | Path, *, name: str | None = None) -> LabeledTexts:
    """``label<TAB>text`` lines (blank lines skipped); item = the text, so duplicates share a split.

    Raises
    ------
    DataError
        A line without a tab, or an empty label or text (``file:line``).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"{path}: no such file; give a label<TAB>text file")
    rows = []
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        if not tab or not label.strip() or not text.strip():
            raise DataError(f"{path}:{lineno}: expected 'label<TAB>text' with both non-empty")
        rows.append((label.strip(), text.strip(), text.strip()))
    if not rows:
        raise DataError(f"{path}: no labelled lines")
    return from_pairs(rows, name or str(path))


def _synsets(directory: Path, pos: str) -> Iterable[tuple[str, int, list[str], str]]:
    """(offset, lexicographer file number, words, gloss) of every synset line of ``data.<pos>``."""
    for _, line in _lines(directory / f"data.{pos}"):
        if line.startswith("  ") or " | " not in line:
            continue
        head, gloss = line.split(" | ", 1)
        fields = head.split()
        n_words = int(fields[3], 16)
        words = [re.sub(r"\(.*\)$", "", w) for w in fields[4:4 + 2 * n_words:2]]  # drop adjective markers
        yield fields[0], int(fields[1]), words, gloss.strip()


def _wordnet_dir(directory: str | Path | None) -> Path | None:
    d = Path(directory) if directory else WORDNET_DIR
    if (d / "data.noun").is_file():
        return d
    if directory:
        raise MissingDataError(f"WordNet not found at {d} (no data.noun); give the directory holding "
                               "data.{noun,verb,adj,adv}")
    return None


def _cap(rows: list, max_per_label: int | None) -> list:
    """At most ``max_per_label`` rows per label, chosen by a salted hash of (item, text): subset-stable,
    and independent of the split hash (an unsalted one would keep mostly training items)."""
    if not max_per_label:
        return rows
    key = lambda r: hashlib.blake2b(f"{r[2]}\t{r[1]}".encode(), digest_size=8, person=b"cap").digest()  # noqa: E731
    kept: dict[str, list] = {}
    for r in sorted(rows, key=key):
        bucket = kept.setdefault(r[0], [])
        if len(bucket) < max_per_label:
            bucket.append(r)
    keep = {id(r) for b in kept.values() for r in b}
    return [r for r in rows if id(r) in keep]


def _select(rows: list, labels: Sequence[str] | None, max_per_label: int | None) -> list:
    if labels is not None:
        unknown = sorted(set(labels) - set(_LEXNAMES))
        if unknown:
            raise ConfigError(f"labels {unknown}: not WordNet supersenses; choose from {', '.join(_LEXNAMES)}")
        rows = [r for r in rows if r[0] in set(labels)]
    return _cap(rows, max_per_label)


def wordnet_supersenses(directory: str | Path | None = None, *, pos: Sequence[str] = WORDNET_POS,
                        labels: Sequence[str] | None = None, max_per_label: int | None = None,
                        fallback: bool = True) -> LabeledTexts:
    """WordNet glosses labelled with their supersense (lexicographer file), item = the synset.

    Parameters
    ----------
    directory : path, optional
        Holds ``data.{noun,verb,adj,adv}`` (default ``/usr/share/wordnet``, Debian ``wordnet-base``).
    pos : parts of speech to read.
    labels : supersense names to keep (default: all that occur).
    max_per_label : keep at most this many glosses per supersense (chosen by item hash, so a
        smaller cap gives a subset of a larger one).
    fallback : when WordNet is not installed (and no directory was given), read the bundled
        sample (3,200 glosses of 8 noun supersenses) instead, with a warning; ``False`` raises.

    Raises
    ------
    MissingDataError
        WordNet absent and ``fallback=False`` (the message names the install command).
    """
    bad = sorted(set(pos) - set(WORDNET_POS))
    if bad:
        raise ConfigError(f"pos={list(pos)!r}: choose from {', '.join(WORDNET_POS)}")
    d = _wordnet_dir(directory)
    if d is None:
        if not fallback:
            raise MissingDataError("WordNet not found at /usr/share/wordnet; install it with 'apt-get install "
                                   "--no-install-recommends wordnet-base' or pass its directory")
        log.warning("WordNet is not installed: using the bundled sample of 3,200 glosses (8 noun supersenses); "
                    "apt-get install --no-install-recommends wordnet-base for all 117,659")
        sample = read_labeled_tsv(sample_path("glosses_labeled.tsv"), name="bundled WordNet sample")
        rows = _select([(sample.label_names[int(y)], t, i) for y, t, i in
                        zip(sample.labels, sample.texts, sample.items) if sample.label_names[int(y)].split(".")[0] in pos],
                       labels, max_per_label)
        return from_pairs(rows, sample.name)
    rows = [(_LEXNAMES[lex], gloss, f"{p}.{offset}") for p in pos for offset, lex, _, gloss in _synsets(d, p)]
    return from_pairs(_select(rows, labels, max_per_label), f"WordNet glosses ({d})")


_QUOTED = re.compile(r'"([^"]+)"')
_WORD = re.compile(r"[A-Za-z]+")
_ENDINGS = ("", "s", "es", "ed", "d", "ing")


def _find_lemma(text: str, lemmas: list[str]) -> tuple[str, tuple[int, int]] | None:
    """The first lemma (in the synset's order) that occurs in ``text`` as a whole word, maybe inflected."""
    words = [(m.group().lower(), m.span()) for m in _WORD.finditer(text)]
    for lemma in lemmas:
        forms = {lemma + e for e in _ENDINGS}
        for word, span in words:
            if word in forms:
                return lemma, span
    return None


def wordnet_words_in_context(directory: str | Path | None = None, *, pos: Sequence[str] = ("noun", "verb"),
                             max_per_label: int | None = None, fallback: bool = True) -> LabeledTexts:
    """WordNet example sentences with the span of the synset's word, labelled by its supersense.

    For every synset of ``pos`` and every quoted example in its gloss, the first single-word lemma
    of the synset that occurs in the example as a whole word (optionally with -s, -es, -ed, -d,
    -ing) gives one row: text = the example, span = that word's characters, label = the synset's
    supersense, item = the lemma (so the test split holds words never seen in training).
    The bundled sample ``words_in_context.tsv`` (made by ``scripts/make_samples.py``) is the fallback.
    """
    d = _wordnet_dir(directory)
    if d is None:
        if not fallback:
            raise MissingDataError("WordNet not found at /usr/share/wordnet; install it with 'apt-get install "
                                   "--no-install-recommends wordnet-base' or pass its directory")
        log.warning("WordNet is not installed: using the bundled words-in-context sample")
        return read_words_in_context(sample_path("words_in_context.tsv"), max_per_label=max_per_label)
    rows, spans = [], []
    for p in pos:
        for _, lex, words, gloss in _synsets(d, p):
            lemmas = [w.lower() for w in words if "_" not in w and w.isalpha()]
            if not lemmas:
                continue
            for example in (e.strip() for e in _QUOTED.findall(gloss)):
                found = _find_lemma(example, lemmas)
                if found is not None:
                    rows.append((_LEXNAMES[lex], example, found[0]))
                    spans.append(found[1])
    return _with_spans(rows, spans, max_per_label, f"WordNet examples ({d})")


def _with_spans(rows: list, spans: list, max_per_label: int | None, name: str) -> LabeledTexts:
    keep = {id(r) for r in _cap(rows, max_per_label)}
    pairs = [(r, s) for r, s in zip(rows, spans) if id(r) in keep]
    return from_pairs([r for r, _ in pairs], name, spans=[s for _, s in pairs])


def read_words_in_context(path: str | Path, *, max_per_label: int | None = None) -> LabeledTexts:
    """``label<TAB>word<TAB>start<TAB>end<TAB>text`` lines (the bundled sample's format)."""
    path = Path(path)
    rows, spans = [], []
    for lineno, line in _lines(path):
        if not line.strip():
            continue
        parts = line.split("\t")
        try:
            label, word, start, end, text = parts
            span = (int(start), int(end))
        except ValueError:
            raise DataError(f"{path}:{lineno}: expected label, word, start, end, text separated by tabs") from None
        if not 0 <= span[0] < span[1] <= len(text):
            raise DataError(f"{path}:{lineno}: span {span} lies outside the text ({len(text)} characters)")
        rows.append((label, text, word))
        spans.append(span)
    return _with_spans(rows, spans, max_per_label, f"bundled words in context ({path.name})")


__all__ = ["LabeledTexts", "split_of", "SPLITS", "SPLIT_FRACTIONS", "from_pairs", "read_labeled_tsv",
           "wordnet_supersenses", "wordnet_words_in_context", "read_words_in_context"]
