"""The flow instance a task runs its step on: its inherited artifacts, its join inputs, its foreach frames.

Everything comes from the graph, the task's id and what its run already holds (`RunView`): a task finds
its inputs without a database, on a laptop and in a Batch container alike.
"""

from __future__ import annotations

from typing import Any

from branchline.authoring.flowspec import ArtifactView, FlowSpec, ForeachFrame, Inputs
from branchline.datastore.view import ArtifactSource, RunView
from branchline.errors import FlowError
from branchline.graph.model import FlowGraph
from branchline.runtime.lineage import foreach_frames_for, input_tasks


def build_flow(
    flow_cls: type[FlowSpec], graph: FlowGraph, run: RunView, step: str, task_id: str, params: dict[str, Any]
) -> tuple[FlowSpec, Inputs | None, list[tuple[str, str]]]:
    """The flow instance the step runs on, its join inputs, and the (step, task id) of its input tasks."""
    node = graph[step]
    input_ids = input_tasks(graph, step, task_id, run.num_splits)
    inputs: Inputs | None = None
    inherited = ArtifactSource(run.datastore, {}, f"step {step!r}")
    if node.is_join:
        inputs = Inputs([ArtifactView(run.artifacts(s, t, f"input {s}/{t}"), s) for s, t in input_ids])
    elif input_ids:
        inherited = run.artifacts(*input_ids[0], f"step {step!r}")
    frames = [
        ForeachFrame(
            index=index,
            num_splits=run.num_splits(foreach, foreach_task),
            item=run.foreach_value(foreach, foreach_task, index, graph[foreach].foreach_var or ""),
        )
        for foreach, foreach_task, index in foreach_frames_for(graph, step, task_id)
    ]
    flow = flow_cls._bl_for_task(params=params, source=inherited, foreach_frames=frames, step_name=step)
    return flow, inputs, input_ids


def check_transition(graph: FlowGraph, step: str, flow: FlowSpec) -> None:
    """The step called the `self.next()` its source declares (transitions must not depend on data)."""
    node = graph[step]
    transition = flow._bl_transition
    if node.type == "end":
        return
    if transition is None:
        raise FlowError(f"step {step!r} finished without calling self.next()")
    targets, foreach = transition
    if tuple(targets) != node.out_funcs or foreach != node.foreach_var:
        raise FlowError(
            f"step {step!r} called self.next({', '.join(targets)}) but its source says "
            f"self.next({', '.join(node.out_funcs)}); transitions must not depend on data"
        )
