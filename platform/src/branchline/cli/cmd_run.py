"""`branchline run|show FLOW_FILE ...`: the same as `python FLOW_FILE run|show ...` (`resume`: cmd_resume)."""

from __future__ import annotations

from pathlib import Path

import typer

from branchline.runtime.flow_cli import main
from branchline.runtime.loader import load_flow_class

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


HELP = ("--help", "-h")


def help_if_asked(ctx: typer.Context, flow_file: Path | None) -> None:
    """`--help` before the flow file is this command's help (after it, the flow's own, with its parameters):
    the flow file is passed through unparsed, so Click never sees it."""
    if flow_file is not None and str(flow_file) in HELP:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def flow_main(flow_file: Path, flow: str | None, verb: str, args: list[str]) -> None:
    cls = load_flow_class(flow_file, flow)
    main(cls, [verb, *args], prog="branchline", flow_file=str(flow_file))


def register(app: typer.Typer) -> None:
    @app.command(context_settings=PASS_THROUGH, help="Run a flow locally, as `python FLOW_FILE run` does; the "
                 "flow's parameters follow the file (`branchline run flows/x.py --help` lists them).\n\n"
                 "Example: branchline run flows/train_flow.py --alpha 0.2 --max-workers 4")
    def run(
        ctx: typer.Context,
        flow_file: Path = typer.Argument(..., metavar="FLOW_FILE", help="The flow's .py file."),
        flow: str = typer.Option(None, "--flow", help="Flow class, when the file defines several."),
    ) -> None:
        help_if_asked(ctx, flow_file)
        flow_main(flow_file, flow, "run", ctx.args)

    @app.command(help="Show a flow's graph: steps, transitions, decorators, parameters.\n\n"
                      "Example: branchline show flows/train_flow.py")
    def show(
        ctx: typer.Context,
        flow_file: Path = typer.Argument(..., metavar="FLOW_FILE", help="The flow's .py file."),
        flow: str = typer.Option(None, "--flow", help="Flow class, when the file defines several."),
    ) -> None:
        help_if_asked(ctx, flow_file)
        flow_main(flow_file, flow, "show", [])
