"""`show`: the flow's graph as a data scientist reads it."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from branchline.graph.model import FlowGraph


def _describe(graph: FlowGraph, name: str) -> str:
    node = graph[name]
    if node.type == "end":
        return "(end)"
    targets = ", ".join(node.out_funcs)
    if node.type == "foreach":
        return f"→ {targets}  foreach over self.{node.foreach_var}"
    if node.type == "split":
        return f"→ {targets}  (in parallel)"
    return f"→ {targets}"


def render_graph(graph: FlowGraph, console: Console) -> None:
    console.print(f"[bold]{graph.name}[/]  ({graph.file})")
    if graph.doc:
        console.print(graph.doc)
    table = Table(box=None, pad_edge=False)
    for column in ("step", "line", "next", "decorators"):
        table.add_column(column)
    for name in graph.topological():
        node = graph[name]
        decos = " ".join(
            f"@{d.name}({', '.join(f'{k}={v}' for k, v in d.args.items() if v is not None)})" for d in node.decorators
        )
        label = f"{name} (join)" if node.is_join else name
        table.add_row(label, str(node.lineno), _describe(graph, name), decos)
    console.print(table)
    if graph.parameters:
        console.print("[bold]parameters[/]")
        for p in graph.parameters:
            req = " required" if p.required else ""
            console.print(f"  --{p.name} ({p.type}{req}) default={p.default!r}  {p.help}")
    if graph.schedule:
        console.print(f"[bold]schedule[/] cron({graph.schedule['cron']}) in production")
