"""What a resume reuses, decided on plain records (no AWS): the rule, foreach items, nested foreach, splits."""

from __future__ import annotations

from collections.abc import Mapping

from branchline.datastore.records import Status, TaskRecord
from branchline.runtime.loader import graph_from_file
from branchline.runtime.reuse import TaskKey, plan_reuse
from tests.flows import flow_path


def records(done: Mapping[TaskKey, int | None], failed: tuple[TaskKey, ...] = ()) -> dict[TaskKey, TaskRecord]:
    """Records of a run: `done` tasks succeeded (value: a foreach's width), `failed` ones failed."""
    out = {}
    for (step, task_id), width in done.items():
        out[(step, task_id)] = TaskRecord("F", "origin", step, task_id, Status.SUCCEEDED, foreach_num_splits=width)
    for step, task_id in failed:
        out[(step, task_id)] = TaskRecord("F", "origin", step, task_id, Status.FAILED)
    return out


def fetcher(known: dict[TaskKey, TaskRecord], asked: list[list[TaskKey]]):
    def fetch(keys: list[TaskKey]) -> dict[TaskKey, TaskRecord | None]:
        asked.append(list(keys))
        return {key: known.get(key) for key in keys}

    return fetch


def test_a_failed_foreach_item_is_the_only_item_run_again() -> None:
    graph = graph_from_file(flow_path("foreach_flow"))  # start -foreach-> square -> shift -> join -> end
    known = records({("start", "0"): 3, ("square", "0-0"): None, ("shift", "0-0"): None,
                     ("square", "0-1"): None, ("square", "0-2"): None, ("shift", "0-2"): None},
                    failed=(("shift", "0-1"),))
    asked: list[list[TaskKey]] = []
    plan = plan_reuse(graph, fetcher(known, asked))
    assert set(plan.reused) == set(known) - {("shift", "0-1")}
    assert plan.skip("0") == {"start": 1}
    assert plan.foreach_tasks(graph) == [("start", "0")]
    assert plan.items(graph, "start", "0") == [{"task_id": "0-1", "skip": {"square": 1}}]
    # read level by level: one batch per depth of the walk, the three items together
    assert asked[1] == [("square", "0-0"), ("square", "0-1"), ("square", "0-2")]


def test_nothing_downstream_of_a_task_run_again_is_reused() -> None:
    graph = graph_from_file(flow_path("linear_flow"))  # start -> a -> b -> end
    known = records({("start", "0"): None, ("b", "0"): None}, failed=(("a", "0"),))
    plan = plan_reuse(graph, fetcher(known, []))
    assert set(plan.reused) == {("start", "0")}  # b succeeded in a run where a failed? it read a's outputs


def test_a_join_is_reused_only_when_every_input_is() -> None:
    graph = graph_from_file(flow_path("split_join_flow"))  # start -> (left | right -> right_more) -> join -> end
    everything = {("start", "0"): None, ("left", "0"): None, ("right", "0"): None, ("right_more", "0"): None,
                  ("join", "0"): None}
    plan = plan_reuse(graph, fetcher(records(everything, failed=(("end", "0"),)), []))
    assert set(plan.reused) == set(everything)
    assert plan.skip("0") == dict.fromkeys(["start", "left", "right", "right_more", "join"], 1)
    without = {k: v for k, v in everything.items() if k != ("right_more", "0")}
    plan = plan_reuse(graph, fetcher(records(without), []))
    assert ("join", "0") not in plan.reused and ("left", "0") in plan.reused


def test_nested_foreach_items_name_what_each_may_skip() -> None:
    graph = graph_from_file(flow_path("nested_foreach_flow"))
    steps = [n.name for n in graph]
    assert steps[:3] == ["start", "group", "member"], steps
    known = records({("start", "0"): 2, ("group", "0-0"): 2, ("member", "0-0-0"): None, ("member", "0-0-1"): None,
                     ("join_members", "0-0"): None, ("group", "0-1"): 2, ("member", "0-1-0"): None},
                    failed=(("member", "0-1-1"),))
    plan = plan_reuse(graph, fetcher(known, []))
    assert plan.foreach_tasks(graph) == [("group", "0-1"), ("start", "0")]
    assert plan.items(graph, "start", "0") == [{"task_id": "0-1", "skip": {"group": 1}}]
    assert plan.items(graph, "group", "0-1") == [{"task_id": "0-1-1"}]


def test_steps_asked_for_run_again_with_everything_after_them() -> None:
    graph = graph_from_file(flow_path("linear_flow"))
    known = records({("start", "0"): None, ("a", "0"): None, ("b", "0"): None}, failed=(("end", "0"),))
    assert set(plan_reuse(graph, fetcher(known, []), rerun=("a",)).reused) == {("start", "0")}
