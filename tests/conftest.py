"""Suite-wide settings: offline Hugging Face, headless matplotlib, one torch thread; under CI=true a
missing compare extra fails the parity tests instead of skipping them (tests/compare_extra.py).

The tests train small models; on small CPUs every small op pays a thread-pool synchronisation, so
one intra-op thread is faster (measured 10-50x on a loaded 2-core machine), and ``make test``
gets its parallelism from pytest-xdist workers instead. The same holds for NumPy/SciPy's BLAS: a
scikit-learn logistic regression on 300 x 384 features took 0.57 s on two OpenBLAS threads and
0.08 s on one.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # read when NumPy first loads OpenBLAS

import torch  # noqa: E402

from tests.compare_extra import pytest_make_collect_report, pytest_runtest_makereport  # noqa: E402,F401

torch.set_num_threads(1)
