"""Pretraining instances from shards: BERT NSP pairs, ALBERT SOP pairs, RoBERTa FULL-/DOC-SENTENCES.

Every builder returns an :class:`Instances` table: per instance the global token ranges of
segment A and segment B (B empty for single-segment schemes) and a sentence label. Because chunks
are runs of whole sentences of one document and truncation removes tokens from either end, every
segment is one contiguous range of the shard token stream, so an instance costs five integers and
the tokens stay on disk until a batch needs them (:mod:`reprlab.pretrain.batches`).

Builders (:data:`BUILDERS`; the packing schemes of the papers):

``nsp``
    google-research/bert ``create_pretraining_data.py`` (Devlin et al. 2018, section 3.1 and
    appendix A.2) step for step, masking factored out: documents shuffled once; per document and
    pass a target length of ``max_length - 3`` tokens, or with probability ``short_seq_prob`` a
    ``randint(2, max_length - 3)``; whole sentences gathered into a chunk until the target is met or
    the document ends; ``a_end = randint(1, len(chunk) - 1)``; B is a random span of another
    document (up to 10 draws of the document, a random start sentence) with probability 0.5 and
    always when the chunk holds one segment, and then the unused segments of the chunk are put back;
    ``truncate_seq_pair`` trims the longer side one token at a time from the front or the back at
    random; ``dupe_factor`` passes; the instance list shuffled at the end. Label 1 = random next.
    The same ``random.Random(seed)`` stream as the reference gives the same instances.
``sop``
    ALBERT's sentence-order prediction (Lan et al. 2019, section 4.2): the same chunks, B is the
    rest of the chunk (the true continuation), and A and B are swapped with probability 0.5
    (label 1 = swapped). Both segments always come from one document: a one-segment chunk is cut at
    a random token into A and B (ALBERT's code takes a random B from another document there).
``full-sentences``
    RoBERTa (Liu et al. 2019, section 4.2): contiguous text packed up to ``max_length``, crossing
    document boundaries with an extra separator token. With ``whole_sentences=False`` (default) the
    sentence that overflows continues in the next instance, so every instance but the last is full;
    ``whole_sentences=True`` cuts at sentence boundaries only (about 86% of positions filled on the
    Bible at 128 tokens, whose verses average 30 tokens).
``doc-sentences``
    As ``full-sentences`` without crossing a document: instances near a document's end are short,
    and :func:`group_by_tokens` makes batches of varying size whose token count stays near a target.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from reprlab.errors import ConfigError, DataError
from reprlab.pretrain.shards import ShardSet

NO_LABEL = -100


@dataclass
class InstanceConfig:
    """How instances are cut from the shards."""

    packing: str = ""  # nsp | sop | full-sentences | doc-sentences; "" = the objective's own scheme
    max_length: int = 128  # tokens per instance, special tokens included
    short_seq_prob: float = 0.1  # nsp/sop: share of chunks with a random shorter target length (BERT)
    dupe_factor: int = 1  # nsp/sop: passes over the corpus, each with new chunks and pairs (BERT: 10)
    whole_sentences: bool = False  # full/doc-sentences: cut only at sentence boundaries
    tokens_per_batch: int = 0  # doc-sentences: target real tokens per batch; 0 = batch_size * max_length

    def validate(self, model_max_length: int | None = None) -> None:
        if self.max_length < 8:
            raise ConfigError(f"instances.max_length={self.max_length}: must be >= 8 (two special tokens and "
                              "room for text); BERT uses 128 or 512")
        if model_max_length is not None and self.max_length > model_max_length:
            raise ConfigError(f"instances.max_length={self.max_length} exceeds the model's {model_max_length} "
                              "positions; lower instances.max_length or raise model max_position")
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise ConfigError(f"instances.short_seq_prob={self.short_seq_prob}: must be in [0, 1]")
        if self.dupe_factor < 1:
            raise ConfigError(f"instances.dupe_factor={self.dupe_factor}: must be >= 1")
        if self.packing and self.packing not in BUILDERS:
            raise ConfigError(f"instances.packing={self.packing!r}: choose one of {sorted(BUILDERS)}")


@dataclass
class Instances:
    """Instance table: global token ranges ``[a_lo, a_hi)`` and ``[b_lo, b_hi)`` plus a label.

    ``b_lo == b_hi`` for single-segment instances; ``label`` is the NSP/SOP target or -100.
    ``separators`` says whether a separator token goes before every document start inside A
    (FULL-SENTENCES).
    """

    a_lo: np.ndarray
    a_hi: np.ndarray
    b_lo: np.ndarray
    b_hi: np.ndarray
    label: np.ndarray
    packing: str
    separators: bool = False
    stats: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.a_lo)

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int, int, int, int]], packing: str, **kw) -> Instances:
        arr = np.asarray(rows, dtype=np.int64).reshape(-1, 5)
        a_lo, a_hi, b_lo, b_hi, label = (np.ascontiguousarray(arr[:, i]) for i in range(5))
        return cls(a_lo, a_hi, b_lo, b_hi, label, packing=packing, **kw)


def _document_sentences(shards: ShardSet) -> list[range]:
    """Sentence index ranges of the documents (global sentence numbers)."""
    d = shards.document_offsets
    return [range(int(d[i]), int(d[i + 1])) for i in range(len(d) - 1)]


def require_multi_sentence(shards: ShardSet, packing: str) -> None:
    """NSP and SOP need documents of two or more sentences: refuse a corpus without any."""
    multi = shards.info.get("multi_sentence_documents")
    if multi is None:
        multi = int(np.sum(np.diff(shards.document_offsets) >= 2))
    if multi == 0:
        raise DataError(f"{shards.directory}: every document of the {shards.split} split has one sentence; "
                        f"{packing} pairs segments of one document, so it needs documents of two or more "
                        "sentences (blank lines between documents, one sentence per line); use "
                        "--set instances.packing=full-sentences (RoBERTa) for single-sentence corpora")


def _truncate_pair(a: list[int], b: list[int], max_num_tokens: int, rng: random.Random) -> None:
    """BERT's ``truncate_seq_pair`` on ranges ``[lo, hi]`` (lists, edited in place)."""
    while (a[1] - a[0]) + (b[1] - b[0]) > max_num_tokens:
        trunc = a if a[1] - a[0] > b[1] - b[0] else b
        if rng.random() < 0.5:
            trunc[0] += 1  # del trunc_tokens[0]
        else:
            trunc[1] -= 1  # trunc_tokens.pop()


def _pairs(shards: ShardSet, config: InstanceConfig, seed: int, order_task: bool) -> Instances:
    """The chunking shared by NSP (``order_task=False``) and SOP (``True``); see the module docstring."""
    require_multi_sentence(shards, "sop" if order_task else "nsp")
    so = shards.sentence_offsets
    rng = random.Random(seed)
    docs = _document_sentences(shards)
    rng.shuffle(docs)  # all_documents shuffled once, as the reference does
    max_num_tokens = config.max_length - 3  # [CLS] A [SEP] B [SEP]
    rows: list[tuple[int, int, int, int, int]] = []
    forced: list[bool] = []  # per row: the chunk held one segment
    for _ in range(config.dupe_factor):
        for doc_index, doc in enumerate(docs):
            target = max_num_tokens
            if rng.random() < config.short_seq_prob:
                target = rng.randint(2, max_num_tokens)
            chunk: list[int] = []  # sentence numbers
            length = 0
            i = 0
            while i < len(doc):
                s = doc[i]
                chunk.append(s)
                length += int(so[s + 1] - so[s])
                if i == len(doc) - 1 or length >= target:
                    a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                    a = [int(so[chunk[0]]), int(so[chunk[a_end - 1] + 1])]
                    if order_task:
                        if len(chunk) == 1:  # cut the one segment so that both halves stay in this document
                            if a[1] - a[0] < 2:
                                chunk, length, i = [], 0, i + 1
                                continue
                            cut = rng.randint(a[0] + 1, a[1] - 1)
                            a, b = [a[0], cut], [cut, a[1]]
                        else:
                            b = [int(so[chunk[a_end]]), int(so[chunk[-1] + 1])]
                        label = int(rng.random() < 0.5)
                        if label:
                            a, b = b, a
                    elif len(chunk) == 1 or rng.random() < 0.5:
                        label = 1
                        target_b = target - (a[1] - a[0])
                        for _ in range(10):
                            rdi = rng.randint(0, len(docs) - 1)
                            if rdi != doc_index:
                                break
                        rdoc = docs[rdi]
                        start = rng.randint(0, len(rdoc) - 1)
                        end = start
                        while end < len(rdoc):
                            end += 1
                            if int(so[rdoc[end - 1] + 1] - so[rdoc[start]]) >= target_b:
                                break
                        b = [int(so[rdoc[start]]), int(so[rdoc[end - 1] + 1])]
                        i -= len(chunk) - a_end  # put the unused segments back
                    else:
                        label = 0
                        b = [int(so[chunk[a_end]]), int(so[chunk[-1] + 1])]
                    _truncate_pair(a, b, max_num_tokens, rng)
                    rows.append((a[0], a[1], b[0], b[1], label))
                    forced.append(len(chunk) == 1)
                    chunk, length = [], 0
                i += 1
    labels = np.asarray([r[4] for r in rows], dtype=np.float64)
    multi = ~np.asarray(forced, dtype=bool)
    stats = {"instances": len(rows), "label_1_rate": float(labels.mean()) if len(rows) else 0.0,
             "label_1_rate_multi_segment": float(labels[multi].mean()) if multi.any() else 0.0,
             "single_segment_chunks": int((~multi).sum())}
    rng.shuffle(rows)
    return Instances.from_rows(rows, "sop" if order_task else "nsp", stats=stats)


def nsp_instances(shards: ShardSet, config: InstanceConfig, seed: int = 0) -> Instances:
    """BERT next-sentence-prediction pairs (label 1 = B is a random span of another document)."""
    return _pairs(shards, config, seed, order_task=False)


def sop_instances(shards: ShardSet, config: InstanceConfig, seed: int = 0) -> Instances:
    """ALBERT sentence-order pairs (label 1 = A and B swapped)."""
    return _pairs(shards, config, seed, order_task=True)


def _stream(shards: ShardSet, config: InstanceConfig, cross_documents: bool) -> Instances:
    """FULL-SENTENCES (``cross_documents``) or DOC-SENTENCES ranges; see the module docstring."""
    so = shards.sentence_offsets
    doc_starts = shards.document_token_offsets()
    n = shards.num_tokens
    budget0 = config.max_length - 2  # [CLS] ... [SEP]
    rows: list[tuple[int, int, int, int, int]] = []
    pos = 0
    d = 1  # index into doc_starts of the next document start after pos
    while pos < n:
        while doc_starts[d] <= pos:
            d += 1
        budget, end = budget0, pos
        while budget > 0 and end < n:
            boundary = int(doc_starts[d]) if d < len(doc_starts) else n
            take = min(budget, boundary - end)
            if config.whole_sentences and take < boundary - end:  # stop at the last sentence end that fits
                s = int(np.searchsorted(so, end + take, side="right")) - 1
                if so[s] > end:
                    take = int(so[s]) - end
                elif end > pos:  # nothing fits but the instance has text already: close it
                    break
            end += take
            budget -= take
            if end < boundary:
                break
            if not cross_documents or end >= n or budget < 2:  # a separator and at least one more token
                break
            budget -= 1  # the separator before the next document
            d += 1
        rows.append((pos, end, end, end, NO_LABEL))
        pos = end
    lengths = np.asarray([r[1] - r[0] for r in rows])
    inst = Instances.from_rows(rows, "full-sentences" if cross_documents else "doc-sentences",
                               separators=cross_documents)
    inst.stats = {"instances": len(rows), "fill": float(instance_lengths(inst, shards).mean() / config.max_length),
                  "mean_text_tokens": float(lengths.mean()) if len(rows) else 0.0}
    return inst


def full_sentences(shards: ShardSet, config: InstanceConfig, seed: int = 0) -> Instances:
    """RoBERTa FULL-SENTENCES: contiguous text up to ``max_length``, separators between documents."""
    return _stream(shards, config, cross_documents=True)


def doc_sentences(shards: ShardSet, config: InstanceConfig, seed: int = 0) -> Instances:
    """RoBERTa DOC-SENTENCES: as FULL-SENTENCES but never crossing a document boundary."""
    return _stream(shards, config, cross_documents=False)


def separator_positions(doc_starts: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Document starts strictly inside ``(lo, hi)``: where FULL-SENTENCES puts a separator."""
    i = int(np.searchsorted(doc_starts, lo, side="right"))
    j = int(np.searchsorted(doc_starts, hi, side="left"))
    return doc_starts[i:max(i, j)]


def instance_lengths(instances: Instances, shards: ShardSet) -> np.ndarray:
    """Tokens of every instance with its special tokens and separators ([CLS], [SEP]s)."""
    a = instances.a_hi - instances.a_lo
    b = instances.b_hi - instances.b_lo
    n = a + b + 2 + (b > 0)
    if instances.separators:
        starts = shards.document_token_offsets()
        inside = np.searchsorted(starts, instances.a_hi, side="left") - np.searchsorted(starts, instances.a_lo,
                                                                                        side="right")
        n = n + np.maximum(inside, 0)
    return n


def group_by_tokens(lengths: np.ndarray, tokens_per_batch: int, seed: int = 0) -> list[np.ndarray]:
    """Batches of instance indices whose total length stays just under ``tokens_per_batch``.

    The instances are shuffled (``seed``), then each batch takes instances in that order while its
    total fits: every batch but the last holds more than ``tokens_per_batch - max(lengths)`` tokens.
    """
    if tokens_per_batch < int(lengths.max(initial=0)):
        raise ConfigError(f"instances.tokens_per_batch={tokens_per_batch} is smaller than one instance "
                          f"({int(lengths.max())} tokens); raise it")
    order = np.random.default_rng(seed).permutation(len(lengths))
    groups: list[np.ndarray] = []
    current: list[int] = []
    total = 0
    for i in order:
        n = int(lengths[i])
        if total + n > tokens_per_batch and current:
            groups.append(np.asarray(current, dtype=np.int64))
            current, total = [], 0
        current.append(int(i))
        total += n
    if current:
        groups.append(np.asarray(current, dtype=np.int64))
    return groups


Builder = Callable[[ShardSet, InstanceConfig, int], Instances]
#: Packing scheme -> builder. A new scheme (e.g. causal LM blocks) registers here.
BUILDERS: dict[str, Builder] = {"nsp": nsp_instances, "sop": sop_instances, "full-sentences": full_sentences,
                                "doc-sentences": doc_sentences}


def build_instances(shards: ShardSet, config: InstanceConfig, seed: int = 0) -> Instances:
    """Instances of ``config.packing`` (which must be set) from ``shards``."""
    if config.packing not in BUILDERS:
        raise ConfigError(f"instances.packing={config.packing!r}: choose one of {sorted(BUILDERS)}")
    inst = BUILDERS[config.packing](shards, config, seed)
    if len(inst) == 0:
        raise DataError(f"{shards.directory}: the {shards.split} split gave no {config.packing} instances")
    return inst
