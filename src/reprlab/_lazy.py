"""Lazy package attributes (PEP 562): a domain's public names are imported on first use.

``reprlab --help`` imports every domain's ``cli`` module, and importing ``reprlab.text.cli`` runs
``reprlab/text/__init__.py`` first; with eager re-exports that pulls in torch (~2 s). Each domain
``__init__`` therefore lists its names for type checkers under ``TYPE_CHECKING`` and hands the
same map to :func:`lazy_exports`, which imports a submodule only when one of its names is asked
for (tests/foundation/test_startup.py checks that both lists agree).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_exports(package: str, where: dict[str, Iterable[str]]
                 ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for ``package`` from ``{submodule: names}``.

    ``submodule`` is relative to ``package`` (``"config"`` for ``reprlab.text.config``).
    """
    module_of = {name: f"{package}.{sub}" for sub, names in where.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module_of[name]), name)

    def __dir__() -> list[str]:
        return sorted(module_of)

    return list(module_of), __getattr__, __dir__
