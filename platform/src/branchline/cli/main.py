"""`branchline`: the command line (Typer + Rich).

Each `branchline/cli/cmd_*.py` registers its commands through `register(app)` and imports what it needs at
its top. `COMMANDS` says which module owns which command, so a command loads only its own module: `branchline
run` and `branchline task` never import the deployer, the gate or CI, and `--help` (which lists them all)
imports no heavy library (boto3, mlflow, docker, GX, pandas load only where they are used). Both are checked by
tests/platform/test_layers.py.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
import typer.main
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from branchline.errors import BranchlineError

COMMANDS = {  # command -> the module of branchline.cli that registers it, in the order --help lists them
    "deploy": "cmd_aws",
    "trigger": "cmd_aws",
    "status": "cmd_aws",
    "logs": "cmd_aws",
    "teardown": "cmd_aws",
    "rollback": "cmd_aws",
    "promote": "cmd_promote",
    "run": "cmd_run",
    "resume": "cmd_resume",
    "show": "cmd_run",
    "task": "cmd_task",
    "ui": "cmd_ui",
    "checks": "cmd_checks",
    "ci": "cmd_ci",
    "image": "cmd_image",
    "infra": "cmd_infra",
    "tracking": "cmd_tracking",
}


def plain_help(command: Any) -> Any:
    """Help as written, for a command and its subcommands: Rich markup would eat `[tool.branchline.gates.<flow>]`
    and Typer's Rich panels show `<bool>` after every flag."""
    command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
    return command


def commands_of(module: str) -> dict[str, Any]:
    """The commands (and command groups) that `branchline.cli.<module>` registers, as (Typer's) click commands."""
    registry = typer.Typer()
    importlib.import_module(f"branchline.cli.{module}").register(registry)
    return {name: plain_help(command) for name, command in typer.main.get_group(registry).commands.items()}


class LazyCommands(TyperGroup):
    """The top-level group: a command's module is imported the first time the command is looked up."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            for name, command in commands_of(COMMANDS[cmd_name]).items():
                self.add_command(command, name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=LazyCommands,
    name="branchline",
    help="Run ML flows locally, deploy them to AWS Step Functions + Batch, track them in MLflow.\n\n"
    "Example: branchline run flows/train_flow.py --alpha 0.2",
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, highlight=False)


@app.callback()
def _group() -> None:
    # a callback makes Typer build a group even though no command is registered up front
    pass


def main() -> None:
    """Entry point: user mistakes print one line, no traceback."""
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of raising it
        if isinstance(code, int) and code:
            sys.exit(code)
    except BranchlineError as exc:
        err_console.print("[red]error:[/] " + escape(str(exc)), soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:
        # usage errors: typer vendors its own click, so recognise them by shape, not by class
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
