"""Teardown: find everything of one namespace and plan its deletion (executed by the same executor).

Never by listing the region: state machines by tag (the tagging API covers Step Functions) and by exact
name for the project's flows; job definitions by exact name (every name a found machine's versions submit
to, and the project's current steps), keeping only revisions tagged with this project and namespace;
schedules by exact name and description (schedules take no tags); data by key prefix
(S3, `branchline/<project>/<namespace>/`, slash included so `br-a` never matches `br-ab`).
A branch teardown cannot reach `prod` or another branch. `DeleteStateMachine` also removes versions
and aliases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from branchline.aws.deploy.models import Call, ObservedJobDefinition, Plan
from branchline.aws.deploy.observe import (
    job_definitions_named,
    scope_of,
    state_machine_at,
    used_job_definition_names,
)
from branchline.aws.deploy.observe import schedule as observed_schedule
from branchline.aws.deploy.planner import SCHEDULE_GROUP, schedule_description
from branchline.aws.session import ClientFactory
from branchline.errors import BranchlineError
from branchline.namespaces import TAG_FLOW, TAG_NAMESPACE, TAG_PROJECT, Names, is_production
from branchline.namespaces.names import aws_tag_value

S3_DELETE_BATCH = 1000


class ProductionTeardownRefused(BranchlineError):
    """`prod` is torn down only with an explicit flag."""


@dataclass
class NamespaceResources:
    state_machines: list[str] = field(default_factory=list)
    job_definitions: list[ObservedJobDefinition] = field(default_factory=list)
    schedules: list[str] = field(default_factory=list)
    bucket: str | None = None
    s3_keys: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.state_machines or self.job_definitions or self.schedules or self.s3_keys)


def tagged_state_machines(clients: ClientFactory, names: Names) -> dict[str, dict[str, str]]:
    """ARN → tags of the state machines tagged with this project and namespace (tagging API)."""
    filters = [{"Key": TAG_PROJECT, "Values": [names.project]}, {"Key": TAG_NAMESPACE, "Values": [names.namespace]}]
    found = {}
    paginator = clients("resourcegroupstaggingapi").get_paginator("get_resources")
    for page in paginator.paginate(TagFilters=filters, ResourceTypeFilters=["states:stateMachine"]):
        for item in page.get("ResourceTagMappingList", []):
            found[item["ResourceARN"]] = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
    return found


def _s3_keys(clients: ClientFactory, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in clients("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def find_resources(
    clients: ClientFactory, names: Names, bucket: str | None, flows: Mapping[str, Sequence[str]] | None = None
) -> NamespaceResources:
    """Everything of `names.namespace`: machines, ACTIVE job definition revisions, schedules, S3 keys.

    `flows` (flow → steps, the project's flows as they are now) adds names to look for; what was deployed
    and is no longer in the project is found through the tags of its state machine.
    """
    flows = flows or {}
    found = NamespaceResources(bucket=bucket)
    scope = scope_of(clients)
    tagged = tagged_state_machines(clients, names)
    flow_names = {tags.get(TAG_FLOW) for tags in tagged.values()} | set(flows)
    job_names = {names.job_definition(flow, step) for flow, steps in flows.items() for step in steps}
    machines = set(tagged)
    head = schedule_description(names.project, names.namespace, "")
    for flow in sorted(f for f in flow_names if f):
        sm = state_machine_at(clients, scope.state_machine_arn(names.state_machine(flow)))
        if sm is not None and all(sm.tags.get(k) == v for k, v in names.tags().items()):
            machines.add(sm.arn)
            job_names |= used_job_definition_names(sm)
        schedule = observed_schedule(clients, names.schedule(flow)) if is_production(names.namespace) else None
        if schedule is not None and schedule.description.startswith(head):  # only production has schedules
            found.schedules.append(schedule.name)
    found.state_machines = sorted(machines)
    found.job_definitions = job_definitions_named(clients, names, job_names)
    if bucket:
        found.s3_keys = _s3_keys(clients, bucket, names.s3_prefix() + "/")
    return found


def flow_resources(found: NamespaceResources, names: Names, flow: str) -> NamespaceResources:
    """Only what belongs to `flow` (its state machine, job definitions and schedule); no data."""
    machine, tag = names.state_machine(flow), aws_tag_value(flow)
    return NamespaceResources(
        state_machines=[arn for arn in found.state_machines if arn.rsplit(":", 1)[-1] == machine],
        job_definitions=[jd for jd in found.job_definitions if jd.tags.get(TAG_FLOW) == tag],
        schedules=[name for name in found.schedules if name == names.schedule(flow)],
    )


def plan_teardown(found: NamespaceResources, names: Names) -> Plan:
    """Schedules first (they start executions), then machines, job definitions, data."""
    calls = [Call("scheduler", "delete_schedule", {"Name": n, "GroupName": SCHEDULE_GROUP},
                  f"delete schedule {n}", resource=n) for n in found.schedules]
    calls += [Call("stepfunctions", "delete_state_machine", {"stateMachineArn": arn},
                   f"delete state machine {arn.rsplit(':', 1)[1]} (with its versions and aliases)", resource=arn)
              for arn in found.state_machines]
    calls += [Call("batch", "deregister_job_definition", {"jobDefinition": jd.arn},
                   f"deregister job definition {jd.name}:{jd.revision}", resource=jd.arn)
              for jd in sorted(found.job_definitions, key=lambda j: (j.name, j.revision))]
    for start in range(0, len(found.s3_keys), S3_DELETE_BATCH):
        chunk = found.s3_keys[start : start + S3_DELETE_BATCH]
        calls.append(Call("s3", "delete_objects",
                          {"Bucket": found.bucket, "Delete": {"Objects": [{"Key": k} for k in chunk], "Quiet": True}},
                          f"delete {len(chunk)} objects under s3://{found.bucket}/{names.s3_prefix()}/",
                          resource=f"s3://{found.bucket}/{names.s3_prefix()}/"))
    return Plan(calls)


def check_teardown_allowed(namespace: str, production: bool) -> None:
    if is_production(namespace) and not production:
        raise ProductionTeardownRefused(
            "refusing to tear down the production namespace `prod`",
            hint="pass --production if you really mean to delete production",
        )
