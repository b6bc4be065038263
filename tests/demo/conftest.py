"""One quick demo per test session, shared by the xdist workers (the first one runs it, the others
wait on a lock and find every stage cached: the demo's own resume)."""

from __future__ import annotations

import fcntl

import pytest


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory):
    from reprlab.demo import DemoConfig, run_demo

    root = tmp_path_factory.getbasetemp().parent  # shared by every worker of this session
    out = root / "quick-demo"
    with open(root / "quick-demo.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return run_demo(DemoConfig(output_dir=str(out), quick=True, progress=False), echo=lambda line: None)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
