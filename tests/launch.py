"""Launching test subprocesses that may spawn their own children (``torchrun`` and its ranks).

``subprocess.run(timeout=...)`` kills only the process it started: when a regression makes a
``torchrun`` launch hang, its rank processes outlive the test and keep both cores busy for the
rest of the suite. :func:`run_group` starts the command in its own session and, on timeout,
kills the whole process group before raising.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for ``--master_port``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_group(cmd: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True)``; on timeout the process group dies too."""
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(proc.args, timeout, output=out, stderr=err) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def torchrun(args: Sequence[str], *, nproc: int = 2, timeout: float = 300,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node=NPROC ARGS`` on a free local port, one thread per rank."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    launch = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
              "--master_addr=127.0.0.1", f"--master_port={free_port()}"]
    return run_group([*launch, *args], timeout=timeout, env=env)
