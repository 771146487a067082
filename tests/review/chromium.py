"""Headless Chromium (Debian `chromium`, installed by scripts/testbed/install.sh): what a person would see.

Each call starts a fresh browser with its own profile directory and every background service off, loads one
page, and returns the DOM after scripts ran (`--dump-dom`) or writes a screenshot. No wall-clock assertions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")
BUDGET_MS = 20_000  # virtual time: the page's scripts and fetches settle within it, or the DOM is dumped as is


def chromium_path() -> str:
    """The browser, or a failure in CI (the test bed installs it) and a skip elsewhere naming the fix."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "Debian package chromium is missing: run `sudo scripts/testbed/install.sh` (or `make testbed`)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _run(url: str, *extra: str, timeout: float = 120) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run(
            [chromium_path(), *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={BUDGET_MS}", *extra, url],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def dump_dom(url: str) -> str:
    """The page's DOM as HTML once its scripts have run."""
    return _run(url, "--dump-dom")


def screenshot(url: str, path: Path, *, width: int = 1280, height: int = 1400) -> Path:
    _run(url, f"--screenshot={path}", f"--window-size={width},{height}")
    assert path.is_file() and path.stat().st_size > 0
    return path


def screenshots_dir(tmp_path: Path) -> Path:
    """`$BRANCHLINE_SCREENSHOTS` to keep the pictures (docs/review.md), else the test's tmp dir."""
    kept = os.environ.get("BRANCHLINE_SCREENSHOTS")
    directory = Path(kept) if kept else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory
