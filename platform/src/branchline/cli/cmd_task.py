"""`branchline task`: run one task of a flow (the step image's command; see `runtime/entrypoint.py`)."""

from __future__ import annotations

import sys

import typer

from branchline.runtime.entrypoint import run_from_env


def register(app: typer.Typer) -> None:
    @app.command(help="Run one task (used inside step containers; reads BRANCHLINE_* variables).")
    def task(
        flow_file: str = typer.Option(None, "--flow-file"),
        step: str = typer.Option(None, "--step"),
        run_id: str = typer.Option(None, "--run-id"),
        task_id: str = typer.Option(None, "--task-id"),
        namespace: str = typer.Option(None, "--namespace"),
        datastore: str = typer.Option(None, "--datastore"),
        code_package: str = typer.Option(None, "--code-package"),
    ) -> None:
        code = run_from_env(
            flow_file=flow_file,
            step=step,
            run_id=run_id,
            task_id=task_id,
            namespace=namespace,
            datastore=datastore,
            code_package=code_package,
        )
        sys.exit(code)
