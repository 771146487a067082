"""Read a flow class from its source text into plain facts (steps, their `self.next()` calls), judging nothing.

Transitions come from the source, not from running the flow, so a broken graph is reported with file,
line and step before any task starts. Whether the facts make a valid graph is `rules.py`'s question.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, NamedTuple

from branchline.graph.problems import FlowGraphError, GraphProblem
from branchline.graph.splits import Splits, analyse_splits

STEP_DECORATORS = frozenset({"resources", "retry", "timeout", "catch", "environment", "batch", "pypi"})

Transition = Literal["end", "linear", "split", "foreach"]


class NextCall(NamedTuple):
    """One `self.next(...)` call as written: its steps, its foreach variable, and what it got wrong."""

    lineno: int
    targets: tuple[str, ...]
    foreach: str | None = None
    bad_args: int = 0
    """arguments not written as `self.<step>`"""
    bad_keywords: tuple[str | None, ...] = ()
    """keywords other than a literal `foreach="..."` (None for `**kwargs`)"""


class StepSource(NamedTuple):
    """One `@step` method as written."""

    name: str
    lineno: int
    takes_inputs: bool
    next_calls: tuple[NextCall, ...]
    decorators: dict[str, dict[str, Any]] = {}  # facts as read: never mutated, so one shared default is safe
    doc: str = ""

    @property
    def call(self) -> NextCall | None:
        """The transition the step declares: its first `self.next()` call."""
        return self.next_calls[0] if self.next_calls else None

    @property
    def transition(self) -> Transition:
        call = self.call
        if self.name == "end":
            return "end"
        if call is not None and call.foreach is not None:
            return "foreach"
        return "split" if call is not None and len(call.targets) > 1 else "linear"

    @property
    def out_funcs(self) -> tuple[str, ...]:
        return () if self.name == "end" or self.call is None else self.call.targets

    @property
    def next_line(self) -> int:
        """Where a problem with the step's transition points: its `self.next()`, else the step."""
        return self.call.lineno if self.call else self.lineno


@dataclass
class FlowSource:
    """A flow class as written; rules read it, `build_graph` turns it into a `FlowGraph`."""

    file: str
    name: str
    lineno: int
    steps: dict[str, StepSource]
    doc: str = ""

    def problem(self, line: int, step: str | None, message: str) -> GraphProblem:
        return GraphProblem(self.file, line, step, message)

    @cached_property
    def in_funcs(self) -> dict[str, tuple[str, ...]]:
        """step → the steps whose transition names it, in source order (unknown names are left out)."""
        parents: dict[str, list[str]] = {n: [] for n in self.steps}
        for name, step in self.steps.items():
            for target in step.out_funcs:
                if target in parents:
                    parents[target].append(name)
        return {n: tuple(p) for n, p in parents.items()}

    @cached_property
    def splits(self) -> Splits:
        """Open splits and joins; meaningful once the graph is known to be acyclic (`rules.Stage.JOINS`)."""
        fans = {n for n, s in self.steps.items() if s.transition in ("split", "foreach")}
        return analyse_splits(self.in_funcs, fans, {n for n, s in self.steps.items() if s.takes_inputs})


def read_flow(source: str, file: str, class_name: str | None = None) -> FlowSource:
    """The facts of `class_name` (else the last FlowSpec subclass); unreadable source raises FlowGraphError."""
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError as exc:
        raise FlowGraphError([GraphProblem(file, exc.lineno or 1, None, f"syntax error: {exc.msg}")]) from None
    cls_node = _find_class(tree, class_name)
    if cls_node is None:
        what = f"class {class_name}" if class_name else "a FlowSpec subclass"
        raise FlowGraphError([GraphProblem(file, 1, None, f"no {what} found")])
    steps = [_step(node) for node in cls_node.body if isinstance(node, ast.FunctionDef) and _is_step(node)]
    doc = ast.get_docstring(cls_node) or ""
    return FlowSource(file, cls_node.name, cls_node.lineno, {s.name: s for s in steps}, doc)


def _find_class(tree: ast.Module, class_name: str | None) -> ast.ClassDef | None:
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    if class_name:
        return next((c for c in classes if c.name == class_name), None)
    flows = [c for c in classes if any(_name_of(b) == "FlowSpec" for b in c.bases)]
    return flows[-1] if flows else None


def _name_of(node: ast.expr) -> str | None:
    """`name` for `name`, `mod.name`, `name(...)` and `mod.name(...)`."""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def _is_step(func: ast.FunctionDef) -> bool:
    return any(_name_of(d) == "step" for d in func.decorator_list)


def _literal_kwargs(node: ast.expr) -> dict[str, Any]:
    """Decorator arguments that are literals; computed ones are None (the live class knows them)."""
    if not isinstance(node, ast.Call):
        return {}
    values: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            continue
        try:
            values[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            values[kw.arg] = None
    return values


def _self_attribute(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr
    return None


def _next_call(call: ast.Call) -> NextCall:
    targets = [name for arg in call.args if (name := _self_attribute(arg)) is not None]
    foreach = None
    bad_keywords: list[str | None] = []
    for kw in call.keywords:
        if kw.arg == "foreach" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
            foreach = kw.value.value
        else:
            bad_keywords.append(kw.arg)
    return NextCall(call.lineno, tuple(targets), foreach, len(call.args) - len(targets), tuple(bad_keywords))


def _step(func: ast.FunctionDef) -> StepSource:
    calls = sorted(
        (n for n in ast.walk(func) if isinstance(n, ast.Call) and _self_attribute(n.func) == "next"),
        key=lambda c: (c.lineno, c.col_offset),
    )
    decorators = {
        name: _literal_kwargs(d) for d in func.decorator_list if (name := _name_of(d)) in STEP_DECORATORS
    }
    return StepSource(
        name=func.name,
        lineno=func.lineno,
        takes_inputs=len(func.args.args) >= 2,
        next_calls=tuple(_next_call(c) for c in calls),
        decorators=decorators,
        doc=ast.get_docstring(func) or "",
    )
