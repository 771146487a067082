"""Amazon States Language building blocks: one small pure function per kind of state.

State data is always `{"run_id", "task_id", "params"}` (plus `error` after a caught failure):
Tasks, Maps and Parallels keep it unchanged (`ResultPath: null`) so the pointers flow through.
"""

from __future__ import annotations

from typing import Any

from branchline.aws.compile.context import (
    S3_GET_OBJECT,
    STATE_NAME_MAX_CHARS,
    TASK_RESOURCE,
)
from branchline.namespaces.text import with_hash

State = dict[str, Any]
States = dict[str, State]

INIT_CHECK = "run.check-input"
INIT_DEFAULT_PARAMS = "run.default-params"
INIT = "run.init"

BATCH_SUBMIT_RETRY: State = {
    # SubmitJob throttling (50/s) and transient Batch API errors: back off with jitter, capped.
    "ErrorEquals": ["Batch.AWSBatchException"],
    "IntervalSeconds": 2,
    "BackoffRate": 2.0,
    "MaxAttempts": 8,
    "MaxDelaySeconds": 120,
    "JitterStrategy": "FULL",
}
ERROR_PATH = "$.error"


def state_name(step: str, suffix: str = "") -> str:
    """A state name: the step name (Python identifiers cannot hold `.`, so suffixed names never collide)."""
    name = f"{step}.{suffix}" if suffix else step
    return name if len(name) <= STATE_NAME_MAX_CHARS else with_hash(name, name, STATE_NAME_MAX_CHARS)


def format_literal(text: str) -> str:
    """`text` escaped for the template of `States.Format` (quotes, braces and backslashes)."""
    return "".join("\\" + c if c in "\\'{}" else c for c in text)


def init_states(first: str) -> States:
    """Normalise the execution input to `{run_id, task_id, params}`; a missing `params` becomes `{}`."""
    return {
        INIT_CHECK: {
            "Type": "Choice",
            "Choices": [{"Variable": "$.params", "IsPresent": True, "Next": INIT}],
            "Default": INIT_DEFAULT_PARAMS,
        },
        INIT_DEFAULT_PARAMS: {"Type": "Pass", "Result": {}, "ResultPath": "$.params", "Next": INIT},
        INIT: {
            "Type": "Pass",
            "Parameters": {"run_id.$": "$$.Execution.Name", "task_id": "0", "params.$": "$.params"},
            "Next": first,
        },
    }


def container_overrides(*, with_params: bool, fallback: bool) -> State:
    """Pointers only: run id, task id, execution; the start step also gets the parameters."""
    env: list[State] = [
        {"Name": "BRANCHLINE_RUN_ID", "Value.$": "$.run_id"},
        {"Name": "BRANCHLINE_TASK_ID", "Value.$": "$.task_id"},
        {"Name": "BRANCHLINE_EXECUTION_ARN", "Value.$": "$$.Execution.Id"},
    ]
    if with_params:
        env.append({"Name": "BRANCHLINE_PARAMS", "Value.$": "States.JsonToString($.params)"})
    if fallback:
        env.append({"Name": "BRANCHLINE_CATCH_FALLBACK", "Value": "1"})
    return {"Environment": env}


def goto(next_state: str | None) -> State:
    """`Next`, or the end of the (sub-)machine. A chain's last Task outputs `{}`: a wide Map's
    aggregated result (one output per item) must stay far below the 256 KiB payload cap."""
    if next_state is None:
        return {"ResultSelector": {}, "End": True}
    return {"ResultPath": None, "Next": next_state}


def task_state(
    *,
    job_name_prefix: str,
    job_queue: str,
    job_definition: str,
    overrides: State,
    on_error: str,
    next_state: str | None,
) -> State:
    """A Batch job run to completion; retries of the job itself are Batch's (its retryStrategy)."""
    return {
        "Type": "Task",
        "Resource": TASK_RESOURCE,
        "Parameters": {
            "JobName.$": f"States.Format('{format_literal(job_name_prefix)}-{{}}', $.task_id)",
            "JobQueue": job_queue,
            "JobDefinition": job_definition,
            "ContainerOverrides": overrides,
        },
        "Retry": [BATCH_SUBMIT_RETRY],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": ERROR_PATH, "Next": on_error}],
        **goto(next_state),
    }


def fail_state(error: str, cause: str) -> State:
    """The end of a failure path; `Error` and `Cause` become the execution's error and cause."""
    return {"Type": "Fail", "Error": error[:256], "Cause": cause[:32768]}


def parallel_state(branches: list[tuple[str, States]], next_state: str) -> State:
    """A static split: each branch is a chain of steps; the join runs with the pre-split task id."""
    return {
        "Type": "Parallel",
        "Branches": [{"StartAt": start, "States": states} for start, states in branches],
        "ResultPath": None,
        "Next": next_state,
    }


def map_state(
    *,
    bucket: str,
    items_key_template: str,
    body: tuple[str, States],
    max_concurrency: int,
    on_error: str,
    next_state: str,
) -> State:
    """A foreach: a Distributed Map over the items list the foreach task wrote to S3.

    Each item is a child execution (its own 25,000-event history), started with the run id and
    parameters of the Map's input and the item's task id. No ToleratedFailure* field: the default (0)
    is what we want, one failed item fails the foreach (and moto's parser rejects an explicit 0).
    `items_key_template` is a
    `States.Format` template with two `{}`: run id, then the foreach task's id.
    """
    start, states = body
    return {
        "Type": "Map",
        "ItemReader": {
            "Resource": S3_GET_OBJECT,
            # Explicit JSON (AWS documents it; moto needs it to parse the list). statelint 3.1 does not
            # know ReaderConfig.InputType yet: the tests allow exactly that one finding.
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": bucket, "Key.$": f"States.Format('{items_key_template}', $.run_id, $.task_id)"},
        },
        "ItemSelector": {"run_id.$": "$.run_id", "params.$": "$.params", "task_id.$": "$$.Map.Item.Value.task_id"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": start,
            "States": states,
        },
        "MaxConcurrency": max_concurrency,
        "ResultPath": None,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": ERROR_PATH, "Next": on_error}],
        "Next": next_state,
    }
