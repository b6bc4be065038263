"""Corpus -> memory-mapped token shards plus a document/sentence index (``reprlab pretrain prepare``).

A shard directory (written to a temporary directory beside the target, then renamed)::

    SHARDS/
      meta.json             format, tokenizer (kind, vocab size, vocabulary SHA-256, special ids),
                            the arrays and their element kind, counts per split and shard, checksums,
                            the command that wrote it
      tokenizer/            a copy of the tokenizer (reprlab's format)
      train/00000/          one directory per shard; shards hold whole documents
        tokens.npy          (N,)   token ids, sentences back to back, no special tokens
                                   (uint16 when the vocabulary fits, else uint32)
        word_start.npy      (N,)   uint8, 1 where a token starts a word (the tokenizer's word_ids):
                                   whole-word masking groups, for every tokenizer
        caps.npy            (N,)   uint8, 1 on the first piece of a word whose raw (cased) text starts
                                   with an upper- or title-case letter: the labels of ERNIE 2.0's
                                   capitalization task (reprlab.pretrain.auxiliary)
        sentences.npy       (S+1,) int64 offsets of the sentences into tokens
        documents.npy       (D+1,) int64 offsets of the documents into sentences
      valid/00000/ ...      the held-out documents (``valid_fraction``), same layout

Arrays are listed in ``meta.json["arrays"]`` with what they are indexed by (``per``: ``token``,
``sentence+1`` or ``document+1``): later stages add named side arrays (phrase and entity spans,
labels from the raw text) by listing them there and writing them with :class:`ShardWriter`.

Preparation streams: documents are read one at a time, tokenized in worker processes in chunks
(results consumed in input order, at most a few chunks in flight), and a shard is written as soon
as it holds ``shard_tokens`` tokens, so memory is bounded by one shard, not by the corpus. The bytes
written depend only on the corpus, the tokenizer, ``valid_fraction``, ``seed`` and ``shard_tokens``,
never on ``workers``.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reprlab.errors import ConfigError, DataError, MissingDataError

log = logging.getLogger(__name__)

FORMAT = "reprlab-pretrain-shards"
VERSION = 1
SPLITS = ("train", "valid")
ROLES = ("cls", "sep", "mask", "pad", "unk", "bos", "eos")
#: Per-token arrays every shard holds (``tokens`` is stored as uint16/uint32, see :func:`token_dtype`).
DEFAULT_ARRAYS = {"tokens": np.uint32, "word_start": np.uint8, "caps": np.uint8}
_ROLE_TOKENS = {  # candidates for tokenizers that do not name their special tokens (BPE)
    "cls": ("<s>", "[CLS]"), "sep": ("</s>", "[SEP]"), "mask": ("<mask>", "[MASK]"), "pad": ("<pad>", "[PAD]"),
    "unk": ("<unk>", "[UNK]"), "bos": ("<s>", "<|endoftext|>"), "eos": ("</s>", "<|endoftext|>"),
}


# ----------------------------------------------------------------------------------- tokenizer facts
def vocab_hash(tokenizer: Any) -> str:
    """SHA-256 of the vocabulary: every token in id order, one per line (``sha256:<hex>``)."""
    tokens = [t for t, _ in sorted(tokenizer.vocab.items(), key=lambda kv: kv[1])]
    return "sha256:" + hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()


def special_token_ids(tokenizer: Any) -> dict[str, int | None]:
    """Ids of the roles in :data:`ROLES` (``None`` when the vocabulary has no such token)."""
    params = getattr(tokenizer, "parameters", {})
    out: dict[str, int | None] = {}
    for role in ROLES:
        named = params.get(f"{role}_token")
        candidates = ((named,) if isinstance(named, str) else ()) + _ROLE_TOKENS[role]
        out[role] = next((tokenizer.vocab[t] for t in candidates if t in tokenizer.vocab), None)
    return out


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits, else uint32."""
    return np.dtype(np.uint16 if vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32)


# ----------------------------------------------------------------------------------- tokenizing
@dataclass
class EncodedDocument:
    """One document after tokenization: arrays per token plus its sentence lengths."""

    arrays: dict[str, np.ndarray]  # per-token arrays, e.g. tokens, word_start
    sentence_lengths: np.ndarray   # (S,) tokens per sentence
    side: dict[str, Any] = field(default_factory=dict)  # per-document data for ``collect``, never written


DocumentEncoder = Callable[[Any, list[str]], EncodedDocument | None]


def encode_document(tokenizer: Any, sentences: list[str]) -> EncodedDocument | None:
    """Token ids, word starts and capitals of one document; sentences that tokenize to nothing are dropped.

    ``word_start`` comes from the tokenizer's ``word_ids`` (a new word where the id changes, and at
    every sentence start), so whole-word masking works for WordPiece and byte-level BPE alike.
    ``caps`` marks the first piece of every word whose raw text starts with a capital, found through
    the token offsets into the raw sentence (:func:`reprlab.pretrain.auxiliary.capitalization_flags`).
    """
    from reprlab.pretrain.auxiliary import capitalization_flags

    ids: list[int] = []
    words: list[int] = []
    caps: list[np.ndarray] = []
    lengths = []
    for sentence in sentences:
        enc = tokenizer.encode_sequence(sentence)
        if enc.ids:
            ids += enc.ids
            words += enc.word_ids
            caps.append(capitalization_flags(sentence, enc.offsets, enc.word_ids))
            lengths.append(len(enc.ids))
    if not lengths:
        return None
    w = np.asarray(words, dtype=np.int64)
    starts = np.ones(len(w), dtype=np.uint8)
    starts[1:] = w[1:] != w[:-1]
    starts[np.cumsum(lengths[:-1], dtype=np.int64)] = 1  # word ids restart in every sentence
    return EncodedDocument(arrays={"tokens": np.asarray(ids, dtype=np.int64), "word_start": starts,
                                   "caps": np.concatenate(caps)},
                           sentence_lengths=np.asarray(lengths, dtype=np.int64))


_WORKER: dict[str, Any] = {}


def _init_worker(tokenizer_dir: str, encode: DocumentEncoder) -> None:
    from reprlab.tokenizers.loading import load_tokenizer

    _WORKER["tokenizer"] = load_tokenizer(tokenizer_dir)
    _WORKER["encode"] = encode


def _encode_chunk(docs: list[list[str]]) -> list[EncodedDocument | None]:
    tok, encode = _WORKER["tokenizer"], _WORKER["encode"]
    return [encode(tok, d) for d in docs]


def _ordered_map(chunks: Iterable[list[list[str]]], workers: int, init_args: tuple) -> Iterator[list]:
    """``_encode_chunk`` over ``chunks`` in input order, with at most ``2 * workers`` chunks in flight."""
    if workers <= 1:
        _init_worker(*init_args)
        for chunk in chunks:
            yield _encode_chunk(chunk)
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with mp.get_context(method).Pool(workers, _init_worker, init_args) as pool:
        pending: collections.deque = collections.deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_encode_chunk, (chunk,)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _chunks(docs: Iterable[list[str]], size: int) -> Iterator[list[list[str]]]:
    chunk: list[list[str]] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _mix64(x: int) -> int:
    """SplitMix64 finalizer on Python ints (a fixed hash, the same on every platform)."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def is_held_out(document_index: int, valid_fraction: float, seed: int) -> bool:
    """Whether document number ``document_index`` (corpus order) goes to the valid split.

    A fixed hash of (seed, index) below ``valid_fraction``: deterministic, streaming, independent
    of the worker count; the realised fraction is close to, not exactly, ``valid_fraction``.
    """
    return _mix64(_mix64(seed) ^ document_index) / 2.0**64 < valid_fraction


# ----------------------------------------------------------------------------------- writing
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _save_npy(path: Path, array: np.ndarray) -> str:
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    return _sha256(path)


class ShardWriter:
    """Accumulate encoded documents of one split and write a shard every ``shard_tokens`` tokens.

    Parameters
    ----------
    root : Path
        The split directory (``SHARDS/train``); shards go to ``root/00000``, ``root/00001``, ...
    arrays : dict
        Array name -> (index kind, numpy dtype) of every per-token array, ``tokens`` included.
    shard_tokens : int
        A shard is closed once it holds at least this many tokens (documents are never split).
    """

    def __init__(self, root: Path, arrays: dict[str, tuple[str, np.dtype]], shard_tokens: int):
        self.root, self.arrays, self.shard_tokens = root, arrays, shard_tokens
        self.shards: list[dict[str, Any]] = []
        self._reset()

    def _reset(self) -> None:
        self._parts: dict[str, list[np.ndarray]] = {n: [] for n, (per, _) in self.arrays.items() if per == "token"}
        self._lengths: list[np.ndarray] = []
        self._docs: list[int] = []  # sentences per document
        self._tokens = 0

    def add(self, doc: EncodedDocument) -> None:
        for name in self._parts:
            self._parts[name].append(doc.arrays[name])
        self._lengths.append(doc.sentence_lengths)
        self._docs.append(len(doc.sentence_lengths))
        self._tokens += int(doc.sentence_lengths.sum())
        if self._tokens >= self.shard_tokens:
            self.flush()

    def flush(self) -> None:
        if not self._docs:
            return
        name = f"{len(self.shards):05d}"
        d = self.root / name
        d.mkdir(parents=True)
        lengths = np.concatenate(self._lengths)
        arrays = {n: np.concatenate(parts).astype(self.arrays[n][1]) for n, parts in self._parts.items()}
        arrays["sentences"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        arrays["documents"] = np.concatenate([[0], np.cumsum(self._docs)]).astype(np.int64)
        sums = {f"{n}.npy": _save_npy(d / f"{n}.npy", a) for n, a in sorted(arrays.items())}
        self.shards.append({"name": name, "documents": len(self._docs), "sentences": int(len(lengths)),
                            "tokens": self._tokens,
                            "multi_sentence_documents": int(sum(n >= 2 for n in self._docs)), "sha256": sums})
        self._reset()

    def summary(self) -> dict[str, Any]:
        total = {k: sum(s[k] for s in self.shards) for k in ("documents", "sentences", "tokens",
                                                              "multi_sentence_documents")}
        return {**total, "shards": self.shards}


# ----------------------------------------------------------------------------------- prepare
@dataclass
class PrepareConfig:
    """What ``reprlab pretrain prepare`` does (every field has a flag of the same name)."""

    corpus: list[str] = field(default_factory=list)  # files, directories or named corpora (corpus.NAMED_CORPORA)
    tokenizer: str = ""        # tokenizer directory (reprlab tokenizer train -o DIR)
    output: str = ""           # shard directory to create
    valid_fraction: float = 0.05  # share of documents held out (chosen by a fixed hash of seed and index)
    seed: int = 0              # seeds the held-out choice
    workers: int = 0           # tokenizer processes; 0 = one per available core
    shard_tokens: int = 1 << 24  # a shard closes after this many tokens (memory is bounded by one shard)
    docs_per_task: int = 64    # documents sent to a worker at once
    text_field: str = "text"   # JSONL field holding a document's text
    overwrite: bool = False    # replace an existing output directory

    def validate(self) -> None:
        if not self.corpus:
            raise ConfigError("prepare: no corpus given; pass files, directories or a named corpus "
                              "(kjv, kjv-sample, wordnet, wordnet-sample)")
        if not self.tokenizer:
            raise ConfigError("prepare: --tokenizer DIR is required (train one with `reprlab tokenizer train`)")
        if not self.output:
            raise ConfigError("prepare: -o SHARDS_DIR is required")
        if not 0.0 <= self.valid_fraction < 1.0:
            raise ConfigError(f"valid_fraction={self.valid_fraction}: must be in [0, 1)")
        if self.shard_tokens < 1 or self.docs_per_task < 1 or self.workers < 0:
            raise ConfigError("shard_tokens and docs_per_task must be >= 1 and workers >= 0")
        out = Path(self.output)
        if out.exists() and any(out.iterdir()) and not self.overwrite:
            raise ConfigError(f"{out}: already exists; pass --overwrite to replace it or choose another -o")


@dataclass
class PrepareResult:
    output: Path
    meta: dict[str, Any]
    seconds: float

    @property
    def tokens(self) -> int:
        return sum(self.meta["splits"][s]["tokens"] for s in SPLITS)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def prepare_shards(config: PrepareConfig, *, encode: DocumentEncoder = encode_document,
                   extra_arrays: dict[str, str] | None = None, command: Sequence[str] | None = None,
                   collect: Callable[[EncodedDocument], None] | None = None,
                   finish: Callable[[Path, dict[str, Any], dict[str, tuple[str, np.dtype]]], dict[str, Any]] | None
                   = None) -> PrepareResult:
    """Tokenize a corpus into train/valid shards (see the module docstring for the layout).

    Parameters
    ----------
    config : PrepareConfig
    encode : callable
        ``encode(tokenizer, sentences) -> EncodedDocument | None``; the default gives ``tokens``,
        ``word_start`` and ``caps`` (:data:`DEFAULT_ARRAYS`), which every encoder must return. A
        stage that stores more per-token arrays passes its own (picklable, top level) function
        and names the arrays' dtypes in ``extra_arrays``.
    extra_arrays : dict, optional
        Name -> numpy dtype of extra per-token arrays ``encode`` returns.
    command : sequence of str, optional
        Recorded in ``meta.json`` (default: ``sys.argv``).
    collect : callable, optional
        ``collect(doc)``, called in this process on every non-empty document in corpus order before
        it is written; it may read ``doc.side`` and add per-token arrays (named in ``extra_arrays``).
    finish : callable, optional
        ``finish(directory, splits, arrays) -> dict``, called once every shard is written (in the
        temporary directory, before ``meta.json``): a stage that needs corpus-wide statistics of the
        tokenized corpus rewrites shard arrays here instead of tokenizing twice. It must keep each
        shard's ``sha256`` entries (in ``splits``) and ``arrays`` (name -> (per, dtype), listed in
        ``meta.json``) in step with the files; it returns more top-level ``meta.json`` entries (e.g.
        the span detector's settings and counts).

    Raises
    ------
    DataError
        An empty corpus, or a valid split that came out empty.
    MissingDataError, ConfigError
        Missing inputs or bad parameters.
    """
    from reprlab.io import atomic_dir, write_json
    from reprlab.pretrain.corpus import iter_corpus
    from reprlab.tokenizers.loading import load_tokenizer

    config.validate()
    out = Path(config.output)
    tokenizer: Any = load_tokenizer(config.tokenizer)
    dtype = token_dtype(tokenizer.vocab_size)
    arrays = {name: ("token", np.dtype(dt)) for name, dt in DEFAULT_ARRAYS.items()}
    arrays["tokens"] = ("token", dtype)
    for name, dt in (extra_arrays or {}).items():
        arrays[name] = ("token", np.dtype(dt))
    workers = config.workers or available_cores()
    t0 = time.perf_counter()
    with atomic_dir(out) as tmp:
        writers = {s: ShardWriter(tmp / s, arrays, config.shard_tokens) for s in SPLITS}
        raw = iter_corpus(config.corpus, text_field=config.text_field)
        index = 0
        empty = 0
        for results in _ordered_map(_chunks(raw, config.docs_per_task), workers, (config.tokenizer, encode)):
            for doc in results:
                if doc is None:
                    empty += 1
                else:
                    split = "valid" if is_held_out(index, config.valid_fraction, config.seed) else "train"
                    if collect is not None:
                        collect(doc)
                    writers[split].add(doc)
                index += 1
        for w in writers.values():
            w.flush()
        splits = {s: w.summary() for s, w in writers.items()}
        where = ", ".join(map(str, config.corpus))
        if splits["train"]["tokens"] == 0:
            raise DataError(f"{where}: the corpus is empty (no document produced any token); pass text with "
                            "one sentence per line, or JSONL with a 'text' field")
        if config.valid_fraction > 0 and splits["valid"]["documents"] == 0:
            raise DataError(f"{where}: no document landed in the valid split ({index} documents, "
                            f"valid_fraction={config.valid_fraction}); raise --valid-fraction or pass "
                            "--valid-fraction 0")
        finished = finish(tmp, splits, arrays) if finish is not None else {}
        tokenizer.save_pretrained(tmp / "tokenizer")
        meta = {
            "format": FORMAT, "version": VERSION,
            "tokenizer": {"kind": type(tokenizer).__name__, "vocab_size": tokenizer.vocab_size,
                          "vocab_hash": vocab_hash(tokenizer), "special_ids": special_token_ids(tokenizer),
                          "source": str(config.tokenizer)},
            "token_dtype": dtype.name,
            "arrays": {**{n: {"per": per, "dtype": dt.name} for n, (per, dt) in arrays.items()},
                       "sentences": {"per": "sentence+1", "dtype": "int64"},
                       "documents": {"per": "document+1", "dtype": "int64"}},
            "splits": splits, "corpus": list(config.corpus), "documents_read": index,
            "documents_empty": empty, "valid_fraction": config.valid_fraction, "seed": config.seed,
            "shard_tokens": config.shard_tokens, "command": list(command if command is not None else sys.argv),
            **finished,
        }
        write_json(tmp / "meta.json", meta)
    return PrepareResult(output=out, meta=meta, seconds=time.perf_counter() - t0)


# ----------------------------------------------------------------------------------- reading
def _fix(directory: Path) -> str:
    return f"re-run `reprlab pretrain prepare ... -o {directory} --overwrite` to rebuild it"


def read_meta(directory: str | Path) -> dict[str, Any]:
    """``meta.json`` of a shard directory, checked for format and version."""
    d = Path(directory)
    path = d / "meta.json"
    if not path.is_file():
        if not d.is_dir():
            raise MissingDataError(f"{d}: no such shard directory; create it with `reprlab pretrain prepare`")
        raise DataError(f"{path}: missing; {d} is not a complete shard directory ({_fix(d)})")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: corrupt JSON ({e}); {_fix(d)}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path}: not a reprlab pretraining shard index (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise DataError(f"{path}: shard format version {meta.get('version')} but this reprlab reads {VERSION}; "
                        f"{_fix(d)}")
    return meta


class Shard:
    """The arrays of one shard, memory-mapped on first use.

    Parameters
    ----------
    path : Path
        The shard directory (``SHARDS/train/00000``).
    info : dict
        Its entry in ``meta.json`` (counts and checksums).
    arrays : dict
        ``meta.json["arrays"]``.
    verify : bool
        Check every file's SHA-256 against ``meta.json`` when it is first opened.
    """

    def __init__(self, path: Path, info: dict[str, Any], arrays: dict[str, Any], verify: bool = True):
        self.path, self.info, self.arrays_meta, self.verify = path, info, arrays, verify
        self._arrays: dict[str, np.ndarray] = {}

    def array(self, name: str) -> np.ndarray:
        """The named array (read-only memory map), its length and checksum verified."""
        if name in self._arrays:
            return self._arrays[name]
        if name not in self.arrays_meta:
            raise DataError(f"{self.path}: no array {name!r}; the shards hold {sorted(self.arrays_meta)}")
        file = self.path / f"{name}.npy"
        fix = _fix(self.path.parents[1])
        if not file.is_file():
            raise DataError(f"{file}: missing; {fix}")
        if self.verify and _sha256(file) != self.info["sha256"].get(f"{name}.npy"):
            raise DataError(f"{file}: checksum differs from meta.json (corrupted or truncated); {fix}")
        try:
            arr = np.load(file, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise DataError(f"{file}: unreadable ({e}); {fix}") from None
        per = self.arrays_meta[name]["per"]
        expected = {"token": self.info["tokens"], "sentence+1": self.info["sentences"] + 1,
                    "document+1": self.info["documents"] + 1}.get(per)
        if arr.ndim < 1 or (expected is not None and len(arr) != expected):
            raise DataError(f"{file}: holds {len(arr) if arr.ndim else 0} entries, meta.json says {expected}; {fix}")
        self._arrays[name] = arr
        return arr


class ShardSet:
    """One split of a shard directory, read lazily: a virtual token array over all its shards.

    Global token offsets run across shards in order; sentence and document boundaries are held as
    global offset arrays (O(sentences) memory), token arrays stay on disk and are read by range.

    Parameters
    ----------
    directory : str or Path
        Written by :func:`prepare_shards`.
    split : {"train", "valid"}
    verify : bool
        Verify checksums of every array when first read (a flipped byte is an error, not bad data).

    Raises
    ------
    MissingDataError, DataError
        Missing directory, corrupt or truncated index or shard (the file and the fix are named).
    """

    def __init__(self, directory: str | Path, split: str = "train", *, verify: bool = True):
        if split not in SPLITS:
            raise ConfigError(f"split={split!r}: choose one of {SPLITS}")
        self.directory = Path(directory)
        self.split = split
        self.meta = read_meta(self.directory)
        info = self.meta["splits"].get(split)
        if info is None:
            raise DataError(f"{self.directory / 'meta.json'}: no {split!r} split; {_fix(self.directory)}")
        self.info = info
        self.shards = [Shard(self.directory / split / s["name"], s, self.meta["arrays"], verify) for s in info["shards"]]
        self.token_offsets = np.concatenate([[0], np.cumsum([s["tokens"] for s in info["shards"]])]).astype(np.int64)
        sent, docs, sentence_base = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)], 0
        for shard, base in zip(self.shards, self.token_offsets[:-1]):
            s = np.asarray(shard.array("sentences"), dtype=np.int64)
            d = np.asarray(shard.array("documents"), dtype=np.int64)
            if (s[0] != 0 or np.any(np.diff(s) <= 0) or s[-1] != shard.info["tokens"] or d[0] != 0
                    or np.any(np.diff(d) <= 0) or d[-1] != len(s) - 1):
                raise DataError(f"{shard.path}: sentence/document offsets are inconsistent; {_fix(self.directory)}")
            sent.append(s[1:] + base)
            docs.append(d[1:] + sentence_base)
            sentence_base += len(s) - 1
        self.sentence_offsets = np.concatenate(sent)  # (S+1,) global token offset of each sentence
        self.document_offsets = np.concatenate(docs)  # (D+1,) global sentence index of each document

    # -- sizes ------------------------------------------------------------------------------
    @property
    def num_tokens(self) -> int:
        return int(self.token_offsets[-1])

    @property
    def num_sentences(self) -> int:
        return len(self.sentence_offsets) - 1

    @property
    def num_documents(self) -> int:
        return len(self.document_offsets) - 1

    @property
    def vocab_size(self) -> int:
        return int(self.meta["tokenizer"]["vocab_size"])

    @property
    def vocab_hash(self) -> str:
        return str(self.meta["tokenizer"]["vocab_hash"])

    @property
    def special_ids(self) -> dict[str, int | None]:
        return dict(self.meta["tokenizer"]["special_ids"])

    def document_token_offsets(self) -> np.ndarray:
        """(D+1,) global token offset where each document starts (and the end)."""
        return self.sentence_offsets[self.document_offsets]

    # -- reading ----------------------------------------------------------------------------
    def read(self, name: str, lo: int, hi: int) -> np.ndarray:
        """Global tokens ``[lo, hi)`` of per-token array ``name`` (copied, int64 for tokens)."""
        if not 0 <= lo <= hi <= self.num_tokens:
            raise IndexError(f"token range [{lo}, {hi}) outside [0, {self.num_tokens})")
        first = int(np.searchsorted(self.token_offsets, lo, side="right")) - 1
        parts = []
        while lo < hi:
            base, end = int(self.token_offsets[first]), int(self.token_offsets[first + 1])
            take = min(hi, end)
            parts.append(np.asarray(self.shards[first].array(name)[lo - base:take - base]))
            lo = take
            first += 1
        out = np.concatenate(parts) if len(parts) != 1 else parts[0]
        return out.astype(np.int64) if name == "tokens" else out

    def tokenizer(self) -> Any:
        """The tokenizer copy stored with the shards, checked against the vocabulary hash."""
        from reprlab.tokenizers.loading import load_tokenizer

        tok = load_tokenizer(self.directory / "tokenizer")
        if vocab_hash(tok) != self.vocab_hash:
            raise DataError(f"{self.directory / 'tokenizer'}: vocabulary hash {vocab_hash(tok)} differs from "
                            f"meta.json's {self.vocab_hash}; {_fix(self.directory)}")
        return tok

    def check_vocab(self, expected_hash: str, what: str) -> None:
        """Raise :class:`DataError` when these shards were not made with the vocabulary ``expected_hash``."""
        if expected_hash != self.vocab_hash:
            raise DataError(f"{self.directory / 'meta.json'}: made with vocabulary {self.vocab_hash[:19]}... but "
                            f"{what} uses {expected_hash[:19]}...; prepare the shards with that model's tokenizer "
                            f"(reprlab pretrain prepare --tokenizer {what}/tokenizer ...)")


__all__ = ["PrepareConfig", "PrepareResult", "prepare_shards", "ShardSet", "Shard", "ShardWriter",
           "EncodedDocument", "encode_document", "DEFAULT_ARRAYS", "vocab_hash", "special_token_ids", "token_dtype",
           "is_held_out", "read_meta", "available_cores"]
