"""Compiled machines executed by moto's Step Functions interpreter, over HTTP (Batch without Docker: jobs succeed).

What this proves beyond statelint: the job definition requests are accepted by Batch's API shape,
the definitions are accepted by CreateStateMachine, and the interpreter walks them end to end:
input normalisation, Parallel, a Distributed Map reading the items list from S3 at the key the
foreach task writes, and the failure path naming the failed step.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from branchline.aws.compile import compile_job_definitions, compile_state_machine, definition_json
from branchline.runtime.loader import graph_from_file
from tests.aws_compile.support import ACCOUNT, make_ctx
from tests.flows import flow_path

pytestmark = pytest.mark.moto

BUCKET = "demo-bucket"


@pytest.fixture
def aws(moto_server: str) -> dict[str, Any]:
    import boto3

    batch = boto3.client("batch")
    suffix = uuid.uuid4().hex[:8]
    role = boto3.client("iam").create_role(
        RoleName=f"batch-{suffix}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    env = batch.create_compute_environment(
        computeEnvironmentName=f"ce-{suffix}", type="UNMANAGED", serviceRole=role
    )
    queue = batch.create_job_queue(
        jobQueueName=f"q-{suffix}",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
    )
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return {"batch": batch, "sfn": boto3.client("stepfunctions"), "s3": s3, "queue": queue["jobQueueArn"]}


def _deploy(aws: dict[str, Any], flow: str, *, break_step: str | None = None) -> tuple[str, Any]:
    graph = graph_from_file(flow_path(flow))
    ctx = make_ctx(job_queue=aws["queue"], namespace=f"user-t{uuid.uuid4().hex[:8]}")
    arns = {}
    for step, spec in compile_job_definitions(graph, ctx).items():
        arns[step] = aws["batch"].register_job_definition(**spec.request)["jobDefinitionArn"]
    if break_step:  # a revision that does not exist: SubmitJob fails with a client error
        arns[break_step] = arns[break_step].rsplit(":", 1)[0] + ":999"
    definition = compile_state_machine(graph, ctx, arns)
    machine = aws["sfn"].create_state_machine(
        name=f"{flow}-{uuid.uuid4().hex[:8]}",
        definition=definition_json(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/branchline-sfn",
    )
    return machine["stateMachineArn"], ctx


def _run(aws: dict[str, Any], machine: str, run_id: str, execution_input: dict) -> dict[str, Any]:
    arn = aws["sfn"].start_execution(stateMachineArn=machine, name=run_id, input=json.dumps(execution_input))[
        "executionArn"
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described = aws["sfn"].describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    pytest.fail(f"execution {arn} still running after 60 s")


def _submitted_jobs(aws: dict[str, Any]) -> list[dict[str, Any]]:
    ids = [
        j["jobId"]
        for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
        for j in aws["batch"].list_jobs(jobQueue=aws["queue"], jobStatus=status)["jobSummaryList"]
    ]
    return aws["batch"].describe_jobs(jobs=ids)["jobs"] if ids else []


def test_linear_flow_runs_every_step_with_its_pointers(aws: dict[str, Any]) -> None:
    machine, _ = _deploy(aws, "linear_flow")
    result = _run(aws, machine, "run-1", {"params": {"alpha": 2}})
    assert result["status"] == "SUCCEEDED", result
    jobs = _submitted_jobs(aws)
    by_step = {}
    for job in jobs:
        env = {e["name"]: e["value"] for e in job["container"]["environment"]}
        by_step[env["BRANCHLINE_STEP"]] = env
    assert set(by_step) == {"start", "a", "b", "end"}
    assert all(env["BRANCHLINE_RUN_ID"] == "run-1" and env["BRANCHLINE_TASK_ID"] == "0" for env in by_step.values())
    assert json.loads(by_step["start"]["BRANCHLINE_PARAMS"]) == {"alpha": 2}


def test_missing_params_default_to_empty(aws: dict[str, Any]) -> None:
    machine, _ = _deploy(aws, "parameters_flow")
    assert _run(aws, machine, "scheduled-run", {})["status"] == "SUCCEEDED"


def test_split_and_foreach_run_with_deterministic_task_ids(aws: dict[str, Any]) -> None:
    machine, ctx = _deploy(aws, "foreach_flow")
    key = f"branchline/demo/{ctx.namespace}/runs/ForeachFlow/run-2/start/0/foreach-items.json"
    items = [{"task_id": f"0-{i}"} for i in range(3)]
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=json.dumps(items).encode())
    result = _run(aws, machine, "run-2", {"params": {}})
    assert result["status"] == "SUCCEEDED", result
    task_ids: dict[str, set[str]] = {}
    for job in _submitted_jobs(aws):
        env = {e["name"]: e["value"] for e in job["container"]["environment"]}
        task_ids.setdefault(env["BRANCHLINE_STEP"], set()).add(env["BRANCHLINE_TASK_ID"])
    assert task_ids == {"start": {"0"}, "square": {"0-0", "0-1", "0-2"}, "shift": {"0-0", "0-1", "0-2"},
                        "join": {"0"}, "end": {"0"}}


def test_a_resumed_execution_runs_only_what_it_did_not_reuse(aws: dict[str, Any]) -> None:
    """The input's `resume.skip` passes over reused steps; a reused foreach runs the items its list names, each
    skipping its own reused steps (what `branchline resume --execution` writes; see runtime/reuse.py)."""
    machine, ctx = _deploy(aws, "foreach_flow")
    key = f"branchline/demo/{ctx.namespace}/runs/ForeachFlow/run-5/start/0/foreach-items.json"
    items = [{"task_id": "0-1", "skip": {"square": 1}}, {"task_id": "0-2"}]
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=json.dumps(items).encode())
    before = {j["jobId"] for j in _submitted_jobs(aws)}
    payload = {"run_id": "run-5", "params": {"n": 1}, "resume": {"origin_run_id": "run-4", "skip": {"start": 1}}}
    result = _run(aws, machine, "run-5", payload)
    assert result["status"] == "SUCCEEDED", result
    ran = sorted(
        (env["BRANCHLINE_STEP"], env["BRANCHLINE_TASK_ID"])
        for job in _submitted_jobs(aws) if job["jobId"] not in before
        for env in [{e["name"]: e["value"] for e in job["container"]["environment"]}]
    )
    assert ran == [("end", "0"), ("join", "0"), ("shift", "0-1"), ("shift", "0-2"), ("square", "0-2")]


def test_a_resumed_execution_whose_join_was_reused_passes_over_the_whole_foreach(aws: dict[str, Any]) -> None:
    machine, _ = _deploy(aws, "foreach_flow")
    before = {j["jobId"] for j in _submitted_jobs(aws)}
    payload = {"params": {}, "resume": {"skip": {"start": 1, "join": 1}}}
    assert _run(aws, machine, "run-6", payload)["status"] == "SUCCEEDED"
    ran = [j["jobName"] for j in _submitted_jobs(aws) if j["jobId"] not in before]
    assert len(ran) == 1 and ran[0].endswith("-end-0")  # no items list was even read


def test_a_failed_step_fails_the_execution_naming_it(aws: dict[str, Any]) -> None:
    machine, _ = _deploy(aws, "split_join_flow", break_step="right_more")
    result = _run(aws, machine, "run-3", {"params": {}})
    assert result["status"] == "FAILED"
    assert result["error"] == "StepFailed.right_more"
    assert "right_more" in result["cause"]


def test_a_failed_foreach_item_fails_the_execution_naming_the_foreach(aws: dict[str, Any]) -> None:
    """moto 5.2 alone never fails a Distributed Map whose item failed (tests/testbed/moto_map.py fills that
    gap as AWS behaves; tests/scale/test_moto_gaps.py checks the gap is still there)."""
    machine, ctx = _deploy(aws, "foreach_flow", break_step="shift")
    key = f"branchline/demo/{ctx.namespace}/runs/ForeachFlow/run-4/start/0/foreach-items.json"
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=json.dumps([{"task_id": "0-0"}]).encode())
    result = _run(aws, machine, "run-4", {"params": {}})
    assert result["status"] == "FAILED"
    assert result["error"] == "ForeachFailed.start"
    assert "shift" in result["cause"]
