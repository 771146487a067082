"""Stand-ins for the compiler's output (tests only): a small, valid desired state for a two-step flow.

The deployer's behaviour (diff, publish, alias, prune, teardown) does not depend on what the compiler puts in
a job definition or a definition, only on their hashes and the job definitions' ARNs (Refs the planner fills);
these stand-ins keep the tests independent of the compiler's details. Tests through the real compiler are in
test_project_moto.py.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from branchline.aws.deploy.models import DesiredFlow, DesiredJobDefinition, DesiredSchedule, job_definition_ref
from branchline.namespaces import TAG_SPEC_HASH, Names, is_production
from tests.aws_deploy.conftest import Infra

STEPS = ("start", "end")
FLOW = "TrainFlow"


def new_project() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def job_request(code_package: str, image: str = "repo@sha256:" + "a" * 64) -> dict[str, Any]:
    return {
        "type": "container",
        "containerProperties": {
            "image": image,
            "command": ["branchline", "task"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
            "environment": [{"name": "BRANCHLINE_CODE_PACKAGE", "value": code_package}],
        },
    }


def definition(queue: str, arns: Mapping[str, str]) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for index, step in enumerate(STEPS):
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::batch:submitJob.sync",
            "Parameters": {"JobName": step, "JobQueue": queue, "JobDefinition": arns[step]},
            "ResultPath": None,
        }
        if index + 1 < len(STEPS):
            state["Next"] = STEPS[index + 1]
        else:
            state["End"] = True
        states[step] = state
    return {"StartAt": STEPS[0], "States": states}


def desired(
    names: Names,
    infra: Infra,
    *,
    code_package: str = "s3://code/one.tgz",
    git_sha: str = "sha-1",
    keep_versions: int = 10,
    schedule: bool = False,
) -> DesiredFlow:
    """What the real compiler would give, in miniature; a schedule only in prod, as the deployer does."""
    queue = infra.production_job_queue if is_production(names.namespace) else infra.job_queue
    jobs = []
    for step in STEPS:
        request = job_request(code_package)
        spec = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        jobs.append(DesiredJobDefinition(step, names.job_definition(FLOW, step), request, spec,
                                         {**names.tags(FLOW, git_sha), TAG_SPEC_HASH: spec}))
    want_schedule = None
    if schedule and is_production(names.namespace):
        want_schedule = DesiredSchedule(names.schedule(FLOW), "cron(0 3 * * ? *)", "UTC", infra.states_role_arn)
    return DesiredFlow(
        flow=FLOW,
        state_machine_name=names.state_machine(FLOW),
        role_arn=infra.states_role_arn,
        job_definitions=tuple(jobs),
        definition=definition(queue, {s: job_definition_ref(jobs[i].name).placeholder for i, s in enumerate(STEPS)}),
        tags=names.tags(FLOW, git_sha),
        git_sha=git_sha,
        schedule=want_schedule,
        keep_versions=keep_versions,
    )
