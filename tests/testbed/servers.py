"""The HTTP servers of the test bed: moto (AWS APIs) and real ``mlflow server``s (plain and with MLflow's
basic-auth app), all on 127.0.0.1."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import secrets
import sys
import urllib.request
from pathlib import Path

from tests.testbed.procs import TestbedUnavailable, free_port, http_ok, spawn, stop_on_error, wait_until
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
    return _start_mlflow_server(data_dir)


def _start_mlflow_server(data_dir: Path, extra_args: tuple[str, ...] = (), **extra_env: str) -> ServiceInfo:
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "mlflow.log"
    argv = [
        str(BIN / "mlflow"), "server", *extra_args,
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{data_dir / 'mlflow.db'}",
        "--serve-artifacts", "--artifacts-destination", str(data_dir / "artifacts"),
        # MLflow 3's host-header check: allow exactly the names we (and host-network containers) use.
        "--allowed-hosts", f"127.0.0.1:{port},localhost:{port},127.0.0.1,localhost",
    ]  # fmt: skip
    pid = spawn(argv, log, env=_clean_env(**MLFLOW_SERVER_ENV, **extra_env))
    url = f"http://127.0.0.1:{port}"
    with stop_on_error(pid, expect="mlflow"):
        waited = wait_until(lambda: http_ok(f"{url}/health"), timeout=120, what="mlflow server", pid=pid, log=log)
    return {"url": url, "pids": [[pid, "mlflow"]], "startup_s": round(waited, 2), "log": str(log)}


AUTH_USERS = ("production", "branch")  # besides the admin the server creates itself


def start_mlflow_auth(data_dir: Path) -> ServiceInfo:
    """``mlflow server --app-name basic-auth`` with an admin, a production user and a branch user.

    Its own user store (sqlite) and a config with ``default_permission = READ`` (MLflow's default): anonymous
    requests get 401, a user may read what it was not granted and write only what it created or was given.
    Passwords are random per session and returned in the record (``users``), as the tests' credentials.
    """
    if importlib.util.find_spec("flask_wtf") is None:
        raise TestbedUnavailable("MLflow's basic-auth app needs the mlflow[auth] extra: make venv installs it")
    data_dir.mkdir(parents=True, exist_ok=True)
    users = {"admin": secrets.token_urlsafe(18), **{name: secrets.token_urlsafe(18) for name in AUTH_USERS}}
    config = data_dir / "basic_auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{data_dir / 'auth.db'}\nadmin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Each request otherwise re-hashes the password (PBKDF2), seconds per test on a busy machine.
        "auth_cache_ttl_seconds = 300\n"
    )
    info = _start_mlflow_server(
        data_dir,
        ("--app-name", "basic-auth"),
        MLFLOW_AUTH_CONFIG_PATH=str(config),
        MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),
        MLFLOW_AUTH_ADMIN_PASSWORD=users["admin"],
    )
    with stop_on_error(info["pids"][0][0], expect="mlflow"):
        for name in AUTH_USERS:
            _admin_post(info["url"], ("admin", users["admin"]), "/api/2.0/mlflow/users/create",
                        {"username": name, "password": users[name]})  # fmt: skip
    return {**info, "users": users}


def _admin_post(url: str, credentials: tuple[str, str], path: str, body: dict[str, str]) -> None:
    token = base64.b64encode(":".join(credentials).encode()).decode()
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30):
        pass
