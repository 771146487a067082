"""The generated project's own `tox` passes: tests and lint, each in a fresh virtualenv.

Expensive (it creates two virtualenvs and installs branchline, scikit-learn, pandas, MLflow and
Great Expectations into one), hence `slow`. branchline comes from this checkout's `platform/`
through a `file://` direct reference, as `make demo` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.template.rendering import REPO_ROOT, render


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_tox_passes_in_a_fresh_project(tmp_path: Path) -> None:
    source = f"branchline @ {(REPO_ROOT / 'platform').as_uri()}"
    project = render(tmp_path / "out", branchline_source=source)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GIT_", "VIRTUAL_ENV", "TOX_"))}
    done = subprocess.run(
        [sys.executable, "-m", "tox", "run", "--colored", "no"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert "py: OK" in done.stdout and "lint: OK" in done.stdout
