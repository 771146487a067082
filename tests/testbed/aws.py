"""Small AWS helpers for tests against the moto server: a Batch queue + job definition, waiting on executions.

boto3 reads the endpoint and the dummy credentials from the environment the ``moto_server*`` fixtures set.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def client(service: str) -> Any:
    """A boto3 client for ``service`` (endpoint and credentials from the environment)."""
    import boto3

    return boto3.client(service)


@dataclass(frozen=True)
class BatchTarget:
    """What a ``batch:submitJob`` Task needs."""

    queue: str
    job_definition: str
    role_arn: str


def batch_target(image: str, command: list[str], prefix: str = "tb") -> BatchTarget:
    """Create an IAM role, an unmanaged compute environment, a job queue and a job definition for ``image``."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    iam, batch = client("iam"), client("batch")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    env = batch.create_compute_environment(computeEnvironmentName=name, type="UNMANAGED", serviceRole=role)
    queue = batch.create_job_queue(
        jobQueueName=name,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
    )["jobQueueArn"]
    job_definition = batch.register_job_definition(
        jobDefinitionName=name,
        type="container",
        containerProperties={
            "image": image,
            "command": command,
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    )["jobDefinitionArn"]
    return BatchTarget(queue=queue, job_definition=job_definition, role_arn=role)


def run_state_machine(definition: dict, role_arn: str, payload: dict | None = None, timeout: float = 300) -> dict:
    """Create a state machine, start one execution and wait (bounded) until it ends; returns its description."""
    sfn = client("stepfunctions")
    name = f"tb-{uuid.uuid4().hex[:8]}"
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role_arn)
    execution = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"], name=name, input=json.dumps(payload or {})
    )
    return wait_execution(execution["executionArn"], timeout)


def wait_execution(execution_arn: str, timeout: float = 300) -> dict:
    """Poll ``DescribeExecution`` until the execution ends; raise ``TimeoutError`` after ``timeout`` s."""
    sfn = client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        desc = sfn.describe_execution(executionArn=execution_arn)
        if desc["status"] in TERMINAL:
            return desc
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_arn} still {desc['status']} after {timeout:.0f} s")
        time.sleep(0.5)


def failure_of(execution_arn: str) -> str:
    """The error and cause of a failed execution, from its history (for assertion messages)."""
    events = client("stepfunctions").get_execution_history(executionArn=execution_arn, reverseOrder=True)["events"]
    for event in events:
        for key, value in event.items():
            if key.endswith("FailedEventDetails") or key.endswith("AbortedEventDetails"):
                return f"{value.get('error')}: {value.get('cause')}"
    return "(no failure event)"


def log_messages(group: str, stream: str) -> list[str]:
    """All messages of one CloudWatch Logs stream."""
    events = client("logs").get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [e["message"] for e in events["events"]]
