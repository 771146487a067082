"""Validation of a flow's graph: one small rule per mistake, each with its own message.

A rule reads the `FlowSource` and yields a `GraphProblem` for every place the mistake occurs. Rules run
in stages because later ones assume the earlier ones found nothing (joins can only be judged on an acyclic
graph whose transitions name known steps): every problem of the first stage that has any is reported at
once, so a user fixes all of them in one go. Adding a check is adding a function here and its case in
tests/platform/test_graph_errors.py (a test fails for a rule without one).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import replace
from enum import IntEnum
from typing import NamedTuple

from branchline.graph.problems import FlowGraphError, GraphProblem
from branchline.graph.source import FlowSource

Problems = Iterator[GraphProblem]


class Stage(IntEnum):
    STEPS = 1
    """each step's own source: its `self.next()` call, and the steps every flow has"""
    SHAPE = 2
    """the graph as a whole: no cycle, everything reachable from start"""
    JOINS = 3
    """every split and foreach is closed by exactly one join that receives all of its branches (which also
    closes every split before `end`: a branch that reached `end` unjoined would leave its join short)"""


class Rule(NamedTuple):
    name: str
    stage: Stage
    check: Callable[[FlowSource], Problems]


RULES: list[Rule] = []


def rule(stage: Stage) -> Callable[[Callable[[FlowSource], Problems]], Callable[[FlowSource], Problems]]:
    """Register a rule; its function name is its name (shown in tests, never to users)."""

    def register(check: Callable[[FlowSource], Problems]) -> Callable[[FlowSource], Problems]:
        RULES.append(Rule(check.__name__, stage, check))
        return check

    return register


def problems_of(flow: FlowSource, stage: Stage) -> list[GraphProblem]:
    return [replace(p, rule=r.name) for r in RULES if r.stage == stage for p in r.check(flow)]


def validate(flow: FlowSource) -> None:
    """Raise FlowGraphError with every problem of the first stage that finds any."""
    for stage in Stage:
        found = problems_of(flow, stage)
        if found:
            raise FlowGraphError(found)


# ----------------------------------------------------------------------------- each step's own source


@rule(Stage.STEPS)
def has_start_and_end(flow: FlowSource) -> Problems:
    for required in ("start", "end"):
        if required not in flow.steps:
            yield flow.problem(
                flow.lineno, None, f"flow {flow.name} has no '{required}' step; add @step def {required}(self)"
            )


@rule(Stage.STEPS)
def end_does_not_call_next(flow: FlowSource) -> Problems:
    end = flow.steps.get("end")
    if end is not None and end.call is not None:
        yield flow.problem(end.call.lineno, "end", "the end step must not call self.next()")


@rule(Stage.STEPS)
def step_calls_next(flow: FlowSource) -> Problems:
    for step in flow.steps.values():
        if step.name != "end" and step.call is None:
            yield flow.problem(
                step.lineno, step.name, "never calls self.next(); every step but 'end' must name its next step"
            )


@rule(Stage.STEPS)
def next_called_once(flow: FlowSource) -> Problems:
    for step in flow.steps.values():
        if step.name != "end" and len(step.next_calls) > 1:
            lines = ", ".join(str(c.lineno) for c in step.next_calls)
            yield flow.problem(
                step.next_calls[1].lineno,
                step.name,
                f"calls self.next() {len(step.next_calls)} times (lines {lines}); "
                "call it exactly once, as the last statement",
            )


@rule(Stage.STEPS)
def next_names_known_steps(flow: FlowSource) -> Problems:
    names = sorted(flow.steps)
    for step in flow.steps.values():
        for target in step.out_funcs:
            if target not in flow.steps:
                close = difflib.get_close_matches(target, names, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                yield flow.problem(step.next_line, step.name, f"self.next() names unknown step '{target}'{hint}")


@rule(Stage.STEPS)
def next_takes_steps(flow: FlowSource) -> Problems:
    for step in flow.steps.values():
        if step.name != "end" and step.call is not None:
            for _ in range(step.call.bad_args):
                yield flow.problem(step.call.lineno, step.name, "self.next() takes steps written as self.<step>")


@rule(Stage.STEPS)
def next_takes_only_foreach(flow: FlowSource) -> Problems:
    for step in flow.steps.values():
        if step.name != "end" and step.call is not None:
            for keyword in step.call.bad_keywords:
                yield flow.problem(
                    step.call.lineno, step.name, f"self.next() does not support the argument {keyword!r}"
                )


@rule(Stage.STEPS)
def catch_not_on_a_foreach(flow: FlowSource) -> Problems:
    for step in flow.steps.values():
        if "catch" in step.decorators and step.transition == "foreach":
            yield flow.problem(
                step.lineno, step.name,
                "@catch cannot decorate a foreach step (as in Metaflow): a caught failure would leave the foreach "
                "without items; put the failing work in the step the foreach runs, and @catch that one",
            )


@rule(Stage.STEPS)
def next_names_each_step_once(flow: FlowSource) -> Problems:
    for step in flow.steps.values():
        if len(set(step.out_funcs)) != len(step.out_funcs):
            yield flow.problem(step.next_line, step.name, "self.next() names the same step twice")


@rule(Stage.STEPS)
def next_names_a_step(flow: FlowSource) -> Problems:
    for step in flow.steps.values():
        if step.name != "end" and step.call is not None and not step.call.targets:
            yield flow.problem(step.call.lineno, step.name, "self.next() needs at least one step")


@rule(Stage.STEPS)
def foreach_names_one_step(flow: FlowSource) -> Problems:
    for step in flow.steps.values():
        if step.transition == "foreach" and len(step.out_funcs) != 1:
            yield flow.problem(step.next_line, step.name, "a foreach transition takes exactly one step")


# ----------------------------------------------------------------------------- the graph as a whole


@rule(Stage.SHAPE)
def no_cycles(flow: FlowSource) -> Problems:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found: list[GraphProblem] = []

    def visit(name: str) -> None:
        state[name] = 1
        step = flow.steps[name]
        for target in step.out_funcs:
            if state.get(target) == 1:
                found.append(
                    flow.problem(
                        step.next_line, name, f"self.next() goes back to '{target}': flows cannot have cycles"
                    )
                )
            elif target not in state:
                visit(target)
        state[name] = 2

    for name in flow.steps:
        if name not in state:
            visit(name)
    yield from found


@rule(Stage.SHAPE)
def reachable_from_start(flow: FlowSource) -> Problems:
    seen = {"start"}
    todo = ["start"]
    while todo:
        for target in flow.steps[todo.pop()].out_funcs:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for name, step in flow.steps.items():
        if name not in seen:
            yield flow.problem(step.lineno, name, "is unreachable: no step leads to it from 'start'")


# ----------------------------------------------------------------------------- splits and joins


def _joins(flow: FlowSource) -> Iterator[tuple[str, str]]:
    """(join, the split it closes) for every step written as a join that closes one."""
    for split, joins in flow.splits.joins.items():
        for join in joins:
            yield join, split


@rule(Stage.JOINS)
def join_joins_something(flow: FlowSource) -> Problems:
    for name, step in flow.steps.items():
        arrivals = flow.splits.arrivals[name]
        if name != "start" and step.takes_inputs and not any(arrivals):
            yield flow.problem(
                step.lineno, name, "takes `inputs` but joins nothing: no split or foreach leads to it"
            )


@rule(Stage.JOINS)
def join_closes_one_split(flow: FlowSource) -> Problems:
    closing = dict(_joins(flow))
    for name, step in flow.steps.items():
        arrivals = flow.splits.arrivals[name]
        if name != "start" and step.takes_inputs and any(arrivals) and name not in closing:
            parents = ", ".join(sorted(flow.in_funcs[name]))
            yield flow.problem(step.lineno, name, f"joins branches of different splits ({parents})")


@rule(Stage.JOINS)
def foreach_join_has_one_parent(flow: FlowSource) -> Problems:
    for join, split in _joins(flow):
        parents = flow.in_funcs[join]
        if flow.steps[split].transition == "foreach" and len(parents) != 1:
            message = f"joins the foreach of '{split}' but is reached from {len(parents)} steps"
            yield flow.problem(flow.steps[join].lineno, join, message)


@rule(Stage.JOINS)
def split_join_receives_every_branch(flow: FlowSource) -> Problems:
    for join, split in _joins(flow):
        parents, source = flow.in_funcs[join], flow.steps[split]
        if source.transition == "split" and len(parents) != len(source.out_funcs):
            yield flow.problem(
                flow.steps[join].lineno,
                join,
                f"receives {len(parents)} input(s) but split '{split}' (line {source.lineno}) "
                f"has {len(source.out_funcs)} branches; every branch must end in this join",
            )


@rule(Stage.JOINS)
def foreach_has_a_body(flow: FlowSource) -> Problems:
    for join, split in _joins(flow):
        if split in flow.in_funcs[join] and flow.steps[split].transition == "foreach":
            yield flow.problem(
                flow.steps[join].lineno,
                join,
                f"a foreach ('{split}') must lead to a step that processes one item, not directly to a join",
            )


@rule(Stage.JOINS)
def split_joined_once(flow: FlowSource) -> Problems:
    for split, joins in flow.splits.joins.items():
        for join in joins[1:]:
            yield flow.problem(flow.steps[join].lineno, join, f"split '{split}' is joined twice")


@rule(Stage.JOINS)
def merge_takes_inputs(flow: FlowSource) -> Problems:
    for name, step in flow.steps.items():
        parents = flow.in_funcs[name]
        if name != "start" and not step.takes_inputs and len(parents) > 1:
            yield flow.problem(
                step.lineno,
                name,
                f"is reached from {', '.join(sorted(parents))} but does not take `inputs`; "
                f"write def {name}(self, inputs) to join them",
            )


@rule(Stage.JOINS)
def split_has_a_join(flow: FlowSource) -> Problems:
    for name, step in flow.steps.items():
        if step.transition in ("split", "foreach") and name not in flow.splits.joins:
            kind = "foreach" if step.transition == "foreach" else "split"
            yield flow.problem(
                step.lineno, name, f"{kind} has no join: add a step with `inputs` where its branches meet"
            )
