"""`branchline`: the command line (Typer + Rich).

Sub-command modules `branchline/cli/cmd_*.py` register themselves through `register(app)`;
heavy third-party imports (boto3, mlflow, docker, GX, pandas) happen only where they are used,
so `branchline run` and `--help` start fast (tests/platform/test_layers.py checks it).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from rich.console import Console
from rich.markup import escape

import branchline.cli
from branchline.errors import BranchlineError

app = typer.Typer(
    name="branchline",
    help="Run ML flows locally, deploy them to AWS Step Functions + Batch, track them in MLflow.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, highlight=False)


def _load_commands() -> None:
    for info in sorted(pkgutil.iter_modules(branchline.cli.__path__), key=lambda i: i.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"branchline.cli.{info.name}")
            register = getattr(module, "register", None)
            if register is not None:
                register(app)


_load_commands()


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
