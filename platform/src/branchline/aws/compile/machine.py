"""The flow graph as a state machine: a walk along chains of steps, one builder per construct.

A *chain* runs from a step to the join that closes the chain's branch (or to `end`): linear
steps follow each other; a split becomes a Parallel of chains, a foreach a Distributed Map over
a chain, and the chain goes on at their join. Nested foreach nests Maps, because a Map's body is
itself a chain.

Every step is entered through its reuse Choice (`x.reuse`, which a resumed execution uses to pass over
the tasks it cloned), then runs its Task `x`; `@retry` adds a retry loop, `@catch` a fallback Task, and
every step ends its failure path at a Fail state naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from branchline.aws.compile.asl import (
    INIT_CHECK,
    States,
    container_overrides,
    fail_state,
    format_literal,
    init_states,
    map_state,
    parallel_state,
    retry_states,
    reuse_state,
    reused_end_state,
    state_name,
    task_state,
)
from branchline.aws.compile.context import (
    DEFINITION_MAX_BYTES,
    MAX_TASK_ID_CHARS,
    CompileContext,
    CompileError,
)
from branchline.aws.compile.steps import settings, transition
from branchline.datastore.layout import foreach_items_key
from branchline.graph.model import FlowGraph, StepNode
from branchline.namespaces import Names
from branchline.namespaces.limits import BATCH
from branchline.namespaces.text import with_hash

_MAX_STEPS_IN_CAUSE = 20


def definition_json(definition: Mapping[str, Any]) -> str:
    """The compact JSON sent to Step Functions (what the 1 MB limit applies to)."""
    return json.dumps(definition, separators=(",", ":"), sort_keys=False)


def job_name_prefix(names: Names, flow: str, step: str) -> str:
    """The static head of a step's Batch job names; the task id is appended at run time."""
    name = names.job_definition(flow, step)
    room = BATCH.max_length - 1 - MAX_TASK_ID_CHARS
    return name if len(name) <= room else with_hash(name, name, room)


def entry(step: str) -> str:
    """The state every transition into `step` targets: its reuse Choice."""
    return state_name(step, "reuse")


def foreach_items_key_template(ctx: CompileContext, flow: str, step: str) -> str:
    """`States.Format` template of the key of a foreach task's items list, with slots for run id and task id."""
    key = foreach_items_key(format_literal(ctx.namespace), format_literal(flow), "{}", format_literal(step), "{}")
    return f"{format_literal(ctx.root_prefix)}/{key}" if ctx.root_prefix else key


@dataclass(frozen=True)
class _Compiler:
    graph: FlowGraph
    ctx: CompileContext
    arns: Mapping[str, str]

    @property
    def names(self) -> Names:
        return Names(self.ctx.project, self.ctx.namespace)

    # ----- one step: its reuse Choice, its Task, a retry loop, an optional @catch fallback, its Fail state
    def _task(self, node: StepNode, *, fallback: bool, on_error: str, on_task_failed: str | None,
              next_state: str | None) -> dict[str, Any]:
        return task_state(
            job_name_prefix=job_name_prefix(self.names, self.graph.name, node.name),
            job_queue=self.ctx.job_queue,
            job_definition=self.arns[node.name],
            overrides=container_overrides(with_params=node.name == "start", fallback=fallback,
                                          start_env=self.ctx.start_environment()),
            timeout_seconds=settings(node).state_timeout(self.ctx),
            on_error=on_error,
            on_task_failed=on_task_failed,
            next_state=next_state,
        )

    def step_states(self, node: StepNode, next_state: str | None, *,
                    whole_split: tuple[str, str] | None = None) -> States:
        """The states of one step. `next_state` follows its Task, and a resumed execution that reused the task
        goes there too (None: the chain ends); `whole_split` is (join, its entry) for a split or foreach."""
        s = settings(node)
        task = state_name(node.name)
        fail = state_name(node.name, "failed")
        on_error = state_name(node.name, "catch-fallback") if s.catch else fail
        retry = state_name(node.name, "retry") if s.retries else None
        states: States = {}
        reused = next_state
        if reused is None:
            reused = state_name(node.name, "reused")
            states[reused] = reused_end_state()
        states[entry(node.name)] = reuse_state(step=node.name, task=task, reused=reused, whole_split=whole_split)
        states[task] = self._task(node, fallback=False, on_error=on_error, on_task_failed=retry, next_state=next_state)
        if retry is not None:
            names = (retry, state_name(node.name, "retry-wait"), state_name(node.name, "retry-count"))
            states.update(retry_states(names, task=task, retries=s.retries, delay_seconds=s.retry_delay_seconds,
                                       exhausted=on_error))
        if on_error != fail:  # the fallback records the failure the task could not record itself
            states[on_error] = self._task(node, fallback=True, on_error=fail, on_task_failed=None,
                                          next_state=next_state)
        states[fail] = fail_state(
            f"StepFailed.{node.name}",
            f"step {node.name!r} of flow {self.graph.name} failed: its Batch job failed or could not run "
            f"(see `branchline logs` for its output)",
        )
        return states

    # ----- fan-out constructs
    def split(self, node: StepNode, name: str, join: str) -> States:
        branches = [self.chain(out, join) for out in node.out_funcs]
        return {name: parallel_state(branches, entry(join))}

    def foreach(self, node: StepNode, name: str, join: str) -> States:
        fail = state_name(node.name, "foreach-failed")
        inside = [n.name for n in self.graph if node.name in n.split_parents]
        listed = ", ".join(inside[:_MAX_STEPS_IN_CAUSE]) + (", ..." if len(inside) > _MAX_STEPS_IN_CAUSE else "")
        return {
            name: map_state(
                bucket=self.ctx.bucket,
                items_key_template=foreach_items_key_template(self.ctx, self.graph.name, node.name),
                body=self.chain(node.out_funcs[0], join),
                max_concurrency=self.ctx.max_concurrency,
                on_error=fail,
                next_state=entry(join),
            ),
            fail: fail_state(
                f"ForeachFailed.{node.name}",
                f"an item of the foreach of step {node.name!r} of flow {self.graph.name} failed in one of the "
                f"steps {listed}: the failed child execution of this Map Run names the step",
            ),
        }

    def _join_of(self, node: StepNode) -> str:
        if node.matching_join is None or node.matching_join not in self.graph.steps:
            raise CompileError(f"step {node.name!r} splits but the graph names no join for it",
                               hint="parse the flow with branchline.graph.parse, which validates joins")
        return node.matching_join

    # ----- chains
    def chain(self, first: str, stop: str | None) -> tuple[str, States]:
        """The states from step `first` up to (not including) the join `stop`; `None` means up to `end`."""
        if first == stop:
            raise CompileError(f"a branch goes straight to the join {stop!r}",
                               hint="every branch of a split must run at least one step before its join")
        states: States = {}
        step = first
        seen: set[str] = set()
        while True:
            if step in seen:
                raise CompileError(f"the flow graph loops back to step {step!r}")
            seen.add(step)
            node = self.graph[step]
            kind = transition(node)
            if kind == "end":
                if stop is not None:
                    raise CompileError(f"step {step!r} ends the flow inside a branch that {stop!r} should join")
                states.update(self.step_states(node, None))
                return entry(first), states
            if kind == "linear":
                nxt = node.out_funcs[0]
                states.update(self.step_states(node, None if nxt == stop else entry(nxt)))
                if nxt == stop:
                    return entry(first), states
                step = nxt
                continue
            join = self._join_of(node)
            fan = state_name(node.name, kind)
            states.update(self.step_states(node, fan, whole_split=(join, entry(join))))
            states.update(self.split(node, fan, join) if kind == "split" else self.foreach(node, fan, join))
            step = join


def compile_state_machine(graph: FlowGraph, ctx: CompileContext, job_definitions: Mapping[str, str]) -> dict:
    """The ASL definition of `graph`; `job_definitions` maps each step to its job definition ARN (with revision)."""
    missing = [name for name in graph.steps if name not in job_definitions]
    if missing:
        raise CompileError(
            f"no job definition ARN for step(s) {', '.join(missing)} of flow {graph.name}",
            hint="register every step's job definition first (compile_job_definitions) and pass their ARNs",
        )
    if "start" not in graph.steps:
        raise CompileError(f"flow {graph.name} has no 'start' step")
    compiler = _Compiler(graph, ctx, job_definitions)
    first, states = compiler.chain("start", None)
    definition = {
        "Comment": f"branchline flow {graph.name} ({ctx.project}, namespace {ctx.namespace})",
        "StartAt": INIT_CHECK,
        "States": {**init_states(first), **states},
    }
    size = len(definition_json(definition).encode())
    if size > DEFINITION_MAX_BYTES:
        raise CompileError(
            f"the state machine of flow {graph.name} is {size:,} bytes, above Step Functions' 1 MB limit",
            hint="split the flow, or move repeated steps into a foreach",
        )
    return definition
