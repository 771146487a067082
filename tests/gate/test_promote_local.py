"""`branchline promote --local`: the real gate decision on this machine's own MLflow store moves the user's
`champion` (of the `-dev` model their namespace registers), so the whole promotion story runs on a laptop; a
project that tracks to a server is refused, and the server's aliases stay untouched."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from branchline.runtime.run_info import local_namespace
from tests.gate.mlstate import Project, champion, make_project, record_flow_run

pytestmark = pytest.mark.mlflow
BRANCHLINE = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "branchline"


def promote(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "BRANCHLINE_NAMESPACE")}
    return subprocess.run(
        [str(BRANCHLINE), "promote", "--project-dir", str(root), *args],
        env={**env, "COLUMNS": "200", "NO_COLOR": "1"}, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_local_promotion_moves_the_users_own_champion_with_the_real_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a sqlite store's default artifact root is ./mlruns
    store = tmp_path / "store"
    store.mkdir()
    project = make_project(tmp_path, f"sqlite:///{store}/mlflow.db")
    mine = replace(project, model=f"{project.model}-dev")  # what the user's namespace registers
    ns = local_namespace()

    record_flow_run(project, namespace=ns)
    done = promote(project.root, "--local")
    assert done.returncode == 0, done.stderr
    assert "promoted v1 to champion (was none)" in done.stdout
    assert champion(mine) == "1"
    assert champion(project) is None  # production's name is not touched

    record_flow_run(project, namespace=ns, metrics={"accuracy": 0.8, "f1_macro": 0.94})
    done = promote(project.root, "--local")
    assert done.returncode == 1 and "not promoted; champion stays v1" in done.stdout
    assert "Traceback" not in done.stderr and champion(mine) == "1"

    record_flow_run(project, namespace=ns, metrics={"accuracy": 0.97, "f1_macro": 0.95})
    done = promote(project.root, "--local")
    assert done.returncode == 0 and "(was v1)" in done.stdout and champion(mine) == "3"


def test_local_promotion_without_a_registered_version_says_how_to_register_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A laptop run registers only when asked, so the first `promote --local` may find no version."""
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store"
    store.mkdir()
    project = make_project(tmp_path, f"sqlite:///{store}/mlflow.db")
    done = promote(project.root, "--local")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"model {project.model}-dev has no version from namespace {local_namespace()}" in done.stderr
    assert "hint: register one: BRANCHLINE_REGISTER_MODELS=1 python <flow file> run" in done.stderr
    assert "then run this again" in done.stderr


def test_local_promotion_refuses_a_project_that_tracks_to_a_server(project: Project) -> None:
    """The attacker's shortcut: `--local` against the shared server. The server's aliases must not move."""
    ns = local_namespace()
    record_flow_run(project, namespace=ns)
    done = promote(project.root, "--local")
    assert done.returncode == 1
    assert f"--local promotes in this machine's MLflow store, and this project tracks to {project.uri}" in done.stderr
    assert "Traceback" not in done.stderr
    assert champion(replace(project, model=f"{project.model}-dev")) is None and champion(project) is None
