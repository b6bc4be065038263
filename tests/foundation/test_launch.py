"""The test launcher kills a hung command's children too (a hung torchrun leaves its ranks behind otherwise)."""

import subprocess
import sys
import time

import pytest

from tests.launch import run_group

# a parent that starts a grandchild which writes its pid, then both sleep far past the timeout
HANG = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_timeout_kills_the_whole_process_group():
    with pytest.raises(subprocess.TimeoutExpired) as e:
        run_group([sys.executable, "-c", HANG], timeout=3)
    grandchild = int(e.value.output.split()[0])
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_a_finished_command_returns_its_output_and_code():
    r = run_group([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
                  timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
