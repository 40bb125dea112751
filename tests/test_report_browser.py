"""The report in a real browser: headless Chromium (Debian's, which `make setup` installs) loads it, the DOM
it builds still shows the hostile prompt as text (no element made from it), and the screenshot is a page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from llmdrift.report.render import render
from test_report import HOSTILE, sample_data

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make setup installs it)")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_the_browser_renders_the_report_and_the_hostile_prompt_stays_text(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(sample_data()), encoding="utf-8")
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    for section in ("verdict", "embeddings", "metrics", "trends", "cost", "health"):
        assert f'id="{section}"' in html
    assert "<script" not in html  # the parsed DOM has no script element, so nothing could run
    assert "<img" not in html
    assert HOSTILE.replace("<", "&lt;").replace(">", "&gt;")[:20] in html  # shown as text
    assert "Uncaught" not in dom.stderr

    shot = tmp_path / "report.png"
    done = _chromium(tmp_path, "--window-size=1200,1800", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a drawn page, not a blank one
