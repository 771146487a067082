"""Which tasks feed a task: computed from the graph and deterministic task ids, no database.

Shared by the local scheduler and the task entrypoint in a Batch container, so both find the
same inputs. The only fact read at run time is a foreach's number of splits.
"""

from __future__ import annotations

from collections.abc import Callable

from branchline.datastore.records import path_for, task_id_for
from branchline.graph.model import FlowGraph

NumSplits = Callable[[str, str], int]  # (foreach step, its task id) -> number of splits


def closed_split(graph: FlowGraph, join: str) -> str:
    """The split or foreach step that `join` closes."""
    for node in graph:
        if node.matching_join == join:
            return node.name
    raise KeyError(f"{join} closes no split")


def input_tasks(graph: FlowGraph, step: str, task_id: str, num_splits: NumSplits) -> list[tuple[str, str]]:
    node = graph[step]
    path = path_for(task_id)
    if not node.in_funcs:
        return []
    if node.is_join:
        split = graph[closed_split(graph, step)]
        if split.type == "foreach":
            parent = node.in_funcs[0]
            count = num_splits(split.name, task_id)
            return [(parent, task_id_for((*path, i))) for i in range(count)]
        return [(parent, task_id) for parent in node.in_funcs]
    parent = node.in_funcs[0]
    if graph[parent].type == "foreach":
        return [(parent, task_id_for(path[:-1]))]
    return [(parent, task_id)]


def foreach_frames_for(graph: FlowGraph, step: str, task_id: str) -> list[tuple[str, str, int]]:
    """(foreach step, its task id, index) for every foreach enclosing `step`, outermost first."""
    path = path_for(task_id)
    frames = []
    for depth, foreach in enumerate(graph.foreach_parents(step)):
        frames.append((foreach, task_id_for(path[:depth]), path[depth]))
    return frames
