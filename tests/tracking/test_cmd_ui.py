"""`branchline ui`: the MLflow UI on the project's store; a remote store is only printed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from branchline.cli.cmd_ui import ui_command
from branchline.cli.main import app
from branchline.errors import BranchlineError


def _project(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[tool.branchline]\nproject = "demo"\n{extra}')
    return root


def test_ui_command_serves_the_local_store_with_artifacts_beside_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/.branchline/mlflow.db"
    argv = ui_command(uri, host="127.0.0.1", port=5123, python="/py")
    assert argv[:4] == ["/py", "-m", "mlflow", "server"]
    assert argv[argv.index("--backend-store-uri") + 1] == uri
    assert argv[argv.index("--port") + 1] == "5123"
    assert argv[argv.index("--artifacts-destination") + 1] == (tmp_path / ".branchline" / "mlartifacts").as_uri()


def test_remote_tracking_uri_is_printed_not_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(_project(tmp_path, 'tracking_uri = "http://mlflow.internal:5000"\n'))
    result = CliRunner().invoke(app, ["ui"])
    assert result.exit_code == 0, result.output
    assert "http://mlflow.internal:5000" in result.output
    assert not (tmp_path / ".branchline").exists()


def test_port_in_use_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(_project(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["ui", "--port", str(port)])
    assert isinstance(result.exception, BranchlineError)
    assert f"127.0.0.1:{port}" in str(result.exception) and "--port" in str(result.exception)


@pytest.mark.mlflow
def test_ui_starts_the_mlflow_server_on_the_embedded_store(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "branchline.cli.main", "ui", "--port", str(port)],
        cwd=root, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        body = b""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    body = response.read()
                    break
            except OSError:
                time.sleep(0.3)
        assert body == b"OK", f"the UI did not answer (exit code {proc.poll()})"
        assert (root / ".branchline" / "mlflow.db").is_file()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_ui_outside_a_project_refuses_in_one_line_and_creates_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BRANCHLINE_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "branchline.cli.main", "ui"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: no branchline project at or above {tmp_path.resolve()}")
    assert "cd into your project" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no .branchline/, no mlflow.db, no server
