"""What every report page must satisfy, checked on its HTML text (and in chromium by the browser test).

A number on the page is allowed only when metrics.json holds it: as a value printed by the page's
formatter, or inside a string of the document (summaries, captions, published anchors).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from reprlab.report import format_value

NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?%?")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def document_numbers(doc) -> set[str]:
    """Every numeric token the page may show for ``doc``."""
    allowed: set[str] = set()

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            allowed.update(NUMBER.findall(v))
        elif v is not None:
            allowed.update(NUMBER.findall(format_value(v)))

    walk(doc)
    return allowed


def numbers_not_in_document(html: str, doc) -> list[str]:
    allowed = document_numbers(doc)
    return [n for n in NUMBER.findall(page_text(html)) if n not in allowed]
