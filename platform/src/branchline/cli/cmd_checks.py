"""`branchline checks run`: a GX suite on a data file, outside any flow (CI, a notebook's output, a drop)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from branchline.checks import CheckResult, DataChecksFailed, validate
from branchline.checks.files import read_frame

console = Console(highlight=False)


def results_table(result: CheckResult) -> Table:
    table = Table(title=f"suite {result.suite}", title_justify="left")
    for column in ("", "expectation", "column", "observed"):
        table.add_column(column, overflow="fold")
    for outcome in result.outcomes:
        mark = "[green]pass[/]" if outcome.success else "[red]FAIL[/]"
        table.add_row(mark, outcome.type, outcome.column or "", outcome.observed, end_section=False)
    return table


def register(app: typer.Typer) -> None:
    checks = typer.Typer(help="Great Expectations data checks (suites in gx/expectations/).\n\n"
                         "Example: branchline checks run --suite raw_data --data data/iris.csv", no_args_is_help=True)
    app.add_typer(checks, name="checks")

    @checks.command("run", help="Validate a CSV/Parquet file against a suite; exit 1 if any expectation fails.\n\n"
                    "Example: branchline checks run --suite raw_data --data data/iris.csv")
    def run(
        suite: str = typer.Option(..., "--suite", help="Suite name: gx/expectations/<suite>.json"),
        data: Path = typer.Option(..., "--data", help="A .csv or .parquet file"),
        project_dir: Path = typer.Option(Path("."), "--project-dir", help="Project (or its gx/) directory"),
    ) -> None:
        frame = read_frame(data)
        result = validate(frame, suite, raise_on_failure=False, context_root=project_dir)
        console.print(results_table(result))
        if result.success:
            console.print(f"[green]passed[/]: {result.evaluated} expectations of suite {suite} hold on {data}")
            return
        raise DataChecksFailed(result)  # the CLI prints it (each failed expectation) and exits 1
