"""Teardown: find everything of one namespace and plan its deletion (executed by the same executor).

In-flight work goes first: the schedules (they start executions), then the namespace's running executions are
stopped and its Batch jobs terminated (`plan_stop`), and the caller waits for those jobs to end before anything
is deleted (`plan_teardown`), so a task still running cannot write data back under a prefix already emptied.

Found never by listing the region: state machines by tag (the tagging API covers Step Functions) and by exact
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
ACTIVE_JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
STOP_REASON = "branchline teardown of the namespace"


class ProductionTeardownRefused(BranchlineError):
    """`prod` is torn down only with an explicit flag."""


@dataclass
class NamespaceResources:
    state_machines: list[str] = field(default_factory=list)
    job_definitions: list[ObservedJobDefinition] = field(default_factory=list)
    schedules: list[str] = field(default_factory=list)
    bucket: str | None = None
    s3_keys: list[str] = field(default_factory=list)
    executions: list[str] = field(default_factory=list)
    """ARNs of the namespace's RUNNING executions."""
    jobs: list[str] = field(default_factory=list)
    """Ids of the namespace's Batch jobs that have not ended."""

    @property
    def empty(self) -> bool:
        return not (self.state_machines or self.job_definitions or self.schedules or self.s3_keys
                    or self.executions or self.jobs)


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


def _running_executions(clients: ClientFactory, machines: list[str]) -> list[str]:
    sfn = clients("stepfunctions")
    found = []
    for arn in machines:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING"):
            found += [item["executionArn"] for item in page.get("executions", [])]
    return found


def _job_name_of(arn: str) -> str:
    """`…:job-definition/<name>:<revision>` → name."""
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def unfinished_jobs(clients: ClientFactory, queues: list[str], definitions: set[str]) -> list[str]:
    """Ids of the jobs on `queues` that run one of `definitions` (names) and have not ended."""
    if not definitions:
        return []
    batch = clients("batch")
    found = []
    for queue in queues:
        for status in ACTIVE_JOB_STATUSES:
            for page in batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
                found += [job["jobId"] for job in page.get("jobSummaryList", [])
                          if _job_name_of(str(job.get("jobDefinition", ""))) in definitions]
    return sorted(set(found))


def job_queues(clients: ClientFactory) -> list[str]:
    """Every job queue in the account and region (branches share one; a namespace's jobs may be on any)."""
    queues = []
    for page in clients("batch").get_paginator("describe_job_queues").paginate():
        queues += [q["jobQueueName"] for q in page.get("jobQueues", [])]
    return queues


def find_resources(
    clients: ClientFactory,
    names: Names,
    bucket: str | None,
    flows: Mapping[str, Sequence[str]] | None = None,
    *,
    queues: list[str] | None = None,
    keep_keys: frozenset[str] = frozenset(),
) -> NamespaceResources:
    """Everything of `names.namespace`: machines, ACTIVE job definition revisions, schedules, S3 keys (but
    `keep_keys`), running executions and unfinished jobs (on `queues`, default every queue).

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
    found.executions = _running_executions(clients, found.state_machines)
    found.jobs = unfinished_jobs(clients, job_queues(clients) if queues is None else queues, job_names)
    if bucket:
        found.s3_keys = [k for k in _s3_keys(clients, bucket, names.s3_prefix() + "/") if k not in keep_keys]
    return found


def flow_resources(found: NamespaceResources, names: Names, flow: str) -> NamespaceResources:
    """Only what belongs to `flow` (its state machine, job definitions and schedule); no data."""
    machine, tag = names.state_machine(flow), aws_tag_value(flow)
    return NamespaceResources(
        state_machines=[arn for arn in found.state_machines if arn.rsplit(":", 1)[-1] == machine],
        job_definitions=[jd for jd in found.job_definitions if jd.tags.get(TAG_FLOW) == tag],
        schedules=[name for name in found.schedules if name == names.schedule(flow)],
    )


def plan_stop(found: NamespaceResources) -> Plan:
    """Schedules first (they start executions), then stop running executions and terminate unfinished jobs."""
    calls = [Call("scheduler", "delete_schedule", {"Name": n, "GroupName": SCHEDULE_GROUP},
                  f"delete schedule {n}", resource=n) for n in found.schedules]
    calls += [Call("stepfunctions", "stop_execution", {"executionArn": arn, "cause": STOP_REASON},
                   f"stop execution {arn.rsplit(':', 1)[1]}", resource=arn) for arn in found.executions]
    calls += [Call("batch", "terminate_job", {"jobId": job, "reason": STOP_REASON},
                   f"terminate Batch job {job}", resource=job) for job in found.jobs]
    return Plan(calls)


def plan_teardown(found: NamespaceResources, names: Names) -> Plan:
    """Machines (with versions and aliases), job definitions, data: after `plan_stop`'s calls and their end."""
    calls = [Call("stepfunctions", "delete_state_machine", {"stateMachineArn": arn},
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
