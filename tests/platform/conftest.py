"""A throwaway project directory with the test flows, and a helper to run them as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

FLOWS = Path(__file__).parent / "flows"


@dataclass
class Project:
    root: Path
    state: Path

    def run(
        self, flow: str, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        full_env = {
            **os.environ,
            "BRANCHLINE_TRACKING": "0",
            "FLOW_STATE": str(self.state),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        full_env.pop("BRANCHLINE_DATASTORE", None)
        proc = subprocess.run(
            [sys.executable, f"flows/{flow}", *args],
            cwd=self.root,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"flow failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "proj"
    (root / "flows").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\n\n[tool.branchline]\nproject = "proj"\n')
    for flow in FLOWS.glob("*.py"):
        shutil.copy(flow, root / "flows" / flow.name)
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.delenv("BRANCHLINE_DATASTORE", raising=False)
    monkeypatch.delenv("BRANCHLINE_NAMESPACE", raising=False)
    for name in [n for n in os.environ if n.startswith("MLFLOW_")]:
        monkeypatch.delenv(name)  # other tests' MLflow settings must not leak into these runs
    from branchline import client

    client.datastore(None)
    client.default_namespace()
    return Project(root=root, state=state)
