"""Read a flow's DAG from its source (AST) and validate it before anything runs.

Transitions come from the `self.next(...)` calls in the source, so a broken graph is reported
with file, line and step before any task starts. Decorator arguments and parameters come from
the live class when one is given (they may be computed), else from literal values in the source.
"""

from __future__ import annotations

import ast
import difflib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from branchline.errors import BranchlineError
from branchline.graph.model import Decorator, FlowGraph, ParameterSpec, StepNode, topological_order

_STEP_DECORATORS = {"resources", "retry", "timeout", "catch", "environment"}


class FlowGraphError(BranchlineError):
    """One or more mistakes in a flow's graph, each with file, line and step."""

    def __init__(self, problems: list[GraphProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.step or ""))
        lines = [str(p) for p in self.problems]
        head = "the flow graph is invalid:" if len(lines) > 1 else "the flow graph is invalid"
        super().__init__(f"{head}\n  " + "\n  ".join(lines) if len(lines) > 1 else f"{head}: {lines[0]}")


@dataclass(frozen=True)
class GraphProblem:
    file: str
    line: int
    step: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: step '{self.step}': {self.message}" if self.step else f"{where}: {self.message}"


@dataclass
class _RawStep:
    name: str
    lineno: int
    takes_inputs: bool
    next_calls: list[ast.Call]
    decorators: dict[str, dict[str, Any]]
    doc: str


def _is_step_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return (isinstance(target, ast.Name) and target.id == "step") or (
        isinstance(target, ast.Attribute) and target.attr == "step"
    )


def _decorator_name(node: ast.expr) -> str | None:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def _literal_kwargs(node: ast.expr) -> dict[str, Any]:
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


def _next_calls(func: ast.FunctionDef) -> list[ast.Call]:
    calls = []
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "next"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "self"
        ):
            calls.append(node)
    return sorted(calls, key=lambda c: (c.lineno, c.col_offset))


def _find_class(tree: ast.Module, class_name: str | None) -> ast.ClassDef | None:
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    if class_name:
        return next((c for c in classes if c.name == class_name), None)
    flows = [
        c
        for c in classes
        if any(
            (isinstance(b, ast.Name) and b.id == "FlowSpec") or (isinstance(b, ast.Attribute) and b.attr == "FlowSpec")
            for b in c.bases
        )
    ]
    return flows[-1] if flows else None


def _raw_steps(cls_node: ast.ClassDef) -> list[_RawStep]:
    steps = []
    for node in cls_node.body:
        if not isinstance(node, ast.FunctionDef) or not any(_is_step_decorator(d) for d in node.decorator_list):
            continue
        decos = {
            name: _literal_kwargs(d) for d in node.decorator_list if (name := _decorator_name(d)) in _STEP_DECORATORS
        }
        args = [a.arg for a in node.args.args]
        steps.append(
            _RawStep(
                name=node.name,
                lineno=node.lineno,
                takes_inputs=len(args) >= 2,
                next_calls=_next_calls(node),
                decorators=decos,
                doc=ast.get_docstring(node) or "",
            )
        )
    return steps


def _transition(
    raw: _RawStep, names: set[str], file: str, problems: list[GraphProblem]
) -> tuple[str, tuple[str, ...], str | None]:
    """(type, out_funcs, foreach_var) of one step, recording problems."""
    if raw.name == "end":
        if raw.next_calls:
            problems.append(
                GraphProblem(file, raw.next_calls[0].lineno, "end", "the end step must not call self.next()")
            )
        return "end", (), None
    if not raw.next_calls:
        problems.append(
            GraphProblem(
                file, raw.lineno, raw.name, "never calls self.next(); every step but 'end' must name its next step"
            )
        )
        return "linear", (), None
    if len(raw.next_calls) > 1:
        lines = ", ".join(str(c.lineno) for c in raw.next_calls)
        problems.append(
            GraphProblem(
                file,
                raw.next_calls[1].lineno,
                raw.name,
                f"calls self.next() {len(raw.next_calls)} times (lines {lines}); "
                "call it exactly once, as the last statement",
            )
        )
    call = raw.next_calls[0]
    targets: list[str] = []
    for arg in call.args:
        if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "self":
            if arg.attr not in names:
                close = difflib.get_close_matches(arg.attr, sorted(names), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append(
                    GraphProblem(file, call.lineno, raw.name, f"self.next() names unknown step '{arg.attr}'{hint}")
                )
            targets.append(arg.attr)
        else:
            problems.append(GraphProblem(file, call.lineno, raw.name, "self.next() takes steps written as self.<step>"))
    foreach = None
    for kw in call.keywords:
        if kw.arg == "foreach" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
            foreach = kw.value.value
        else:
            problems.append(
                GraphProblem(file, call.lineno, raw.name, f"self.next() does not support the argument {kw.arg!r}")
            )
    if len(set(targets)) != len(targets):
        problems.append(GraphProblem(file, call.lineno, raw.name, "self.next() names the same step twice"))
    if not targets:
        problems.append(GraphProblem(file, call.lineno, raw.name, "self.next() needs at least one step"))
    if foreach is not None:
        if len(targets) != 1:
            problems.append(GraphProblem(file, call.lineno, raw.name, "a foreach transition takes exactly one step"))
        return "foreach", tuple(targets), foreach
    return ("split" if len(targets) > 1 else "linear"), tuple(targets), None


def build_graph(
    source: str,
    file: str,
    class_name: str | None = None,
    *,
    live_decorators: dict[str, dict[str, dict[str, Any]]] | None = None,
    parameters: tuple[ParameterSpec, ...] = (),
    schedule: dict[str, Any] | None = None,
) -> FlowGraph:
    """Parse and validate; raise FlowGraphError listing every problem found."""
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError as exc:
        raise FlowGraphError([GraphProblem(file, exc.lineno or 1, None, f"syntax error: {exc.msg}")]) from None
    cls_node = _find_class(tree, class_name)
    if cls_node is None:
        what = f"class {class_name}" if class_name else "a FlowSpec subclass"
        raise FlowGraphError([GraphProblem(file, 1, None, f"no {what} found")])
    problems: list[GraphProblem] = []
    raws = {r.name: r for r in _raw_steps(cls_node)}
    for required in ("start", "end"):
        if required not in raws:
            problems.append(
                GraphProblem(
                    file,
                    cls_node.lineno,
                    None,
                    f"flow {cls_node.name} has no '{required}' step; add @step def {required}(self)",
                )
            )
    names = set(raws)
    transitions = {name: _transition(raw, names, file, problems) for name, raw in raws.items()}
    if problems:
        raise FlowGraphError(problems)

    in_funcs: dict[str, list[str]] = {n: [] for n in raws}
    for name, (_, outs, _) in transitions.items():
        for target in outs:
            in_funcs[target].append(name)

    _check_cycles(raws, transitions, file, problems)
    _check_reachable(raws, transitions, file, problems)
    if problems:
        raise FlowGraphError(problems)

    split_parents, matching = _check_structure(raws, transitions, in_funcs, file, problems)
    if problems:
        raise FlowGraphError(problems)

    live = live_decorators or {}
    steps: dict[str, StepNode] = {}
    for name in raws:  # source order
        raw = raws[name]
        kind, outs, foreach = transitions[name]
        decos = live.get(name, raw.decorators)
        steps[name] = StepNode(
            name=name,
            lineno=raw.lineno,
            type=kind,  # type: ignore[arg-type]
            out_funcs=outs,
            in_funcs=tuple(in_funcs[name]),
            foreach_var=foreach,
            is_join=raw.takes_inputs,
            decorators=tuple(Decorator(k, dict(v)) for k, v in sorted(decos.items())),
            split_parents=split_parents[name],
            matching_join=matching.get(name),
            doc=raw.doc,
        )
    return FlowGraph(
        name=cls_node.name,
        file=file,
        steps=steps,
        parameters=parameters,
        schedule=schedule,
        doc=ast.get_docstring(cls_node) or "",
    )


def _next_line(raw: _RawStep) -> int:
    return raw.next_calls[0].lineno if raw.next_calls else raw.lineno


def _check_cycles(raws, transitions, file, problems) -> None:
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        state[name] = 1
        for target in transitions[name][1]:
            if state.get(target) == 1:
                problems.append(
                    GraphProblem(
                        file,
                        _next_line(raws[name]),
                        name,
                        f"self.next() goes back to '{target}': flows cannot have cycles",
                    )
                )
            elif target not in state:
                visit(target)
        state[name] = 2

    for name in raws:
        if name not in state:
            visit(name)


def _check_reachable(raws, transitions, file, problems) -> None:
    if "start" not in raws:
        return
    seen = {"start"}
    todo = ["start"]
    while todo:
        for target in transitions[todo.pop()][1]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for name, raw in raws.items():
        if name not in seen:
            problems.append(GraphProblem(file, raw.lineno, name, "is unreachable: no step leads to it from 'start'"))


def _check_structure(raws, transitions, in_funcs, file, problems):
    """Assign each step its stack of open splits; check that every split is joined exactly right."""
    order = topological_order(list(raws), in_funcs)

    stacks: dict[str, tuple[str, ...]] = {}
    matching: dict[str, str] = {}
    for name in order:
        raw = raws[name]
        parents = in_funcs[name]
        if name == "start":
            if parents:
                problems.append(GraphProblem(file, raw.lineno, name, "no step may call self.next(self.start)"))
            stacks[name] = ()
            continue
        after = []
        for parent in parents:
            kind = transitions[parent][0]
            base = stacks.get(parent, ())
            after.append((*base, parent) if kind in ("split", "foreach") else base)
        if raw.takes_inputs:
            tops = {s[-1] for s in after if s}
            if not all(after) or len(tops) != 1 or len(set(after)) != 1:
                if not any(after):
                    msg = "takes `inputs` but joins nothing: no split or foreach leads to it"
                else:
                    msg = f"joins branches of different splits ({', '.join(sorted(parents))})"
                problems.append(GraphProblem(file, raw.lineno, name, msg))
                stacks[name] = ()
                continue
            split = after[0][-1]
            split_kind, split_outs, _ = transitions[split]
            if split_kind == "foreach" and len(parents) != 1:
                problems.append(
                    GraphProblem(
                        file,
                        raw.lineno,
                        name,
                        f"joins the foreach of '{split}' but is reached from {len(parents)} steps",
                    )
                )
            if split_kind == "split" and len(parents) != len(split_outs):
                problems.append(
                    GraphProblem(
                        file,
                        raw.lineno,
                        name,
                        f"receives {len(parents)} input(s) but split '{split}' (line {raws[split].lineno}) "
                        f"has {len(split_outs)} branches; every branch must end in this join",
                    )
                )
            if split in parents and split_kind == "foreach":
                problems.append(
                    GraphProblem(
                        file,
                        raw.lineno,
                        name,
                        f"a foreach ('{split}') must lead to a step that processes one item, not directly to a join",
                    )
                )
            if split in matching and matching[split] != name:
                problems.append(GraphProblem(file, raw.lineno, name, f"split '{split}' is joined twice"))
            matching[split] = name
            stacks[name] = after[0][:-1]
        else:
            if len(parents) > 1:
                problems.append(
                    GraphProblem(
                        file,
                        raw.lineno,
                        name,
                        f"is reached from {', '.join(sorted(parents))} but does not take `inputs`; "
                        f"write def {name}(self, inputs) to join them",
                    )
                )
            stacks[name] = after[0] if after else ()
    for name, (kind, _, _) in transitions.items():
        if kind in ("split", "foreach") and name not in matching and name in stacks:
            problems.append(
                GraphProblem(
                    file,
                    raws[name].lineno,
                    name,
                    f"{'foreach' if kind == 'foreach' else 'split'} has no join: "
                    "add a step with `inputs` where its branches meet",
                )
            )
    if "end" in stacks and stacks["end"] and not problems:
        open_split = stacks["end"][-1]
        problems.append(GraphProblem(file, raws[open_split].lineno, open_split, "split has no join before 'end'"))
    return stacks, matching


# ----- from a live class (parameters and decorator values may be computed)


def graph_from_class(cls: type) -> FlowGraph:
    from branchline.authoring.decorators import DECORATORS_ATTR, SCHEDULE_ATTR, STEP_MARK
    from branchline.authoring.parameters import declared_parameters

    file = inspect.getsourcefile(cls) or "<unknown>"
    source = Path(file).read_text()
    live: dict[str, dict[str, dict[str, Any]]] = {}
    for name, value in vars(cls).items():
        if callable(value) and getattr(value, STEP_MARK, False):
            live[name] = dict(getattr(value, DECORATORS_ATTR, {}))
    params = [
        ParameterSpec(
            name=p.name,
            type=p.type_name,
            default=None if callable(p.default) else p.default,
            required=p.required,
            help=p.help,
        )
        for p in declared_parameters(cls)
    ]
    return build_graph(
        source,
        _display_path(file),
        cls.__name__,
        live_decorators=live,
        parameters=tuple(params),
        schedule=getattr(cls, SCHEDULE_ATTR, None),
    )


def _display_path(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(Path.cwd()))
    except ValueError:
        return file


def graph_from_file(path: str | Path, class_name: str | None = None) -> FlowGraph:
    """Import the flow module from `path` and build its graph (used by compilers and tools)."""
    from branchline.runtime.loader import load_flow_class

    cls = load_flow_class(Path(path), class_name)
    return graph_from_class(cls)
