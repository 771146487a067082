"""The HTTP servers of the test bed: moto (AWS APIs) and a real ``mlflow server``, both on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

from tests.testbed.procs import free_port, http_ok, spawn, stop_on_error, wait_until
from tests.testbed.runs import ServiceInfo

REPO = Path(__file__).resolve().parents[2]
MOTO_LAUNCHER = "tests.testbed.moto_launcher"
BIN = Path(sys.executable).parent
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def moto_config(*, batch_docker: bool) -> dict[str, dict[str, bool]]:
    """moto's runtime config (``POST /moto-api/config``): run state machines; Batch with/without Docker."""
    return {"stepfunctions": {"execute_state_machine": True}, "batch": {"use_docker": batch_docker}}


def _clean_env(**extra: str) -> dict[str, str]:
    """Our environment minus AWS/MLflow/Docker settings that would point a server elsewhere, plus ``extra``."""
    drop = ("AWS_", "MLFLOW_", "DOCKER_", "MOTO_", "BOTO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(TEST_CREDENTIALS)
    env.update(extra)
    return env


def start_moto(data_dir: Path, docker_host: str | None = None) -> ServiceInfo:
    """Start a moto server with the Step Functions shim; Batch runs containers on ``docker_host`` if given.

    Without ``docker_host`` Batch uses moto's docker-less backend (jobs go straight to SUCCEEDED).
    """
    port = free_port()
    log = data_dir / "moto.log"
    extra = {"MOTO_PORT": str(port)}
    if docker_host:
        # Containers share the host's network, so they reach moto/mlflow/registry on 127.0.0.1.
        extra |= {"DOCKER_HOST": docker_host, "MOTO_DOCKER_NETWORK_MODE": "host"}
    argv = [sys.executable, "-m", MOTO_LAUNCHER, "-H", "127.0.0.1", "-p", str(port)]
    pid = spawn(argv, log, env=_clean_env(**extra), cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    with stop_on_error(pid, expect=MOTO_LAUNCHER):
        waited = wait_until(lambda: http_ok(f"{url}/moto-api/config"), timeout=60, what="moto server", pid=pid, log=log)
        configure_moto(url, batch_docker=docker_host is not None)
    return {"url": url, "pids": [[pid, MOTO_LAUNCHER]], "startup_s": round(waited, 2), "log": str(log)}


def configure_moto(url: str, *, batch_docker: bool) -> None:
    """Post ``moto_config`` to a running moto server and check it took (moto echoes only batch/lambda)."""
    request = urllib.request.Request(
        f"{url}/moto-api/config",
        data=json.dumps(moto_config(batch_docker=batch_docker)).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        applied = json.loads(resp.read())
    if applied.get("batch", {}).get("use_docker") is not batch_docker:
        raise RuntimeError(f"moto did not accept its config: {applied}")


# `mlflow server` also starts, by default, a job runner with seven huey consumer processes (GenAI jobs the tests
# never use): each imports MLflow, which slowed the server's start-up, and they outlive a SIGTERM to the server.
MLFLOW_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def start_mlflow(data_dir: Path) -> ServiceInfo:
    """Start ``mlflow server`` (sqlite backend, artifacts served from a local directory, one worker)."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "mlflow.log"
    argv = [
        str(BIN / "mlflow"), "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{data_dir / 'mlflow.db'}",
        "--serve-artifacts", "--artifacts-destination", str(data_dir / "artifacts"),
        # MLflow 3's host-header check: allow exactly the names we (and host-network containers) use.
        "--allowed-hosts", f"127.0.0.1:{port},localhost:{port},127.0.0.1,localhost",
    ]  # fmt: skip
    pid = spawn(argv, log, env=_clean_env(**MLFLOW_SERVER_ENV))
    url = f"http://127.0.0.1:{port}"
    with stop_on_error(pid, expect="mlflow"):
        waited = wait_until(lambda: http_ok(f"{url}/health"), timeout=120, what="mlflow server", pid=pid, log=log)
    return {"url": url, "pids": [[pid, "mlflow"]], "startup_s": round(waited, 2), "log": str(log)}
