"""Run the same flow with Metaflow and with branchline, as a user would, and compare what each one shows.

A flow is written once, as Metaflow's documentation writes it (`from metaflow import ...`); branchline's copy
differs only by that import line. Each side has its own project directory, interpreter and environment; runs are
real processes (`python flow.py run ...`), and what a side "shows" is the JSON a client script prints in that
side's interpreter (the client API is part of what is compared).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.metaflow_compat.reference import metaflow_env

METAFLOW_IMPORT = "from metaflow import"


def as_branchline(source: str) -> str:
    """The same source with only its import lines changed (what the promise to data scientists is about)."""
    return source.replace(METAFLOW_IMPORT, "from branchline import")


@dataclass
class Side:
    """One framework's project directory and interpreter."""

    name: str
    python: Path
    root: Path

    @property
    def is_metaflow(self) -> bool:
        return self.name == "metaflow"

    def env(self, user: str) -> dict[str, str]:
        if self.is_metaflow:
            return metaflow_env(self.root / ".metaflow-home", user)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BRANCHLINE_", "MLFLOW_", "METAFLOW_"))}
        env.update(USER=user, LOGNAME=user, BRANCHLINE_TRACKING="0", PYTHONUNBUFFERED="1", COLUMNS="250")
        return env

    def write(self, name: str, source: str) -> Path:
        """A flow file (or client script), written as Metaflow's docs write it; branchline's gets its import."""
        text = textwrap.dedent(source).lstrip()
        path = self.root / name
        path.write_text(text if self.is_metaflow else as_branchline(text))
        return path

    def run(self, name: str, *args: str, user: str = "alice", check: bool = True,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.python), name, *args], cwd=self.root, env=self.env(user),
                              capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name}: {name} {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc

    def observe(self, script: str, *, user: str = "alice") -> dict:
        """Run a client script that prints one JSON document as its last line; that document."""
        self.write("_observe.py", script)
        proc = self.run("_observe.py", user=user)
        return json.loads(proc.stdout.strip().splitlines()[-1])


def make_side(name: str, python: Path, root: Path) -> Side:
    root.mkdir(parents=True, exist_ok=True)
    if name == "branchline":
        (root / "pyproject.toml").write_text('[project]\nname = "compat"\n\n[tool.branchline]\nproject = "compat"\n')
    return Side(name, python, root)


def branchline_python() -> Path:
    return Path(sys.executable)
