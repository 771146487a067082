"""Jinja extensions of the cookiecutter template (cookiecutter and cruft put this directory on sys.path).

`template_commit`: the commit of the template being rendered, so that the generated project pins the
platform to exactly the revision its template came from. Empty when the template is not a git checkout
(a downloaded archive): the pre-gen hook then refuses the unpinned default and asks for a pin.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from cookiecutter.utils import simple_filter


@simple_filter
def template_commit(_: object) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}  # not another repo's
    try:
        done = subprocess.run(["git", "rev-parse", "--verify", "HEAD"], cwd=Path(__file__).resolve().parent,
                              env=env, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return ""
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else ""
