"""`branchline run|show FLOW_FILE ...`: the same as `python FLOW_FILE run|show ...` (`resume`: cmd_resume)."""

from __future__ import annotations

from pathlib import Path

import typer

from branchline.runtime.flow_cli import main
from branchline.runtime.loader import load_flow_class

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def flow_main(flow_file: Path, flow: str | None, verb: str, args: list[str]) -> None:
    cls = load_flow_class(flow_file, flow)
    main(cls, [verb, *args], prog=f"branchline {verb} {flow_file}")


def register(app: typer.Typer) -> None:
    @app.command(context_settings=PASS_THROUGH,
                 help="Run a flow locally: branchline run flows/x.py [--param value ...]")
    def run(
        ctx: typer.Context,
        flow_file: Path = typer.Argument(..., help="The flow's .py file."),
        flow: str = typer.Option(None, "--flow", help="Flow class, when the file defines several."),
    ) -> None:
        flow_main(flow_file, flow, "run", ctx.args)

    @app.command(help="Show a flow's graph: steps, transitions, decorators, parameters.")
    def show(
        flow_file: Path = typer.Argument(..., help="The flow's .py file."),
        flow: str = typer.Option(None, "--flow", help="Flow class, when the file defines several."),
    ) -> None:
        flow_main(flow_file, flow, "show", [])
