"""`branchline task`: run one task of a flow (the step image's command; see `runtime/entrypoint.py`)."""

from __future__ import annotations

import sys

import typer

from branchline.runtime.entrypoint import run_from_env


def register(app: typer.Typer) -> None:
    @app.command(help="Run one task (used inside step containers; reads BRANCHLINE_* variables, which the options "
                      "override).\n\nExample: branchline task --flow-file flows/train_flow.py --step start "
                      "--run-id r1 --task-id 0 --namespace user-alice --datastore .branchline/datastore")
    def task(
        flow_file: str = typer.Option(None, "--flow-file", help="The flow's .py file (BRANCHLINE_FLOW_FILE)."),
        step: str = typer.Option(None, "--step", help="The step to run (BRANCHLINE_STEP)."),
        run_id: str = typer.Option(None, "--run-id", help="The run (BRANCHLINE_RUN_ID)."),
        task_id: str = typer.Option(None, "--task-id", help="The task (BRANCHLINE_TASK_ID)."),
        namespace: str = typer.Option(None, "--namespace", help="The namespace (BRANCHLINE_NAMESPACE)."),
        datastore: str = typer.Option(None, "--datastore", help="Datastore root, a directory or s3:// URL."),
        code_package: str = typer.Option(None, "--code-package", help="s3:// URL of the code package to unpack."),
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
