"""The flow graph: what the AST parser produces, what the runtime and the compilers consume.

Pure data. Nothing here imports the user's flow or touches the file system.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

StepType = Literal["start", "linear", "split", "foreach", "join", "end"]


@dataclass(frozen=True)
class Decorator:
    """A step decorator with its (JSON-serialisable) arguments, e.g. retry(times=3)."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepNode:
    """One step of a flow.

    `type` is what the step does when it ends: `linear` (one next), `split` (static fan-out),
    `foreach` (fan-out over `foreach_var`), `end`; `join` marks a step that receives `inputs`.
    A join step also carries the type of its own transition in `out_type`.
    """

    name: str
    lineno: int
    type: StepType
    out_funcs: tuple[str, ...]
    in_funcs: tuple[str, ...] = ()
    foreach_var: str | None = None
    is_join: bool = False
    decorators: tuple[Decorator, ...] = ()
    split_parents: tuple[str, ...] = ()
    matching_join: str | None = None
    doc: str = ""

    def decorator(self, name: str) -> Decorator | None:
        return next((d for d in self.decorators if d.name == name), None)


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    type: str  # "str" | "int" | "float" | "bool" | "json" | "file"
    default: Any = None
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class FlowGraph:
    name: str
    file: str
    steps: dict[str, StepNode]
    parameters: tuple[ParameterSpec, ...] = ()
    schedule: dict[str, Any] | None = None
    doc: str = ""
    project: str | None = None
    """`@project(name=...)` as written (Metaflow's spelling, e.g. `demo_project`)"""

    def __getitem__(self, name: str) -> StepNode:
        return self.steps[name]

    def __iter__(self):
        return iter(self.steps.values())

    def foreach_parents(self, step: str) -> tuple[str, ...]:
        """The enclosing foreach steps of `step`, outermost first."""
        return tuple(p for p in self.steps[step].split_parents if self.steps[p].type == "foreach")

    def foreach_depth(self, step: str) -> int:
        return len(self.foreach_parents(step))

    def topological(self) -> list[str]:
        """Step names in an order where every step comes after all its parents."""
        return topological_order(list(self.steps), {n: s.in_funcs for n, s in self.steps.items()})


def topological_order(names: list[str], parents: Mapping[str, Sequence[str]]) -> list[str]:
    """`names` ordered so that each comes after its parents (the graph must have no cycle)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for parent in parents.get(name, ()):
            visit(parent)
        order.append(name)

    for name in names:
        visit(name)
    return order
