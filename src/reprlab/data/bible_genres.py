"""KJV Bible chapters labelled by the genre of their book: a long-document classification task.

Each of the 1,189 chapters (hundreds to thousands of word pieces) is one document; its verses are
its sentences (joined by newlines in the text); its item key is the chapter reference (``Ge1``),
so the split (:func:`reprlab.data.split_of`) is fixed per chapter. The genre of each book follows
the usual division of the Protestant canon:

========================  =====================================================================
genre                     books (``bible -f`` abbreviations)
========================  =====================================================================
law                       Ge Exo Lev Num Deu
history                   Josh Jdgs Ruth 1Sm 2Sm 1Ki 2Ki 1Chr 2Chr Ezra Neh Est
wisdom/poetry             Job Psa Prv Eccl SSol
prophets                  Isa Jer Lam Eze Dan Hos Joel Amos Obad Jonah Mic Nahum Hab Zep Hag Zec Mal
gospels/acts              Mat Mark Luke John Acts
epistles                  Rom 1Cor 2Cor Gal Eph Phi Col 1Th 2Th 1Tim 2Tim Titus Phmn Heb Jas 1Pet
                          2Pet 1Jn 2Jn 3Jn Jude
apocalyptic               Rev
========================  =====================================================================

Daniel is counted with the prophets (as in the Protestant canon), though its chapters 7-12 are
apocalyptic too. Source: Debian ``bible-kjv`` (:func:`reprlab.data.text.kjv_chapters`), or a file
in its ``bible -f`` format.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from reprlab.errors import DataError

GENRE_BOOKS: dict[str, tuple[str, ...]] = {
    "law": ("Ge", "Exo", "Lev", "Num", "Deu"),
    "history": ("Josh", "Jdgs", "Ruth", "1Sm", "2Sm", "1Ki", "2Ki", "1Chr", "2Chr", "Ezra", "Neh", "Est"),
    "wisdom/poetry": ("Job", "Psa", "Prv", "Eccl", "SSol"),
    "prophets": ("Isa", "Jer", "Lam", "Eze", "Dan", "Hos", "Joel", "Amos", "Obad", "Jonah", "Mic", "Nahum", "Hab",
                 "Zep", "Hag", "Zec", "Mal"),
    "gospels/acts": ("Mat", "Mark", "Luke", "John", "Acts"),
    "epistles": ("Rom", "1Cor", "2Cor", "Gal", "Eph", "Phi", "Col", "1Th", "2Th", "1Tim", "2Tim", "Titus", "Phmn",
                 "Heb", "Jas", "1Pet", "2Pet", "1Jn", "2Jn", "3Jn", "Jude"),
    "apocalyptic": ("Rev",),
}
BOOK_GENRE = {book: genre for genre, books in GENRE_BOOKS.items() for book in books}
_REF = re.compile(r"^(\d?[A-Za-z]+)(\d+)$")


def book_of(reference: str) -> str:
    """``"1Sm12" -> "1Sm"``."""
    m = _REF.match(reference)
    if m is None:
        raise DataError(f"chapter reference {reference!r}: expected <book><chapter> such as Ge1 or 1Sm12")
    return m.group(1)


def kjv_genre_chapters(path: str | Path | None = None, *, max_per_label: int | None = None) -> Any:
    """Every KJV chapter as a :class:`reprlab.data.LabeledTexts` labelled by genre (verses joined by newlines).

    ``max_per_label`` keeps at most that many chapters per genre, chosen by a hash of the chapter
    (the same rule as :func:`reprlab.data.wordnet_supersenses`, so a smaller cap is a subset).

    Raises
    ------
    MissingDataError
        bible-kjv not installed and no ``path`` given (the message names the install command).
    DataError
        A book that is not in :data:`BOOK_GENRE`.
    """
    from reprlab.data.labeled_text import _cap, from_pairs
    from reprlab.data.text import kjv_chapters

    rows = []
    for ref, verses in kjv_chapters(path):
        book = book_of(ref)
        if book not in BOOK_GENRE:
            raise DataError(f"{path or 'bible'}: book {book!r} ({ref}) has no genre in reprlab.data.bible_genres")
        rows.append((BOOK_GENRE[book], "\n".join(verses), ref))
    return from_pairs(_cap(rows, max_per_label), "KJV chapters by genre", label_names=list(GENRE_BOOKS))


__all__ = ["GENRE_BOOKS", "BOOK_GENRE", "book_of", "kjv_genre_chapters"]
