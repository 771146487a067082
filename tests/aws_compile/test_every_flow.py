"""Invariants every compiled test flow must hold: statelint clean, small, one Batch Task per step."""

from __future__ import annotations

import pytest

from branchline.aws.compile import DEFINITION_MAX_BYTES, definition_json
from tests.aws_compile.support import compile_flow, lint, scope_of, tasks, walk
from tests.flows import FLOWS

TASK_PARAMETER_KEYS = {"JobName.$", "JobQueue", "JobDefinition", "ContainerOverrides"}


@pytest.fixture(scope="module", params=FLOWS)
def compiled(request: pytest.FixtureRequest):
    return compile_flow(request.param)


def test_the_flow_folder_has_every_construct() -> None:
    assert {"linear_flow", "split_join_flow", "foreach_flow", "nested_foreach_flow", "retry_flow", "catch_flow",
            "timeout_flow", "parameters_flow", "resources_flow", "schedule_flow", "wide_flow"} <= set(FLOWS)


def test_statelint_finds_nothing(compiled) -> None:
    assert lint(compiled.definition) == []


def test_definition_is_far_below_one_megabyte(compiled) -> None:
    size = len(definition_json(compiled.definition).encode())
    assert size < DEFINITION_MAX_BYTES
    assert size < 2_000 * len(compiled.graph.steps) + 2_000, "a Task state grew beyond ~2 KB"


def test_every_step_runs_as_exactly_one_main_batch_task_entered_through_its_reuse_choice(compiled) -> None:
    main = [name for name, _ in tasks(compiled.definition) if "." not in name]
    assert sorted(main) == sorted(compiled.graph.steps)
    for name, task in tasks(compiled.definition):
        step = name.split(".")[0]
        assert task["Resource"] == "arn:aws:states:::batch:submitJob.sync"
        assert set(task["Parameters"]) == TASK_PARAMETER_KEYS
        assert task["Parameters"]["JobDefinition"] == compiled.arns[step]
        assert task["Parameters"]["JobQueue"] == compiled.ctx.job_queue
        assert 0 < task["TimeoutSeconds"] <= 365 * 24 * 3600, f"{name}: every Task is bounded in time"
    for step in compiled.graph.steps:
        choice = scope_of(compiled.definition, step)[f"{step}.reuse"]
        assert choice["Type"] == "Choice" and choice["Default"] == step
        assert choice["Choices"][-1]["Variable"] == f"$.resume.skip.{step}"


def test_batch_submission_is_retried_with_jitter_and_task_failures_are_not_retried_there(compiled) -> None:
    for name, task in tasks(compiled.definition):
        (retrier,) = task["Retry"]
        assert retrier["ErrorEquals"] == ["Batch.AWSBatchException"], name
        assert retrier["JitterStrategy"] == "FULL"
        assert retrier["MaxDelaySeconds"] > retrier["IntervalSeconds"]
        assert retrier["BackoffRate"] > 1
    every_retried_error = {e for _, _, s in walk(compiled.definition["States"]) for r in s.get("Retry", [])
                           for e in r["ErrorEquals"]}
    # @retry is a loop of states that counts the attempts: a Retry field would count throttled submissions too
    assert not every_retried_error & {"States.TaskFailed", "States.ALL"}


def test_every_failure_path_ends_in_a_fail_state_naming_the_step(compiled) -> None:
    for name, task in tasks(compiled.definition):
        step = name.split(".")[0]
        scope = scope_of(compiled.definition, name)
        *retried, catcher = task["Catch"]
        assert catcher["ErrorEquals"] == ["States.ALL"]
        if retried:  # @retry: a failed job loops back while retries are left, then takes the same way out
            assert retried[0]["ErrorEquals"] == ["States.TaskFailed"]
            assert scope[retried[0]["Next"]]["Default"] == catcher["Next"]
        target = scope[catcher["Next"]]
        if target["Type"] == "Task":  # @catch: the fallback task, whose own failure then ends the run
            target = scope[target["Catch"][-1]["Next"]]
        assert target["Type"] == "Fail"
        assert step in target["Error"] and repr(step) in target["Cause"]


def test_state_data_passes_through_tasks_maps_and_parallels(compiled) -> None:
    for _, name, state in walk(compiled.definition["States"]):
        if state["Type"] in ("Map", "Parallel") and "Next" in state:
            assert state["ResultPath"] is None, name
        if state["Type"] == "Task" and "Next" in state:  # only the attempt counter changes, back to 0
            assert (state["ResultSelector"], state["ResultPath"]) == ({"n": 0}, "$.retry"), name
        if state["Type"] == "Task" and state.get("End"):
            assert state["ResultSelector"] == {}, f"{name}: a chain's last task must output {{}}"


def test_every_map_is_distributed_over_s3_with_bounded_concurrency(compiled) -> None:
    for _, _name, state in walk(compiled.definition["States"]):
        if state["Type"] == "Map":
            assert state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
            assert state["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
            assert state["MaxConcurrency"] == compiled.ctx.max_concurrency


def test_job_definitions_cover_every_step(compiled) -> None:
    assert set(compiled.job_definitions) == set(compiled.graph.steps)
    for step, spec in compiled.job_definitions.items():
        env = {e["name"]: e["value"] for e in spec.request["containerProperties"]["environment"]}
        assert env["BRANCHLINE_STEP"] == step
        assert env["BRANCHLINE_FLOW"] == compiled.graph.name
        assert spec.request["containerProperties"]["command"] == ["branchline", "task"]
        assert spec.request["tags"]["branchline:spec-hash"] == spec.spec_hash
