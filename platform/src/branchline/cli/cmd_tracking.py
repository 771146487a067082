"""`branchline tracking bootstrap`: production claims its MLflow experiments and registered models first."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from branchline.config import load_config
from branchline.gate.policy import load_policy
from branchline.tracking.bootstrap import bootstrap as run

console = Console(highlight=False)


def register(app: typer.Typer) -> None:
    tracking = typer.Typer(help="MLflow tracking on a server with authentication.\n\n"
                                "Example: branchline tracking bootstrap", no_args_is_help=True)

    @tracking.command(
        help="Create (or check) production's experiments and registered models as the production identity, "
        "before any branch can claim their names; grant branch users READ on them and EDIT on the dev ones.\n\n"
        "Example: MLFLOW_TRACKING_USERNAME=prod MLFLOW_TRACKING_PASSWORD=... branchline tracking bootstrap"
    )
    def bootstrap(
        flow: list[str] = typer.Option(None, "--flow", help="A flow to claim (default: every flow with a gate)"),
        production_user: str = typer.Option(
            None, "--production-user", help="The production identity (default: the caller, MLFLOW_TRACKING_USERNAME)"
        ),
        branch_user: list[str] = typer.Option(None, "--branch-user", help="A branch identity (repeatable)"),
        project_dir: Path = typer.Option(Path("."), "--project-dir", help="The project (with pyproject.toml)"),
    ) -> None:
        config = load_config(project_dir)
        gated = sorted(config.section("gates"))
        flows = list(dict.fromkeys([*(flow or []), *gated]))
        if not flows:
            raise typer.BadParameter("no flow to claim: pass --flow NAME or configure [tool.branchline.gates.<Flow>]")
        models = {name: load_policy(config, name).model for name in gated}
        for line in run(config.tracking_uri, config.project, flows=flows, models=models,
                        production_user=production_user, branch_users=branch_user or []):  # fmt: skip
            console.print(line, markup=False)

    app.add_typer(tracking, name="tracking")
