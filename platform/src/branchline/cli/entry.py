"""The `branchline` console script: `branchline task` (every Batch container's command) goes straight to the task
entry point, without loading the command line's Typer app and every command module (~0.15 s per task)."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["task"]:
        from branchline.runtime.entrypoint import main as run_task

        run_task()
    else:
        from branchline.cli.main import main as run_cli

        run_cli()
