"""`branchline run|resume|show FLOW_FILE ...`: the same as `python FLOW_FILE run|resume|show ...`."""

from __future__ import annotations

from pathlib import Path

import typer

from branchline.cli.cmd_aws import resume_execution_command
from branchline.errors import FlowError
from branchline.runtime.flow_cli import main
from branchline.runtime.loader import load_flow_class

_PASS = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _flow_main(flow_file: Path, flow: str | None, verb: str, args: list[str]) -> None:
    cls = load_flow_class(flow_file, flow)
    main(cls, [verb, *args], prog=f"branchline {verb} {flow_file}")


def _steps(args: list[str]) -> list[str]:
    """The `--step S` options among pass-through arguments (re-run from S even if it succeeded)."""
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--step"]


def register(app: typer.Typer) -> None:
    @app.command(context_settings=_PASS, help="Run a flow locally: branchline run flows/x.py [--param value ...]")
    def run(
        ctx: typer.Context,
        flow_file: Path = typer.Argument(..., help="The flow's .py file."),
        flow: str = typer.Option(None, "--flow", help="Flow class, when the file defines several."),
    ) -> None:
        _flow_main(flow_file, flow, "run", ctx.args)

    @app.command(context_settings=_PASS, help="Resume a failed run: branchline resume flows/x.py [RUN_ID] [--step S]; "
                 "on AWS: branchline resume --execution ARN|RUN_ID [-n NS] [--run-id NEW] [--dry-run]")
    def resume(
        ctx: typer.Context,
        flow_file: Path = typer.Argument(None, help="The flow's .py file (a local run)."),
        flow: str = typer.Option(None, "--flow", help="Flow class, when the file (or project) defines several."),
        execution: str = typer.Option(None, "--execution", help="A failed Step Functions execution: its ARN, or its "
                                      "run id with --namespace."),
        namespace: str = typer.Option(None, "--namespace", "-n", help="With --execution RUN_ID: its namespace."),
        run_id: str = typer.Option(None, "--run-id", help="With --execution: the new run's id."),
        dry_run: bool = typer.Option(False, "--dry-run", help="With --execution: say what would run; start nothing."),
    ) -> None:
        if execution:
            resume_execution_command(execution, namespace=namespace, flow=flow, run_id=run_id, dry_run=dry_run,
                                     rerun=tuple(_steps(ctx.args)))
            return
        if flow_file is None:
            raise FlowError("say which run to resume", hint="branchline resume flows/x.py [RUN_ID] (a local run), or "
                            "branchline resume --execution ARN (a run on AWS)")
        _flow_main(flow_file, flow, "resume", ctx.args)

    @app.command(help="Show a flow's graph: steps, transitions, decorators, parameters.")
    def show(
        flow_file: Path = typer.Argument(..., help="The flow's .py file."),
        flow: str = typer.Option(None, "--flow", help="Flow class, when the file defines several."),
    ) -> None:
        _flow_main(flow_file, flow, "show", [])
