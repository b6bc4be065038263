"""Corpora that ``reprlab pretrain prepare`` reads: named data sets, files and directories.

A corpus is a stream of documents, each a list of sentences (strings). Sources:

- **files and directories** — plain text (one sentence per line, a blank line between documents)
  and JSONL (one document per line in a ``text`` field, split into sentences by
  :func:`reprlab.data.split_sentences`), as :func:`reprlab.data.iter_documents` reads them;
- **named corpora** (:data:`NAMED_CORPORA`), read from their installed location:

  =================  ==============================================================================
  ``kjv``            the King James Bible (Debian ``bible-kjv``): 1,189 chapters as documents, verses
                     as sentences (4.3 MB)
  ``kjv-sample``     84 chapters of it bundled with reprlab (Genesis, Ruth, Jonah, Mark, James, 1 John)
  ``wordnet``        WordNet glosses (Debian ``wordnet-base``): one gloss per document, the
                     definition and each quoted example a sentence (117,659 documents, 8.8 MB)
  ``wordnet-sample`` the bundled 446-document gloss sample (``reprlab/data/samples/corpus.txt``)
  =================  ==============================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from reprlab.data import iter_documents, kjv_chapters, sample_path, split_sentences, wordnet_glosses
from reprlab.errors import DataError

Document = list[str]


def _kjv() -> Iterator[Document]:
    for _, verses in kjv_chapters():
        yield verses


def _kjv_sample() -> Iterator[Document]:
    for _, verses in kjv_chapters(sample_path("kjv_sample.txt")):
        yield verses


def _wordnet() -> Iterator[Document]:
    for _, gloss in wordnet_glosses():
        sentences = [s.strip().strip('"').strip() for s in gloss.split("; ")]
        sentences = [s for s in sentences if s]
        if sentences:
            yield sentences


def _wordnet_sample() -> Iterator[Document]:
    return iter_documents([sample_path("corpus.txt")])


#: Corpus names accepted wherever a corpus path is (``prepare``, ``corpus``).
NAMED_CORPORA: dict[str, Callable[[], Iterator[Document]]] = {
    "kjv": _kjv, "kjv-sample": _kjv_sample, "wordnet": _wordnet, "wordnet-sample": _wordnet_sample,
}


def iter_corpus(sources: Iterable[str | Path], text_field: str = "text") -> Iterator[Document]:
    """Documents (lists of sentences) from named corpora, files and directories, in the given order.

    Raises
    ------
    MissingDataError
        A path that does not exist or a named corpus that is not installed (the message names the
        package to install).
    DataError
        Undecodable bytes or bad JSONL (file and line named).
    """
    for source in sources:
        name = str(source)
        if name in NAMED_CORPORA and not Path(name).exists():
            yield from NAMED_CORPORA[name]()
        else:
            yield from iter_documents([source], text_field=text_field, sentence_splitter=split_sentences)


def write_corpus_text(sources: Iterable[str | Path], path: str | Path) -> tuple[int, int]:
    """Write a corpus as plain text (a sentence per line, blank line between documents), atomically.

    Returns ``(documents, sentences)``. The file is what ``reprlab tokenizer train`` and other
    tools read.
    """
    from reprlab.io import atomic_write

    sources = list(sources)
    docs = sents = 0
    with atomic_write(path) as f:
        for doc in iter_corpus(sources):
            lines = [" ".join(s.split()) for s in doc if s.strip()]
            if not lines:
                continue
            f.write(("\n" if docs else "") + "\n".join(lines) + "\n")
            docs += 1
            sents += len(lines)
    if docs == 0:
        raise DataError(f"{', '.join(map(str, sources))}: the corpus is empty (no non-blank lines)")
    return docs, sents
