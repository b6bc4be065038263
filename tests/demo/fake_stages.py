"""Fast stand-in stages for the runner's tests (caching, resume, interruption); also run as a script.

``python -m tests.demo.fake_stages RUN_DIR`` runs them; the third stage sleeps, so a test can kill
the process there and check that the next run resumes.
"""

from __future__ import annotations

import sys
import time

from reprlab.demo import DemoConfig, Stage, run_demo


def _numbers(ctx):
    ctx.table("squares", ["n", "n squared"], [[n, n * n] for n in range(1, 4)])
    ctx.metric("sum", 14)
    (ctx.out / "done.txt").write_text("one")
    return "squares of 1..3 sum to 14"


def _text(ctx):
    ctx.text("greeting", "naïve 🤗 text")
    return "wrote a greeting"


def _slow(ctx):
    (ctx.out / "started.txt").write_text("x")
    time.sleep(float((ctx.run_dir / "sleep.txt").read_text()) if (ctx.run_dir / "sleep.txt").exists() else 0)
    return "slept"


FAKE = (Stage("numbers", "1. Numbers", _numbers), Stage("text", "2. Text", _text),
        Stage("slow", "3. Slow", _slow), Stage("later", "4. Not in this build", _text, requires="reprlab.nope"))

if __name__ == "__main__":
    run_demo(DemoConfig(output_dir=sys.argv[1], quick=True, progress=False), FAKE)
