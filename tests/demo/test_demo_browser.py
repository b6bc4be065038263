"""The quick demo's report.html in a real headless browser (Debian chromium): screenshot and DOM checks.

The page itself has no JavaScript; the test loads a copy with a probe script appended that writes
each image's ``naturalWidth`` into the DOM, which ``--dump-dom`` then prints. Under ``CI=true`` a
missing chromium fails instead of skipping (``make test`` installs it on Debian as root).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from tests.demo.page_checks import numbers_not_in_document

INSTALL = "apt-get install -y chromium (as root; `make test` does it on Debian)"
PROBE = ("<script>window.addEventListener('load',()=>{document.body.setAttribute('data-probe',JSON.stringify({"
         "widths:[...document.images].map(i=>i.complete?i.naturalWidth:0),"
         "stages:[...document.querySelectorAll('section[data-stage]')].map(s=>[s.dataset.stage,"
         "s.querySelector('h2').firstChild.textContent])}))})</script>")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"chromium not found; {INSTALL}")
    pytest.skip(f"chromium not found; {INSTALL}")


def _run(browser: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-extensions", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120)


def test_report_renders_in_chromium(quick_demo, tmp_path):
    browser = _chromium()
    page = quick_demo.report
    doc = json.loads((quick_demo.run_dir / "metrics.json").read_text(encoding="utf-8"))
    shot = quick_demo.run_dir / "report-screenshot.png"  # kept beside the report (the CI artifact)
    out = _run(browser, f"--screenshot={shot}", "--window-size=1200,3000", page.resolve().as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000, out.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _run(browser, "--dump-dom", "--virtual-time-budget=10000", probe.resolve().as_uri()).stdout
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, dom[-2000:]
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    titles = {s["id"]: s["title"] for s in doc["sections"]}
    assert dict(result["stages"]) == titles  # every stage heading, as metrics.json names it
    n_figures = sum(len(s["figures"]) for s in doc["sections"])
    assert len(result["widths"]) == n_figures > 0 and all(w > 0 for w in result["widths"]), result["widths"]
    # the rendered DOM shows no number that metrics.json does not hold
    assert numbers_not_in_document(dom.replace(PROBE, ""), doc) == []
