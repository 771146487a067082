"""Render a plan for people: a Rich table (what `deploy --dry-run` and `teardown --dry-run` print)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from branchline.aws.deploy.models import Plan


def plan_table(plan: Plan, title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("call", style="cyan", no_wrap=True)
    table.add_column("what")
    for index, call in enumerate(plan.calls, start=1):
        table.add_row(str(index), f"{call.service}.{call.operation}", call.description)
    return table


def print_plan(plan: Plan, title: str, console: Console | None = None) -> None:
    console = console or Console()
    if not plan.calls:
        console.print(f"{title}: [green]nothing to do[/] (everything is up to date)")
        return
    console.print(plan_table(plan, title))
    for note in plan.notes:
        console.print(f"[dim]{note}[/]")
