"""``reprlab --help`` starts fast: no torch, numpy, sklearn or numba until a command runs."""

import ast
import importlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "reprlab"
HEAVY = ("torch", "numpy", "scipy", "sklearn", "numba", "matplotlib", "regex", "PIL", "safetensors")
LAZY_PACKAGES = ["reprlab.text", "reprlab.pretrain", "reprlab.transfer", "reprlab.vision", "reprlab.vision.contrastive",
                 "reprlab.vision.generative", "reprlab.coherence", "reprlab.embed", "reprlab.tokenizers",
                 "reprlab.mixture"]


def test_help_imports_no_heavy_package():
    code = ("import sys\nfrom reprlab.cli.main import build_parser\nbuild_parser().format_help()\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]", f"building the parser imported {r.stdout.strip()}"


def test_help_is_fast():
    """A generous bound (the measured time is ~0.1 s, docs/benchmarks.md): a shared CI core may be slow."""
    exe = Path(sys.executable).with_name("reprlab")
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([str(exe), "--help"], capture_output=True, check=True)
        best = min(best, time.perf_counter() - t0)
    assert best < 1.5


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_names_match_their_type_checking_imports(package):
    """The names a type checker sees (the TYPE_CHECKING imports) are the names __all__ serves, and each resolves."""
    mod = importlib.import_module(package)
    tree = ast.parse((SRC.parent / Path(*package.split(".")) / "__init__.py").read_text())
    blocks = [n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"]
    imported = {a.asname or a.name for b in blocks for n in b.body if isinstance(n, ast.ImportFrom)
                for a in n.names if a.name != "*"}
    if imported:
        assert imported == set(mod.__all__)
    for name in mod.__all__:
        assert getattr(mod, name) is not None
    with pytest.raises(AttributeError):
        mod.no_such_name  # noqa: B018


def test_every_numba_kernel_is_cached_on_disk():
    """cache=True: the first t-SNE of a process loads the compiled kernels instead of compiling (tens of seconds)."""
    from numba.core.dispatcher import Dispatcher

    from reprlab.embed import _kernels

    kernels = {name: f for name, f in vars(_kernels).items() if isinstance(f, Dispatcher)}
    assert len(kernels) >= 8
    assert {name for name, f in kernels.items() if type(f._cache).__name__ == "NullCache"} == set()


def test_choices_spelled_out_for_a_fast_help_match_their_source():
    from reprlab.mixture import cli, em

    assert cli._COVARIANCE_TYPES == em.COVARIANCE_TYPES
