"""Read what exists in AWS into the plain `Observed*` data the planner and the sweeper take.

Only reads. Batch and Scheduler are not covered by the tagging API everywhere (nor by moto), so
job definitions are found by listing them with their tags, schedules by name or description.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from branchline.aws.deploy.models import (
    ObservedFlow,
    ObservedJobDefinition,
    ObservedSchedule,
    ObservedStateMachine,
    ObservedVersion,
)
from branchline.aws.deploy.planner import SCHEDULE_GROUP
from branchline.aws.session import ClientFactory
from branchline.namespaces import TAG_FLOW, TAG_NAMESPACE, TAG_PROJECT, Names


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def job_definitions(clients: ClientFactory, names: Names) -> list[ObservedJobDefinition]:
    """Every ACTIVE job definition revision tagged with this project and namespace."""
    want = {TAG_PROJECT: names.project, TAG_NAMESPACE: names.namespace}
    found = []
    paginator = clients("batch").get_paginator("describe_job_definitions")
    for page in paginator.paginate(status="ACTIVE"):
        for jd in page.get("jobDefinitions", []):
            tags = jd.get("tags") or {}
            if jd.get("status") == "ACTIVE" and all(tags.get(k) == v for k, v in want.items()):
                found.append(ObservedJobDefinition(jd["jobDefinitionName"], int(jd["revision"]),
                                                   jd["jobDefinitionArn"], jd["status"], dict(tags)))
    return found


def state_machine_arns(clients: ClientFactory) -> dict[str, str]:
    """name → ARN of every state machine in the account and region."""
    arns: dict[str, str] = {}
    for page in clients("stepfunctions").get_paginator("list_state_machines").paginate():
        for item in page.get("stateMachines", []):
            arns[item["name"]] = item["stateMachineArn"]
    return arns


def _pages(call: Callable[..., dict[str, Any]], key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Follow `nextToken` by hand: not every Step Functions list operation has a paginator."""
    token = None
    while True:
        response = call(**params, **({"nextToken": token} if token else {}))
        yield from response.get(key, [])
        token = response.get("nextToken")
        if not token:
            return


def state_machine(clients: ClientFactory, arn: str) -> ObservedStateMachine:
    """The machine, its tags, its versions (with definitions) and its aliases' routes."""
    sfn = clients("stepfunctions")
    described = sfn.describe_state_machine(stateMachineArn=arn)
    tags = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn).get("tags", [])}
    versions = []
    for item in _pages(sfn.list_state_machine_versions, "stateMachineVersions", stateMachineArn=arn):
        version_arn = item["stateMachineVersionArn"]
        version = sfn.describe_state_machine(stateMachineArn=version_arn)
        versions.append(ObservedVersion(version_arn, int(version_arn.rsplit(":", 1)[1]), version["definition"],
                                        version["roleArn"], version.get("description", "")))
    aliases = {}
    for item in _pages(sfn.list_state_machine_aliases, "stateMachineAliases", stateMachineArn=arn):
        alias = sfn.describe_state_machine_alias(stateMachineAliasArn=item["stateMachineAliasArn"])
        aliases[alias["name"]] = tuple(r["stateMachineVersionArn"] for r in alias.get("routingConfiguration", []))
    return ObservedStateMachine(arn, described["definition"], described["roleArn"], tags,
                                tuple(sorted(versions, key=lambda v: v.number)), aliases)


def schedule(clients: ClientFactory, name: str, group: str = SCHEDULE_GROUP) -> ObservedSchedule | None:
    try:
        got = clients("scheduler").get_schedule(Name=name, GroupName=group)
    except Exception as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    target = got.get("Target", {})
    return ObservedSchedule(name, group, got.get("ScheduleExpression", ""),
                            got.get("ScheduleExpressionTimezone", "UTC"), target.get("Arn", ""),
                            target.get("RoleArn", ""), target.get("Input", ""), got.get("State", "ENABLED"))


def observe_flows(clients: ClientFactory, names: Names, flows: Iterable[str]) -> dict[str, ObservedFlow]:
    """flow → what exists of it in this namespace (one listing of job definitions and machines for all)."""
    by_flow: dict[str, dict[str, list[ObservedJobDefinition]]] = defaultdict(lambda: defaultdict(list))
    for jd in job_definitions(clients, names):
        by_flow[jd.tags.get(TAG_FLOW, "")][jd.name].append(jd)
    machines = state_machine_arns(clients)
    observed = {}
    for flow in flows:
        flow_tag = names.tags(flow)[TAG_FLOW]
        arn = machines.get(names.state_machine(flow))
        observed[flow] = ObservedFlow(
            job_definitions={name: tuple(revs) for name, revs in by_flow.get(flow_tag, {}).items()},
            state_machine=state_machine(clients, arn) if arn else None,
            schedule=schedule(clients, names.schedule(flow)),
        )
    return observed
