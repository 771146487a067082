"""Teardown of a namespace with work in flight: a real container running a step, on the test bed's engine.

The step sleeps and then writes into the namespace's prefix, as a task writes its artifacts. The teardown must
stop the execution, terminate the Batch job and wait for it to end before it deletes anything, so the step never
gets to write its object back under a prefix that was just emptied.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import pytest

from branchline.aws.deploy import teardown
from branchline.aws.deploy.apply import apply_desired
from branchline.aws.deploy.models import DesiredFlow
from branchline.aws.session import client, reset_clients
from branchline.config import Config
from branchline.namespaces import TAG_SPEC_HASH, Names
from tests.aws_deploy.conftest import _create_infra
from tests.aws_deploy.standins import FLOW, desired, new_project
from tests.testbed.servers import TEST_CREDENTIALS

pytestmark = [pytest.mark.docker, pytest.mark.moto, pytest.mark.timeout(600)]

LATE_WRITE = "late-write"


def sleeping_flow(names: Names, infra: object, image: str, endpoint: str, bucket: str) -> DesiredFlow:
    """The stand-in flow whose steps sleep 20 s, then write `<prefix>/late-write` with the AWS CLI-less python."""
    base = desired(names, infra)  # type: ignore[arg-type]
    key = f"{names.s3_prefix()}/{LATE_WRITE}"
    script = ("import time, urllib.request; time.sleep(20); "
              f"urllib.request.urlopen(urllib.request.Request('{endpoint}/{bucket}/{key}', data=b'x', "
              "method='PUT'))")
    jobs = []
    for jd in base.job_definitions:
        request = {"type": "container", "containerProperties": {
            "image": image, "command": ["python3", "-c", script],
            "environment": [{"name": k, "value": v} for k, v in TEST_CREDENTIALS.items()],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "256"}]}}
        spec = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        jobs.append(dataclasses.replace(jd, request=request, spec_hash=spec, tags={**jd.tags, TAG_SPEC_HASH: spec}))
    return dataclasses.replace(base, job_definitions=tuple(jobs))


def test_teardown_stops_the_execution_and_its_job_before_deleting(
    moto_server_docker: str, docker_engine: str, base_image: str, tmp_path: Path
) -> None:
    reset_clients()
    infra = _create_infra(moto_server_docker)
    names = Names(new_project(), "br-inflight")
    result = apply_desired(names, [sleeping_flow(names, infra, base_image, moto_server_docker, infra.bucket)])
    alias = result.state_machines[FLOW]
    sfn, batch = client("stepfunctions"), client("batch")
    execution = sfn.start_execution(stateMachineArn=alias, name="inflight-1", input="{}")["executionArn"]
    deadline = time.monotonic() + 120
    running: list[str] = []
    while not running:
        assert time.monotonic() < deadline, "the step's job never started"
        running = [j["jobId"] for j in batch.list_jobs(jobQueue=infra.job_queue, jobStatus="RUNNING")["jobSummaryList"]]
        time.sleep(0.5)

    client("s3").put_object(Bucket=infra.bucket, Key=f"{names.s3_prefix()}/runs/{FLOW}/inflight-1/run.json", Body=b"{}")
    config = Config(root=tmp_path, data={"project": names.project,
                                         "aws": {"bucket": infra.bucket, "job_queue": infra.job_queue}})
    plan = teardown(config, names.namespace)
    operations = [c.operation for c in plan.calls]
    assert operations.index("stop_execution") < operations.index("delete_state_machine")
    assert operations.index("terminate_job") < operations.index("delete_objects")
    assert [c.params["jobId"] for c in plan.calls if c.operation == "terminate_job"] == running

    assert batch.describe_jobs(jobs=running)["jobs"][0]["status"] == "FAILED"
    import docker

    alive = [c.name for c in docker.DockerClient(base_url=docker_engine).containers.list()
             if LATE_WRITE in " ".join(c.attrs["Config"].get("Cmd") or [])]
    assert alive == [], "the step's container outlived the teardown: it could still write its data back"
    listed = client("s3").list_objects_v2(Bucket=infra.bucket, Prefix=f"{names.s3_prefix()}/")
    assert [o["Key"] for o in listed.get("Contents", [])] == []
    assert names.state_machine(FLOW) not in {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert not [j for s in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
                for j in batch.list_jobs(jobQueue=infra.job_queue, jobStatus=s)["jobSummaryList"]]
    assert [c.params["executionArn"] for c in plan.calls if c.operation == "stop_execution"] == [execution]
