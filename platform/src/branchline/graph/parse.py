"""A flow's source text → its validated `FlowGraph`. Pure: reads nothing but the text it is given.

Decorator arguments and parameters come from the caller when it has the live class (they may be
computed; see `runtime.loader.graph_from_class`), else from literal values in the source.
"""

from __future__ import annotations

from typing import Any

from branchline.graph.model import Decorator, FlowGraph, ParameterSpec, StepNode
from branchline.graph.problems import FlowGraphError, GraphProblem
from branchline.graph.rules import validate
from branchline.graph.source import read_flow

__all__ = ["FlowGraphError", "GraphProblem", "build_graph"]


def build_graph(
    source: str,
    file: str,
    class_name: str | None = None,
    *,
    live_decorators: dict[str, dict[str, dict[str, Any]]] | None = None,
    parameters: tuple[ParameterSpec, ...] = (),
    schedule: dict[str, Any] | None = None,
    project: str | None = None,
) -> FlowGraph:
    """Parse and validate; raise FlowGraphError listing every problem found."""
    flow = read_flow(source, file, class_name)
    validate(flow)
    live = live_decorators or {}
    splits = flow.splits
    steps = {
        name: StepNode(
            name=name,
            lineno=step.lineno,
            type=step.transition,
            out_funcs=step.out_funcs,
            in_funcs=flow.in_funcs[name],
            foreach_var=step.call.foreach if step.call and step.transition == "foreach" else None,
            is_join=step.takes_inputs,
            decorators=tuple(Decorator(k, dict(v)) for k, v in sorted(live.get(name, step.decorators).items())),
            split_parents=splits.open_splits[name],
            matching_join=splits.matching_join(name),
            doc=step.doc,
        )
        for name, step in flow.steps.items()  # source order
    }
    return FlowGraph(
        name=flow.name, file=file, steps=steps, parameters=parameters, schedule=schedule, doc=flow.doc,
        project=project,
    )
