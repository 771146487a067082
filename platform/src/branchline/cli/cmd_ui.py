"""`branchline ui`: the MLflow UI on this project's tracking store (the local sqlite store by default)."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys

import typer

from branchline.config import Config, load_config
from branchline.errors import BranchlineError, ConfigError
from branchline.tracking.connect import is_http, prepare_local_store, sqlite_path


def ui_command(uri: str, *, host: str, port: int, python: str) -> list[str]:
    """The `mlflow server` command line serving a local store, artifacts beside the database."""
    argv = [python, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    db = sqlite_path(uri)
    if db is not None:
        argv += ["--artifacts-destination", (db.parent / "mlartifacts").resolve().as_uri(), "--workers", "1"]
    return argv


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise BranchlineError(
                f"cannot serve the MLflow UI on {host}:{port}: {exc.strerror}",
                hint="pass another --port (or stop what is listening there)",
            ) from None


def require_project(config: Config) -> None:
    """The UI serves a project's store: outside one it would create an empty store wherever it was started
    (and start an MLflow server on it), which helps nobody."""
    if config.source is None:
        raise ConfigError(
            f"no branchline project at or above {config.root}: `branchline ui` shows a project's MLflow store",
            hint="cd into your project (the directory whose pyproject.toml has [tool.branchline]) and run it there",
        )


def register(app: typer.Typer) -> None:
    @app.command(help="Open the MLflow UI on this project's tracking store (.branchline/mlflow.db by default); "
                      "run it inside the project.\n\nExample: cd my-project && branchline ui --port 5001")
    def ui(
        port: int = typer.Option(5000, "--port", "-p", help="Port to listen on."),
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (0.0.0.0 exposes it)."),
    ) -> None:
        config = load_config()
        require_project(config)
        uri = config.tracking_uri
        if is_http(uri):
            typer.echo(f"this project tracks to a remote MLflow server: open {uri}")
            return
        if importlib.util.find_spec("mlflow") is None:
            raise BranchlineError("MLflow is not installed", hint="pip install 'branchline[tracking]'")
        _check_port_free(host, port)
        prepare_local_store(uri)
        typer.echo(f"MLflow UI on http://{host}:{port} (store {uri}); Ctrl-C stops it", err=True)
        argv = ui_command(uri, host=host, port=port, python=sys.executable)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, argv)  # the UI replaces this process: signals reach it directly
