"""Under CI=true a parity test skipped for a missing compare extra fails; elsewhere it skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# the reasons pytest.importorskip gives when a module is absent (the guard reads them)
IN_TEST = '''
import pytest

def test_needs_transformers():
    pytest.skip("could not import 'transformers': No module named 'transformers'")
'''
MODULE_LEVEL = '''
import pytest

pytest.skip("could not import 'openTSNE': No module named 'openTSNE'", allow_module_level=True)

def test_parity():
    pass
'''
DATA = '''
import pytest

def test_needs_data():
    pytest.skip("Fashion-MNIST is not installed (make data)")
'''


def _pytest(tmp_path: Path, ci: str | None, *files: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.compare_extra", "-p", "no:cacheprovider",
                           "-q", "--continue-on-collection-errors", *files],
                          capture_output=True, text=True, env=env, cwd=tmp_path)


def test_missing_compare_extra_fails_under_ci_and_skips_elsewhere(tmp_path):
    (tmp_path / "test_in_test.py").write_text(IN_TEST)
    (tmp_path / "test_module_level.py").write_text(MODULE_LEVEL)
    local = _pytest(tmp_path, None, "test_in_test.py", "test_module_level.py")
    assert local.returncode == 0 and "2 skipped" in local.stdout, local.stdout + local.stderr
    ci = _pytest(tmp_path, "true", "test_in_test.py", "test_module_level.py")
    assert ci.returncode == 1 and "1 failed" in ci.stdout and "1 error" in ci.stdout, ci.stdout + ci.stderr
    for module in ("transformers", "openTSNE"):  # each failure names the missing module and the fix
        assert f"{module} is missing and CI=true: the parity tests against the compare extra must run" in ci.stdout
    assert "pip install -e '.[compare]'" in ci.stdout


def test_other_skips_stay_skips_under_ci(tmp_path):
    (tmp_path / "test_data.py").write_text(DATA)
    result = _pytest(tmp_path, "true", "test_data.py")
    assert result.returncode == 0 and "1 skipped" in result.stdout, result.stdout
