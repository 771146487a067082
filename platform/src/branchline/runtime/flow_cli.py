"""The command line every flow file gets: `python flows/x.py run|resume|show|step-functions ...`.

Built on click (Typer's own foundation) because a flow's options come from its Parameters at run
time. `branchline run flows/x.py ...` goes through the same code.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from branchline.authoring.attach import parse_all
from branchline.authoring.flowspec import FlowSpec
from branchline.authoring.parameters import declared_parameters
from branchline.authoring.project import Placement
from branchline.authoring.unsupported import COMMANDS as UNSUPPORTED_COMMANDS
from branchline.authoring.unsupported import unsupported_command
from branchline.errors import BranchlineError, FlowError
from branchline.runtime.launcher import LocalSession, resolve_params
from branchline.runtime.loader import graph_from_class
from branchline.runtime.local import RunOptions
from branchline.runtime.run_info import local_placement
from branchline.runtime.show import render_graph

_CLICK_TYPES = {
    "int": click.INT,
    "float": click.FLOAT,
    "bool": click.STRING,
    "str": click.STRING,
    "json": click.STRING,
    "file": click.STRING,
}


def _run_options(func: Any) -> Any:
    func = click.option(
        "--max-workers", type=click.IntRange(1, 1024), default=16, show_default=True, help="Tasks run at once."
    )(func)
    func = click.option("--quiet", is_flag=True, help="Only print errors and the result.")(func)
    func = click.option(
        "--with", "with_", multiple=True, metavar="DECORATOR[:k=v,...]",
        help="Attach a decorator to every step, as if written on each (a step's own wins): "
        "--with batch, --with batch:cpu=4,memory=16000, --with retry, --with timeout:minutes=10. Repeatable.",
    )(func)  # fmt: skip
    func = click.option(
        "--wait-tracking/--no-wait-tracking",
        default=None,
        help="Wait until MLflow has recorded the run before exiting (default: wait when the flow imports mlflow).",
    )(func)
    return func


def parameter_options(flow_cls: type[FlowSpec], command: Any) -> Any:
    """One `--<name>` option per Parameter of the flow (values reach the command as `param_<name>`)."""
    for p in declared_parameters(flow_cls):
        command = click.option(
            f"--{p.name}",
            _dest(p.name),
            type=_CLICK_TYPES.get(p.type_name, click.STRING),
            default=None,
            help=(p.help or "")
            + (f" [default: {p.default!r}]" if p.default is not None and not callable(p.default) else "")
            + (" [required]" if p.required else ""),
        )(command)
    return command


def given_parameters(flow_cls: type[FlowSpec], raw: dict[str, Any]) -> dict[str, Any]:
    """The Parameters given on the command line, by name."""
    return {p.name: raw[_dest(p.name)] for p in declared_parameters(flow_cls) if raw.get(_dest(p.name)) is not None}


def placement(branch: str | None = None, production: bool = False) -> Placement:
    """Where this invocation runs or deploys: the command's --branch/--production, else the flow file's own
    (`python flow.py --branch x run`, as Metaflow's @project options), else the default."""
    root = click.get_current_context().find_root()
    flow_cls, top_branch, top_production = root.obj
    return local_placement(flow_cls, branch=branch if branch is not None else top_branch,
                           production=production or top_production)


class _LazyGroup(click.Group):
    """A command group built when it is used: `run` does not import what `step-functions` needs."""

    def __init__(self, name: str, build: Callable[[], click.Group], **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._build = build

    @functools.cached_property
    def _group(self) -> click.Group:
        return self._build()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._group.list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._group.get_command(ctx, name)


def _step_functions(flow_cls: type[FlowSpec], console: Console) -> click.Group:
    # The flow file's Step Functions commands deploy, trigger and list: they live with the other commands
    # (cli layer), loaded only when used. One of the two deliberate upward imports (docs/architecture.md).
    from branchline.cli.step_functions import build_group

    return build_group(flow_cls, console)


def build_cli(flow_cls: type[FlowSpec], console: Console) -> click.Group:
    @click.group(help=(flow_cls.__doc__ or f"The {flow_cls.__name__} flow.").strip())
    @click.option("--branch", default=None,
                  help="Run or deploy in the namespace of this branch (Metaflow's @project --branch).")
    @click.option("--production", is_flag=True, help="Run or deploy in the production namespace, prod.")
    @click.pass_context
    def cli(ctx: click.Context, branch: str | None, production: bool) -> None:
        ctx.obj = (flow_cls, branch, production)

    def session(with_: tuple[str, ...]) -> LocalSession:
        return LocalSession(flow_cls, console, placement(), attached=parse_all(with_))

    def wait_default(flag: bool | None) -> bool:
        if flag is not None:
            return flag
        return "mlflow" in sys.modules or os.environ.get("BRANCHLINE_WAIT_TRACKING") == "1"

    @cli.command(help="Run the flow on this machine.")
    @_run_options
    @click.option("--run-id", default=None, help="Name this run (default: a timestamp).")
    def run(
        max_workers: int, quiet: bool, with_: tuple[str, ...], wait_tracking: bool | None, run_id: str | None,
        **raw: Any,
    ) -> None:
        s = session(with_)
        values = resolve_params(flow_cls, given_parameters(flow_cls, raw))
        s.run(
            values,
            RunOptions(max_workers=max_workers, run_id=run_id, quiet=quiet),
            wait_tracking=wait_default(wait_tracking),
        )

    run = parameter_options(flow_cls, run)

    @cli.command(help="Re-run a failed run from its failed step, reusing the tasks that succeeded.")
    @click.argument("origin_run_id", required=False)
    @click.option("--step", "resume_step", default=None, help="Re-run from this step even if it succeeded.")
    @_run_options
    def resume(
        origin_run_id: str | None, resume_step: str | None, max_workers: int, quiet: bool, with_: tuple[str, ...],
        wait_tracking: bool | None,
    ) -> None:
        s = session(with_)
        origin = origin_run_id or s.latest_run_id()
        if origin is None:
            raise FlowError(f"no earlier run of {flow_cls.__name__} to resume in namespace {s.namespace}")
        s.run(
            s.origin_params(origin),
            RunOptions(max_workers=max_workers, origin_run_id=origin, resume_step=resume_step, quiet=quiet),
            wait_tracking=wait_default(wait_tracking),
        )

    @cli.command(help="Show the flow's steps, transitions and decorators.")
    def show() -> None:
        render_graph(graph_from_class(flow_cls), console)

    cli.add_command(_LazyGroup("step-functions", lambda: _step_functions(flow_cls, console),
                               help="Deploy the flow to AWS Step Functions, trigger and list its runs."))
    for name, spec in UNSUPPORTED_COMMANDS.items():
        cli.add_command(click.Command(
            name, callback=unsupported_command(name), help=f"Not supported by branchline: {spec.instead}",
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False,
        ))
    return cli


def _dest(name: str) -> str:
    return "param_" + name.replace("-", "_")


def main(flow_cls: type[FlowSpec], argv: Sequence[str], *, prog: str | None = None, flow_file: str | None = None
         ) -> None:
    """Run the flow CLI and exit; user mistakes print one line, no traceback. `flow_file`: run as
    `branchline VERB FLOW_FILE ...`, whose usage lines read `branchline run FLOW_FILE [OPTIONS]`."""
    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        cli = build_cli(flow_cls, console)
        if flow_file is not None:
            for command in cli.commands.values():
                command.options_metavar = f"{flow_file} {command.options_metavar}"
        cli.main(args=list(argv), prog_name=prog or os.path.basename(sys.argv[0]), standalone_mode=False)
    except BranchlineError as exc:
        err.print("[red]error:[/] " + escape(str(exc)), highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    sys.exit(0)
