"""`branchline promote` as CI and people run it (the installed console script): exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.gate.mlstate import Project, champion, record_flow_run

pytestmark = pytest.mark.mlflow
BRANCHLINE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "branchline"


def promote(project: Project, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BRANCHLINE), "promote", "--project-dir", str(project.root), *args],
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_promote_exit_codes_and_messages(project: Project, tmp_path: Path) -> None:
    first = record_flow_run(project)
    done = promote(project, "--run-id", first.run_id, "--json", str(tmp_path / "report.json"))
    assert done.returncode == 0, done.stderr
    assert "promoted v1 to champion (was none)" in done.stdout and "accuracy >= 0.9" in done.stdout
    assert json.loads((tmp_path / "report.json").read_text())["passed"] is True
    assert champion(project) == "1"

    worse = record_flow_run(project, metrics={"accuracy": 0.8, "f1_macro": 0.94})
    done = promote(project, "--run-id", worse.run_id)
    assert done.returncode == 1
    assert "not promoted; champion stays v1" in done.stdout
    assert "promotion gate of TrainFlow failed: failed: 2 of 7 criteria" in done.stderr
    assert "Traceback" not in done.stderr and champion(project) == "1"

    branch = record_flow_run(project, namespace="br-z-000000", metrics={"accuracy": 0.97, "f1_macro": 0.95})
    done = promote(project, "--run-id", branch.run_id)
    assert done.returncode == 1 and "refusing to promote" in done.stderr and "--dry-run" in done.stderr
    done = promote(project, "--run-id", branch.run_id, "--dry-run")
    dev_model = f"{project.model}-dev"  # a branch registers under its own name, never production's
    assert done.returncode == 0 and f"dry run: would promote {dev_model} v1 to champion (now v1)" in done.stdout
    assert champion(project) == "1"

    better = record_flow_run(project, metrics={"accuracy": 0.97, "f1_macro": 0.95})
    assert better.version == "3"
    assert promote(project, "--version", "3").returncode == 0 and champion(project) == "3"
    done = promote(project, "--rollback")
    assert done.returncode == 1 and "refusing to roll back" in done.stderr
    done = promote(project, "--rollback", BRANCHLINE_NAMESPACE="prod")
    assert done.returncode == 0 and "rolled back" in done.stdout and "v3 -> v1" in done.stdout
    assert champion(project) == "1"


def test_promote_fails_closed_when_mlflow_is_down(project: Project) -> None:
    done = promote(project, "--dry-run", MLFLOW_TRACKING_URI="http://127.0.0.1:9")
    assert done.returncode == 1
    assert "MLflow tracking server http://127.0.0.1:9 is unreachable" in done.stderr
    assert "Traceback" not in done.stderr


def test_promote_usage_mistakes(project: Project) -> None:
    done = promote(project, "--run-id", "r", "--version", "2")
    assert done.returncode == 1 and "give --run-id or --version, not both" in done.stderr
    done = promote(project, "--flow", "Other", "--dry-run")
    assert done.returncode == 1 and "no gate configured for flow Other" in done.stderr
