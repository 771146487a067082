"""Faults the state machine itself must absorb, without containers (docker-less Batch): SubmitJob throttling."""

from __future__ import annotations

from pathlib import Path

import pytest

from branchline.aws.session import client
from tests.aws_deploy.conftest import Infra
from tests.scale.projects import deployed_run, queued_project
from tests.testbed.aws import wait_execution
from tests.testbed.moto_batch import THROTTLE_TAG

pytestmark = pytest.mark.moto


def test_submit_job_throttling_is_retried_by_the_state_machine_until_batch_accepts(aws: Infra, tmp_path: Path) -> None:
    """Batch refuses SubmitJob beyond 50 calls a second (HTTP 429); Step Functions names that
    `Batch.AWSBatchException`, which every Task retries with backoff and full jitter (asl.BATCH_SUBMIT_RETRY)."""
    root = queued_project(aws, tmp_path, {THROTTLE_TAG: "2"})
    arn = deployed_run(root, "br-throttled", "throttled")
    described = wait_execution(arn, timeout=120)
    assert described["status"] == "SUCCEEDED", described
    events = client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["Batch.AWSBatchException"] * 2
    assert all("TooManyRequestsException" in f["cause"] for f in failed)
    submitted = [e for e in events if e["type"] == "TaskSubmitted"]
    assert len(submitted) == 3  # every step's job was submitted once it was accepted: start, train, end
    assert sum(e["type"] == "TaskStateEntered" for e in events) == 3  # retried inside the Task, not re-entered
