"""Test settings for reprlab.text: one intra-op thread.

The text tests run tiny models; with two OpenMP threads on a loaded shared machine, spin-waiting
makes each small op up to 30x slower (measured: the padding test took 10.8 s with 2 threads and
0.35 s with 1), so these tests pin torch to one thread and restore the setting afterwards.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
