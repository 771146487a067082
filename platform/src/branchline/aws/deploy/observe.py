"""Read what exists in AWS into the plain `Observed*` data the planner and the sweeper take.

Only reads, and only the namespace's own resources, found by exact name (or tag): never by listing the
region. Every ARN is built from the caller's identity (`Scope`): the state machine's name is known, so is
its ARN; a job definition is looked up by its exact name; a schedule is read by name, in production only.

The fast path: every deploy ends by writing the digest of what it deployed into the `live` alias's
description (`planner.mark_call`). A deploy that wants the same reads that one description and stops:
two read calls in all (the caller's identity and the alias), whatever the size of the flow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from branchline.aws.deploy.models import (
    DesiredFlow,
    ObservedFlow,
    ObservedJobDefinition,
    ObservedSchedule,
    ObservedStateMachine,
    ObservedVersion,
)
from branchline.aws.deploy.planner import SCHEDULE_GROUP, job_definition_arns
from branchline.aws.session import ClientFactory
from branchline.namespaces import TAG_NAMESPACE, TAG_PROJECT, Names, is_production


class Scope(NamedTuple):
    """Where the caller's credentials act: every ARN of the namespace is built from it."""

    partition: str
    account: str
    region: str

    def state_machine_arn(self, name: str) -> str:
        return f"arn:{self.partition}:states:{self.region}:{self.account}:stateMachine:{name}"


def scope_of(clients: ClientFactory) -> Scope:
    """The caller's account and partition (`sts get-caller-identity`, which no policy can deny) and region."""
    identity = clients("sts").get_caller_identity()
    partition = str(identity.get("Arn", "arn:aws:")).split(":")[1] or "aws"
    return Scope(partition, str(identity["Account"]), clients("stepfunctions").meta.region_name)


def error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


_NOT_FOUND = {"ResourceNotFound", "StateMachineDoesNotExist", "ResourceNotFoundException", "NotFoundException"}


def _or_none(call: Callable[[], Any]) -> Any:
    """`call()`, or None when AWS says the resource does not exist."""
    try:
        return call()
    except Exception as exc:
        if error_code(exc) in _NOT_FOUND:
            return None
        raise


def deployed_marker(clients: ClientFactory, alias_arn: str) -> str | None:
    """The description of the flow's `live` alias (where a deploy records the digest it deployed), if any."""
    alias = _or_none(lambda: clients("stepfunctions").describe_state_machine_alias(stateMachineAliasArn=alias_arn))
    return None if alias is None else str(alias.get("description", ""))


def _ours(pages: Iterable[dict[str, Any]], names: Names) -> list[ObservedJobDefinition]:
    """The ACTIVE revisions in DescribeJobDefinitions pages that carry this project's and namespace's tags."""
    want = {TAG_PROJECT: names.project, TAG_NAMESPACE: names.namespace}
    found = []
    for page in pages:
        for jd in page.get("jobDefinitions", []):
            tags = jd.get("tags") or {}
            if jd.get("status") == "ACTIVE" and all(tags.get(k) == v for k, v in want.items()):
                found.append(ObservedJobDefinition(jd["jobDefinitionName"], int(jd["revision"]),
                                                   jd["jobDefinitionArn"], jd["status"], dict(tags)))
    return found


def job_definitions_named(
    clients: ClientFactory, names: Names, job_names: Iterable[str]
) -> list[ObservedJobDefinition]:
    """The namespace's ACTIVE revisions of each job definition name (one lookup by exact name each)."""
    paginator = clients("batch").get_paginator("describe_job_definitions")
    return [jd for name in sorted(set(job_names))
            for jd in _ours(paginator.paginate(jobDefinitionName=name, status="ACTIVE"), names)]


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
    return _state_machine(sfn, arn, described)


def state_machine_at(clients: ClientFactory, arn: str) -> ObservedStateMachine | None:
    """`state_machine`, or None when no machine has that ARN."""
    sfn = clients("stepfunctions")
    described = _or_none(lambda: sfn.describe_state_machine(stateMachineArn=arn))
    return None if described is None else _state_machine(sfn, arn, described)


def _state_machine(sfn: Any, arn: str, described: dict[str, Any]) -> ObservedStateMachine:
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
    got = _or_none(lambda: clients("scheduler").get_schedule(Name=name, GroupName=group))
    if got is None:
        return None
    target = got.get("Target", {})
    return ObservedSchedule(name, group, got.get("ScheduleExpression", ""),
                            got.get("ScheduleExpressionTimezone", "UTC"), target.get("Arn", ""),
                            target.get("RoleArn", ""), target.get("Input", ""), got.get("State", "ENABLED"),
                            got.get("Description", ""))


def used_job_definition_names(sm: ObservedStateMachine) -> set[str]:
    """Names of the job definitions the machine's definition and versions submit to."""
    arns = job_definition_arns(sm.definition)
    for version in sm.versions:
        arns |= job_definition_arns(version.definition)
    return {arn.rsplit("/", 1)[1].rsplit(":", 1)[0] for arn in arns}


def observe_flow(clients: ClientFactory, scope: Scope, names: Names, desired: DesiredFlow) -> ObservedFlow:
    """What exists of one flow of the namespace: its machine, the job definitions it or the desired state
    names (so revisions of a step that was removed are pruned too), its schedule (production only)."""
    sm = state_machine_at(clients, scope.state_machine_arn(desired.state_machine_name))
    wanted = {jd.name for jd in desired.job_definitions} | (used_job_definition_names(sm) if sm else set())
    by_name: dict[str, list[ObservedJobDefinition]] = {}
    for jd in job_definitions_named(clients, names, wanted):
        by_name.setdefault(jd.name, []).append(jd)
    watch_schedule = desired.schedule is not None or is_production(names.namespace)
    return ObservedFlow(
        job_definitions={name: tuple(revs) for name, revs in by_name.items()},
        state_machine=sm,
        schedule=schedule(clients, names.schedule(desired.flow)) if watch_schedule else None,
    )


# ----------------------------------------------------------------------------- region-wide inventories
# Neither deploy nor teardown lists the region; these listings are for audits, `branchline ci prune` style
# questions ("which namespaces exist?") and tests that check nothing was left behind.


def state_machine_arns(clients: ClientFactory) -> dict[str, str]:
    """name → ARN of every state machine in the account and region."""
    arns: dict[str, str] = {}
    for page in clients("stepfunctions").get_paginator("list_state_machines").paginate():
        for item in page.get("stateMachines", []):
            arns[item["name"]] = item["stateMachineArn"]
    return arns


def job_definitions(clients: ClientFactory, names: Names) -> list[ObservedJobDefinition]:
    """Every ACTIVE job definition revision of the region tagged with this project and namespace."""
    return _ours(clients("batch").get_paginator("describe_job_definitions").paginate(status="ACTIVE"), names)
