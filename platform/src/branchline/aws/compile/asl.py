"""Amazon States Language building blocks: one small pure function per kind of state.

State data is always `{"run_id", "task_id", "params", "retry", "resume"}` (plus `error` after a caught
failure): `retry.n` counts the failed attempts of the step running now (0 after every Task), `resume` holds
what a resumed execution may skip (`skip`: step → 1). Tasks, Maps and Parallels otherwise keep the data
unchanged, so the pointers flow through.
"""

from __future__ import annotations

from collections.abc import Mapping
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
INIT_RESUME = "run.init-resume"

BATCH_SUBMIT_RETRY: State = {
    # SubmitJob throttling (50/s) and transient Batch API errors: back off with jitter, capped.
    "ErrorEquals": ["Batch.AWSBatchException"],
    "IntervalSeconds": 2,
    "BackoffRate": 2.0,
    "MaxAttempts": 8,
    "MaxDelaySeconds": 120,
    "JitterStrategy": "FULL",
}
TASK_FAILED = "States.TaskFailed"
"""A Batch job that ended FAILED (its user code failed, or an attempt ran past its timeout)."""
ERROR_PATH = "$.error"
RETRY_COUNT = "$.retry.n"
RESET_RETRY_COUNT: State = {"ResultSelector": {"n": 0}, "ResultPath": "$.retry"}


def state_name(step: str, suffix: str = "") -> str:
    """A state name: the step name (Python identifiers cannot hold `.`, so suffixed names never collide)."""
    name = f"{step}.{suffix}" if suffix else step
    return name if len(name) <= STATE_NAME_MAX_CHARS else with_hash(name, name, STATE_NAME_MAX_CHARS)


def format_literal(text: str) -> str:
    """`text` escaped for the template of `States.Format` (quotes, braces and backslashes)."""
    return "".join("\\" + c if c in "\\'{}" else c for c in text)


def skip_path(step: str) -> str:
    """Where a resumed execution says `step` is reused (step names are Python identifiers: a plain path)."""
    return f"$.resume.skip.{step}"


def init_states(first: str) -> States:
    """Normalise the execution input to the state data; a missing `params` becomes `{}`.

    A resumed execution's input also holds `resume` (`branchline resume --execution`), kept as is.
    """
    data: State = {"run_id.$": "$$.Execution.Name", "task_id": "0", "params.$": "$.params", "retry": {"n": 0}}
    return {
        INIT_CHECK: {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.resume", "IsPresent": True, "Next": INIT_RESUME},
                {"Variable": "$.params", "IsPresent": True, "Next": INIT},
            ],
            "Default": INIT_DEFAULT_PARAMS,
        },
        INIT_DEFAULT_PARAMS: {"Type": "Pass", "Result": {}, "ResultPath": "$.params", "Next": INIT},
        INIT: {"Type": "Pass", "Parameters": {**data, "resume": {}}, "Next": first},
        INIT_RESUME: {"Type": "Pass", "Parameters": {**data, "resume.$": "$.resume"}, "Next": first},
    }


def container_overrides(*, with_params: bool, fallback: bool, start_env: Mapping[str, str] | None = None) -> State:
    """Pointers only: run id, task id, attempt, execution; the start step also gets the parameters and where
    the deployed code came from (`start_env`: commit, branch, repository), which it writes into the run record
    (in the job definition the commit would register new revisions for every commit, even one that changes no
    code)."""
    env: list[State] = [
        {"Name": "BRANCHLINE_RUN_ID", "Value.$": "$.run_id"},
        {"Name": "BRANCHLINE_TASK_ID", "Value.$": "$.task_id"},
        {"Name": "BRANCHLINE_ATTEMPT", "Value.$": f"States.Format('{{}}', {RETRY_COUNT})"},
        {"Name": "BRANCHLINE_EXECUTION_ARN", "Value.$": "$$.Execution.Id"},
    ]
    if with_params:
        env.append({"Name": "BRANCHLINE_PARAMS", "Value.$": "States.JsonToString($.params)"})
        env += [{"Name": name, "Value": value} for name, value in (start_env or {}).items()]
    if fallback:
        env.append({"Name": "BRANCHLINE_CATCH_FALLBACK", "Value": "1"})
    return {"Environment": env}


def goto(next_state: str | None) -> State:
    """`Next` (the attempt counter back to 0), or the end of the (sub-)machine. A chain's last Task outputs
    `{}`: a wide Map's aggregated result (one output per item) must stay far below the 256 KiB payload cap."""
    if next_state is None:
        return {"ResultSelector": {}, "End": True}
    return {**RESET_RETRY_COUNT, "Next": next_state}


def task_state(
    *,
    job_name_prefix: str,
    job_queue: str,
    job_definition: str,
    overrides: State,
    timeout_seconds: int,
    on_error: str,
    on_task_failed: str | None,
    next_state: str | None,
) -> State:
    """A Batch job run to completion within `timeout_seconds` (queueing included).

    `on_task_failed`: where a failed job goes when the step has retries left to spend (`retry_states`);
    everything else that goes wrong (no retries left, SubmitJob refused after its own retries, the state's
    timeout) goes to `on_error`.
    """
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": ERROR_PATH, "Next": on_error}]
    if on_task_failed is not None:
        catch.insert(0, {"ErrorEquals": [TASK_FAILED], "ResultPath": ERROR_PATH, "Next": on_task_failed})
    return {
        "Type": "Task",
        "Resource": TASK_RESOURCE,
        "Parameters": {
            "JobName.$": f"States.Format('{format_literal(job_name_prefix)}-{{}}', $.task_id)",
            "JobQueue": job_queue,
            "JobDefinition": job_definition,
            "ContainerOverrides": overrides,
        },
        "TimeoutSeconds": timeout_seconds,
        "Retry": [BATCH_SUBMIT_RETRY],
        "Catch": catch,
        **goto(next_state),
    }


def retry_states(names: tuple[str, str, str], *, task: str, retries: int, delay_seconds: int, exhausted: str) -> States:
    """`@retry` in the state machine: count the failed attempt, wait, run the Task again; `exhausted` after
    `retries` retries. The wait is spent by Step Functions (a Wait state), never by a running container.

    `names` are the check, wait and count states.
    """
    check, wait, count = names
    again = wait if delay_seconds else count
    states: States = {
        check: {
            "Type": "Choice",
            "Choices": [{"Variable": RETRY_COUNT, "NumericLessThan": retries, "Next": again}],
            "Default": exhausted,
        },
        count: {
            "Type": "Pass",
            "Parameters": {"n.$": f"States.MathAdd({RETRY_COUNT}, 1)"},
            "ResultPath": "$.retry",
            "Next": task,
        },
    }
    if delay_seconds:
        states[wait] = {"Type": "Wait", "Seconds": delay_seconds, "Next": count}
    return states


def reuse_state(*, step: str, task: str, reused: str, whole_split: tuple[str, str] | None = None) -> State:
    """The entry of a step: a resumed execution passes over a step whose task it reused (to `reused`);
    for a split or foreach whose join was reused too, straight to the join (`whole_split`: join, its entry)."""
    choices = [{"Variable": skip_path(step), "IsPresent": True, "Next": reused}]
    if whole_split is not None:
        join, entry = whole_split
        choices.insert(0, {"Variable": skip_path(join), "IsPresent": True, "Next": entry})
    return {"Type": "Choice", "Choices": choices, "Default": task}


def reused_end_state() -> State:
    """The end of a chain whose last step was reused: outputs `{}` as the last Task would."""
    return {"Type": "Pass", "Result": {}, "End": True}


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
    parameters of the Map's input and the item's task id; the item itself becomes the child's `resume`
    (a resumed execution's items list names what each item may skip). No ToleratedFailure* field: the
    default (0) is what we want, one failed item fails the foreach (and moto's parser rejects an explicit 0).
    `items_key_template` is a `States.Format` template with two `{}`: run id, then the foreach task's id.
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
        "ItemSelector": {
            "run_id.$": "$.run_id",
            "params.$": "$.params",
            "task_id.$": "$$.Map.Item.Value.task_id",
            "retry": {"n": 0},
            "resume.$": "$$.Map.Item.Value",
        },
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
