"""Foreach at scale, by its shape: what a task reads and what the parent execution records do not grow with
the width. Tasks run in this process against moto's S3 (the entry point's `execute_task`, as a container runs
it); the state machine runs on moto's Step Functions with docker-less Batch. No time is asserted.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from branchline.aws.compile import compile_job_definitions, compile_state_machine, definition_json
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import RunRecord, task_id_for
from branchline.datastore.storage import S3Storage
from branchline.runtime.entrypoint import TaskSpec, execute_task
from branchline.runtime.loader import graph_from_class, load_flow_class
from tests.aws_compile.support import ACCOUNT, make_ctx
from tests.flows import flow_path
from tests.scale.meter import S3Meter
from tests.testbed.aws import wait_execution

pytestmark = pytest.mark.moto

NAMESPACE = "br-width"


@pytest.fixture
def store(moto_server: str) -> tuple[FlowDatastore, Any, S3Meter]:
    import boto3

    s3 = boto3.client("s3")
    bucket = f"width-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    meter = S3Meter().attach(s3)
    return FlowDatastore(S3Storage(bucket, "branchline/demo", s3), NAMESPACE), s3, meter


def _run_task(ds: FlowDatastore, run_id: str, step: str, task_id: str, width: int) -> None:
    cls = load_flow_class(flow_path("width_flow"), "WidthFlow")
    spec = TaskSpec(flow="WidthFlow", step=step, run_id=run_id, task_id=task_id, namespace=NAMESPACE)
    record = execute_task(cls, graph_from_class(cls), ds, spec, {"width": width})
    assert record.succeeded, record.error


def _started(ds: FlowDatastore, width: int) -> str:
    run_id = f"w{width:05d}-{uuid.uuid4().hex[:6]}"
    ds.write_run_record(RunRecord.starting("WidthFlow", run_id, NAMESPACE, runtime="batch", params={"width": width}))
    _run_task(ds, run_id, "start", "0", width)
    return run_id


def test_a_foreach_child_reads_only_its_own_item_whatever_the_width(store) -> None:
    ds, _, meter = store
    read: dict[int, int] = {}
    for width in (10, 200):
        run_id = _started(ds, width)
        meter.reset()
        _run_task(ds, run_id, "body", task_id_for((3,)), width)
        read[width] = meter.bytes_read
        assert not any(key.endswith(f"/objects/{key[-64:][:2]}/{key[-64:]}") for key in meter.keys), (
            f"a child loaded an artifact object (the whole items list?): {meter.keys}")
    # the only differences are digits in JSON documents: the width in the foreach task's record
    # ("foreach_num_splits": 10 / 200), the size of the whole list in its artifact refs (which it never loads)
    # and timestamps, whose printed length varies by a few digits; reading the list would add ~1 KB per 190 items
    assert -16 <= read[200] - read[10] <= 16, read
    assert read[10] < 2_000, read


def test_the_join_reads_what_it_uses_of_each_input_not_their_whole_artifacts(store) -> None:
    ds, _, meter = store
    per_input: dict[int, float] = {}
    for width in (10, 40):
        run_id = _started(ds, width)
        for i in range(width):
            _run_task(ds, run_id, "body", task_id_for((i,)), width)
        meter.reset()
        _run_task(ds, run_id, "join", "0", width)
        per_input[width] = meter.bytes_read / width
    # each input: its artifact refs and the one small value the join asked for; never its 50 KB blob
    assert all(value < 1_500 for value in per_input.values()), per_input
    assert abs(per_input[40] - per_input[10]) < 64, per_input


def _history_events(width: int, moto: Any) -> int:
    import boto3

    batch, sfn, s3, iam = (boto3.client(s) for s in ("batch", "stepfunctions", "s3", "iam"))
    suffix = uuid.uuid4().hex[:8]
    role = iam.create_role(RoleName=f"w-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    env = batch.create_compute_environment(computeEnvironmentName=f"w-{suffix}", type="UNMANAGED", serviceRole=role)
    queue = batch.create_job_queue(jobQueueName=f"w-{suffix}", state="ENABLED", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}])["jobQueueArn"]
    bucket = f"w-{suffix}"
    s3.create_bucket(Bucket=bucket)
    ctx = make_ctx(job_queue=queue, namespace=NAMESPACE, datastore_root=f"s3://{bucket}/branchline/demo",
                   max_concurrency=50)
    graph = load_flow_class(flow_path("width_flow"), "WidthFlow")
    graph = graph_from_class(graph)
    arns = {step: batch.register_job_definition(**spec.request)["jobDefinitionArn"]
            for step, spec in compile_job_definitions(graph, ctx).items()}
    definition = compile_state_machine(graph, ctx, arns)
    machine = sfn.create_state_machine(name=f"width-{suffix}", definition=definition_json(definition),
                                       roleArn=f"arn:aws:iam::{ACCOUNT}:role/x")["stateMachineArn"]
    run_id = f"run-{width}"
    # docker-less Batch runs no task: the items list is what the foreach task would have written
    FlowDatastore(S3Storage(bucket, "branchline/demo", s3), NAMESPACE).write_foreach_items(
        "WidthFlow", run_id, "start", "0", width)
    execution = sfn.start_execution(stateMachineArn=machine, name=run_id, input=json.dumps({"params": {}}))
    described = wait_execution(execution["executionArn"], timeout=300)
    assert described["status"] == "SUCCEEDED", described
    events = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution["executionArn"]):
        events += page["events"]
    return len(events)


def test_the_parent_history_does_not_grow_with_the_width(moto_server: str) -> None:
    assert _history_events(10, moto_server) == _history_events(200, moto_server)
