"""Which tasks of a failed run a resume reuses, and what the resumed execution then skips. No I/O.

A task is reused when it succeeded in the original run and every task it read from is reused too (so a
re-run task's successors always re-run: they would read different inputs). The walk starts at `start` and
follows the graph with deterministic task ids, as the local scheduler does; records are fetched level by
level through `fetch`, so the caller can read a 10,000-wide foreach's records in parallel.

On Step Functions the plan becomes data the state machine reads (`aws/compile/asl.py`): the execution input's
`skip` names the reused steps outside any foreach, and each reused foreach task gets a new items list naming
only the items that must run again, each with the steps of its own that are reused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from branchline.datastore.records import TaskRecord, path_for, task_id_for
from branchline.graph.model import FlowGraph
from branchline.runtime.lineage import closed_split, input_tasks

TaskKey = tuple[str, str]
"""(step, task id)"""
Fetch = Callable[[list[TaskKey]], Mapping[TaskKey, TaskRecord | None]]
"""Reads the original run's records of these tasks (None: the task has no record)."""


@dataclass
class ReusePlan:
    reused: dict[TaskKey, TaskRecord] = field(default_factory=dict)
    """the original run's record of every reused task"""

    def skip(self, frame: str) -> dict[str, int]:
        """The reused steps whose task id is `frame` (`0` outside any foreach, `0-3` in item 3...)."""
        return {step: 1 for step, task_id in self.reused if task_id == frame}

    def items(self, graph: FlowGraph, foreach: str, task_id: str) -> list[dict[str, object]]:
        """The items list a resumed execution's Map reads for the reused foreach task `foreach`/`task_id`: the
        items whose last task before the join was not reused, each with what it may skip."""
        record = self.reused[(foreach, task_id)]
        join = graph[foreach].matching_join
        last = graph[join].in_funcs[0] if join else None
        out: list[dict[str, object]] = []
        for index in range(record.foreach_num_splits or 0):
            item = task_id_for((*path_for(task_id), index))
            if (last, item) in self.reused:
                continue
            skip = self.skip(item)
            out.append({"task_id": item, "skip": skip} if skip else {"task_id": item})
        return out

    def foreach_tasks(self, graph: FlowGraph) -> list[TaskKey]:
        """The reused foreach tasks whose join was not reused: their items lists must be written."""
        keys = []
        for (step, task_id), record in sorted(self.reused.items()):
            join = graph[step].matching_join
            if record.foreach_num_splits is not None and join and (join, task_id) not in self.reused:
                keys.append((step, task_id))
        return keys


def plan_reuse(graph: FlowGraph, fetch: Fetch, *, rerun: Iterable[str] = ()) -> ReusePlan:
    """Walk the original run from `start`: what can be reused (steps in `rerun` never are)."""
    forced = set(rerun)
    plan = ReusePlan()
    joins = {node.name: closed_split(graph, node.name) for node in graph if node.is_join}

    def num_splits(step: str, task_id: str) -> int:
        return plan.reused[(step, task_id)].foreach_num_splits or 0

    def ready(step: str, task_id: str) -> bool:
        """All inputs of this task are reused (so it may be, if it succeeded)."""
        try:
            return all(key in plan.reused for key in input_tasks(graph, step, task_id, num_splits))
        except KeyError:  # a foreach whose task was not reused: its width is unknown here
            return False

    frontier: list[TaskKey] = [("start", task_id_for(()))]
    seen: set[TaskKey] = set()
    while frontier:
        candidates = [key for key in dict.fromkeys(frontier) if key not in seen and key[0] not in forced]
        seen.update(candidates)
        records = fetch(candidates) if candidates else {}
        frontier = []
        for key in candidates:
            record = records.get(key)
            if record is None or not record.succeeded or not ready(*key):
                continue
            plan.reused[key] = record
            frontier += _successors(graph, joins, key, record)
        frontier = [key for key in frontier if ready(*key)]
    return plan


def _successors(graph: FlowGraph, joins: Mapping[str, str], key: TaskKey, record: TaskRecord) -> list[TaskKey]:
    step, task_id = key
    node = graph[step]
    path = path_for(task_id)
    if node.type == "foreach":
        return [(node.out_funcs[0], task_id_for((*path, i))) for i in range(record.foreach_num_splits or 0)]
    out = []
    for target in node.out_funcs:
        if graph[target].is_join and graph[joins[target]].type == "foreach":
            out.append((target, task_id_for(path[:-1])))
        else:
            out.append((target, task_id))
    return out
