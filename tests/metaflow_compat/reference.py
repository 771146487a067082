"""Metaflow itself, for differential tests and benchmarks: one virtual environment per version, made once.

Installed from the package index with this machine's own pip configuration (nothing of it is written here) into
the test bed's cache directory, so later sessions (and CI runs on the same machine) reuse it. A concurrent
install of the same version waits on a lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.testbed.procs import TestbedUnavailable
from tests.testbed.runs import cache_dir, file_lock

METAFLOW_VERSION = "2.19.39"


def metaflow_python(version: str = METAFLOW_VERSION) -> Path:
    """The interpreter of a virtual environment holding `metaflow==version` (and nothing of branchline)."""
    home = cache_dir() / f"metaflow-{version}"
    python, done = home / "bin" / "python", home / ".complete"
    if done.exists():
        return python
    with file_lock(home.with_suffix(".lock")):
        if done.exists():
            return python
        steps = [[sys.executable, "-m", "venv", "--clear", str(home)],
                 [str(python), "-m", "pip", "install", "--quiet", f"metaflow=={version}"]]
        for cmd in steps:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
            if proc.returncode != 0:
                raise TestbedUnavailable(f"installing metaflow=={version} failed: {proc.stderr.strip()[-2000:]}")
        done.write_text(version + "\n")
    return python


def metaflow_env(home: Path, user: str) -> dict[str, str]:
    """Metaflow's local mode for one user, configured only through the environment (no ~/.metaflowconfig)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METAFLOW_", "BRANCHLINE_", "AWS_"))}
    env.update(USER=user, LOGNAME=user, METAFLOW_HOME=str(home), METAFLOW_DEFAULT_METADATA="local",
               METAFLOW_DEFAULT_DATASTORE="local", PYTHONUNBUFFERED="1")
    env.pop("USERNAME", None)
    env.pop("SUDO_USER", None)
    return env
