"""Fixtures of the deployer tests: the test bed's moto server and the infra the deployer expects.

The test bed's launcher applies ``moto_sfn_versions`` (state machine versions and aliases, which moto 5.2 lacks).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.testbed.bed import Testbed
from tests.testbed.servers import TEST_CREDENTIALS


@pytest.fixture(scope="session")
def deploy_moto_url(testbed: Testbed) -> str:
    """The test bed's moto server (its launcher applies both shims); Batch without Docker."""
    return testbed.moto(docker=False)


@dataclass(frozen=True)
class Infra:
    """What the platform's CloudFormation would have created: roles, queues, the bucket."""

    endpoint: str
    states_role_arn: str
    job_role_arn: str
    job_queue: str
    production_job_queue: str
    bucket: str


def _create_infra(endpoint: str) -> Infra:
    import boto3

    def c(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    iam = c("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": ["states.amazonaws.com", "scheduler.amazonaws.com"]},
         "Action": "sts:AssumeRole"}]})
    suffix = uuid.uuid4().hex[:8]
    states_role = iam.create_role(RoleName=f"bl-states-{suffix}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    job_role = iam.create_role(RoleName=f"bl-job-{suffix}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    batch_service = iam.create_role(RoleName=f"bl-batch-{suffix}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    batch = c("batch")
    env_arn = batch.create_compute_environment(
        computeEnvironmentName=f"bl-ce-{suffix}", type="UNMANAGED", state="ENABLED", serviceRole=batch_service
    )["computeEnvironmentArn"]
    queues = []
    for kind in ("branches", "prod"):
        name = f"bl-{kind}-{suffix}"
        batch.create_job_queue(jobQueueName=name, state="ENABLED", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env_arn}])
        queues.append(name)
    bucket = f"bl-data-{suffix}"
    c("s3").create_bucket(Bucket=bucket)
    return Infra(endpoint, states_role, job_role, queues[0], queues[1], bucket)


@pytest.fixture(scope="session")
def infra(deploy_moto_url: str) -> Infra:
    return _create_infra(deploy_moto_url)


@pytest.fixture
def aws(infra: Infra, monkeypatch: pytest.MonkeyPatch) -> Iterator[Infra]:
    """This test's process talks to the deployer's moto server (standard AWS env variables only)."""
    from branchline.aws.session import reset_clients

    for name in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", infra.endpoint)
    reset_clients()
    yield infra
    reset_clients()
