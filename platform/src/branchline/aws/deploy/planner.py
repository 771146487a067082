"""Desired state + observed state → the API calls that make one into the other. Pure: no I/O.

Order matters and is fixed: job definitions first (the state machine definition names them by
ARN with revision), then the state machine (create/update with publish, or publish alone when a
previous run stopped between update and publish), tags, the alias, pruning of old versions and of
job definition revisions no kept version uses, and last the schedule. Every step only reads the
observed state, so a plan computed after an interrupted run picks up exactly what is missing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from branchline.aws.deploy.models import (
    Call,
    DesiredFlow,
    DesiredSchedule,
    ObservedFlow,
    ObservedJobDefinition,
    ObservedStateMachine,
    ObservedVersion,
    Plan,
    Ref,
    canonical_json,
    job_definition_ref,
    resolve,
)
from branchline.namespaces import TAG_NAMESPACE, TAG_PROJECT, TAG_SPEC_HASH

SCHEDULE_GROUP = "default"
SCHEDULE_MARK = "branchline:"
DESIRED_MARK = "branchline desired="
"""How the `live` alias's description starts once a deploy has finished: then the digest of what it deployed."""
ALIAS_DESCRIPTION_MAX = 256
_JOB_DEFINITION_ARN = re.compile(r"arn:[\w-]+:batch:[\w-]*:\d*:job-definition/[A-Za-z0-9_-]+:\d+")


def same_document(observed: str, desired_canonical: str) -> bool:
    """Compare a definition read back from AWS (any spelling) with our canonical JSON."""
    try:
        return canonical_json(json.loads(observed)) == desired_canonical
    except (TypeError, ValueError):
        return False


def job_definition_arns(definition: str) -> set[str]:
    """Job definition ARNs (with revision) a state machine definition submits to."""
    return set(_JOB_DEFINITION_ARN.findall(definition))


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """Step Functions spells tags as a list of {key, value}."""
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def _reusable(revisions: Iterable[ObservedJobDefinition], spec_hash: str) -> ObservedJobDefinition | None:
    matching = [r for r in revisions if r.status == "ACTIVE" and r.tags.get(TAG_SPEC_HASH) == spec_hash]
    return max(matching, key=lambda r: r.revision, default=None)


def plan_job_definitions(desired: DesiredFlow, observed: ObservedFlow) -> tuple[list[Call], dict[str, str]]:
    """Register what has no ACTIVE revision with the same spec hash; return the calls and step → ARN."""
    calls: list[Call] = []
    arns: dict[str, str] = {}
    for jd in desired.job_definitions:
        found = _reusable(observed.job_definitions.get(jd.name, ()), jd.spec_hash)
        if found is not None:
            arns[jd.step] = found.arn
            continue
        var = job_definition_ref(jd.name).name
        params = {**jd.request, "jobDefinitionName": jd.name, "tags": {**jd.tags, TAG_SPEC_HASH: jd.spec_hash}}
        calls.append(
            Call("batch", "register_job_definition", params,
                 f"register job definition {jd.name} (spec {jd.spec_hash[:12]})",
                 outputs={var: "jobDefinitionArn"}, resource=jd.name)
        )
        arns[jd.step] = Ref(var).placeholder
    return calls, arns


def _matching_version(sm: ObservedStateMachine, definition: str, role_arn: str) -> ObservedVersion | None:
    matching = [v for v in sm.versions if v.role_arn == role_arn and same_document(v.definition, definition)]
    return max(matching, key=lambda v: v.number, default=None)


def versions_to_prune(
    versions: Iterable[ObservedVersion], *, keep: int, protected: set[str], publishing: bool
) -> list[ObservedVersion]:
    """The oldest versions beyond `keep` (a version about to be published takes one slot).

    `protected` versions (routed by an alias after this plan) are never deleted: AWS refuses it,
    and they are what `rollback` and running traffic use.
    """
    keep = max(1, keep)
    room = keep - (1 if publishing else 0)
    newest_first = sorted(versions, key=lambda v: v.number, reverse=True)
    kept = {v.arn for v in newest_first[:room]} | protected
    return sorted((v for v in newest_first if v.arn not in kept), key=lambda v: v.number)


def state_machine_definition(desired: DesiredFlow, arns: Mapping[str, str]) -> dict[str, Any]:
    """The desired definition naming these job definitions (step → ARN, or the placeholder of a Ref)."""
    refs = {job_definition_ref(jd.name).name: arns[jd.step] for jd in desired.job_definitions}
    return resolve(desired.definition, refs)


def plan_state_machine(desired: DesiredFlow, observed: ObservedFlow, arns: dict[str, str]) -> tuple[list[Call], str]:
    """Create/update + publish, tag, point the alias; return the calls and the alias ARN (maybe a Ref)."""
    definition = canonical_json(state_machine_definition(desired, arns))
    sm = observed.state_machine
    name = desired.state_machine_name
    sm_var, version_var = f"sm:{name}", f"version:{name}"
    routing = [{"stateMachineVersionArn": Ref(version_var), "weight": 100}]
    if sm is None:
        calls = [
            Call("stepfunctions", "create_state_machine",
                 {"name": name, "definition": definition, "roleArn": desired.role_arn,
                  "tags": tag_list(desired.tags), "publish": True, "versionDescription": desired.git_sha},
                 f"create state machine {name} and publish version 1",
                 outputs={sm_var: "stateMachineArn", version_var: "stateMachineVersionArn"}, resource=name),
            Call("stepfunctions", "create_state_machine_alias",
                 {"name": desired.alias, "routingConfiguration": routing,
                  "description": f"{desired.flow} at {desired.git_sha}"},
                 f"create alias {desired.alias} → the new version", resource=f"{name}:{desired.alias}"),
        ]
        return calls, f"{Ref(sm_var).placeholder}:{desired.alias}"

    calls: list[Call] = []
    alias_arn = f"{sm.arn}:{desired.alias}"
    publishing = True
    target: str | Ref
    if not same_document(sm.definition, definition) or sm.role_arn != desired.role_arn:
        calls.append(Call("stepfunctions", "update_state_machine",
                          {"stateMachineArn": sm.arn, "definition": definition, "roleArn": desired.role_arn,
                           "publish": True, "versionDescription": desired.git_sha},
                          f"update state machine {name} and publish a new version",
                          outputs={version_var: "stateMachineVersionArn"}, resource=name))
        target = Ref(version_var)
    elif (found := _matching_version(sm, definition, desired.role_arn)) is not None:
        target, publishing = found.arn, False
    else:
        calls.append(Call("stepfunctions", "publish_state_machine_version",
                          {"stateMachineArn": sm.arn, "description": desired.git_sha},
                          f"publish a version of {name} (its definition is current but unpublished)",
                          outputs={version_var: "stateMachineVersionArn"}, resource=name))
        target = Ref(version_var)

    missing = {k: v for k, v in desired.tags.items() if sm.tags.get(k) != v}
    if missing:
        calls.append(Call("stepfunctions", "tag_resource", {"resourceArn": sm.arn, "tags": tag_list(missing)},
                          f"tag {name}: " + ", ".join(f"{k}={v}" for k, v in sorted(missing.items())),
                          resource=name))

    current = sm.aliases.get(desired.alias)
    routing = [{"stateMachineVersionArn": target, "weight": 100}]
    if current is None:
        calls.append(Call("stepfunctions", "create_state_machine_alias",
                          {"name": desired.alias, "routingConfiguration": routing,
                           "description": f"{desired.flow} at {desired.git_sha}"},
                          f"create alias {desired.alias}", resource=alias_arn))
    elif isinstance(target, Ref) or current != (target,):
        calls.append(Call("stepfunctions", "update_state_machine_alias",
                          {"stateMachineAliasArn": alias_arn, "routingConfiguration": routing},
                          f"move alias {desired.alias} to the new version", resource=alias_arn))

    protected = {arn for alias, routed in sm.aliases.items() if alias != desired.alias for arn in routed}
    if isinstance(target, str):
        protected.add(target)
    pruned = versions_to_prune(sm.versions, keep=desired.keep_versions, protected=protected, publishing=publishing)
    calls += [Call("stepfunctions", "delete_state_machine_version", {"stateMachineVersionArn": v.arn},
                   f"prune version {v.number} of {name} (keep {desired.keep_versions})", resource=v.arn)
              for v in pruned]

    calls += _prune_job_definitions(desired, observed, arns, kept=[v for v in sm.versions if v not in pruned])
    return calls, alias_arn


def _prune_job_definitions(
    desired: DesiredFlow, observed: ObservedFlow, arns: dict[str, str], kept: list[ObservedVersion]
) -> list[Call]:
    """Deregister this flow's ACTIVE revisions that neither the new definition nor a kept version uses."""
    used = set(arns.values())
    for version in kept:
        used |= job_definition_arns(version.definition)
    return [
        Call("batch", "deregister_job_definition", {"jobDefinition": rev.arn},
             f"deregister unused job definition {rev.name}:{rev.revision}", resource=rev.arn)
        for revisions in observed.job_definitions.values()
        for rev in sorted(revisions, key=lambda r: (r.name, r.revision))
        if rev.status == "ACTIVE" and rev.arn not in used
    ]


def schedule_description(project: str, namespace: str, flow: str) -> str:
    """Schedules take no tags: the sweeper finds ours by this description."""
    return f"{SCHEDULE_MARK}{project}/{namespace}/{flow}"


def schedule_params(schedule: DesiredSchedule, target_arn: str, description: str) -> dict:
    return {
        "Name": schedule.name,
        "GroupName": SCHEDULE_GROUP,
        "ScheduleExpression": schedule.expression,
        "ScheduleExpressionTimezone": schedule.timezone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Description": description,
        "Target": {"Arn": target_arn, "RoleArn": schedule.role_arn, "Input": schedule.input},
    }


def plan_schedule(desired: DesiredFlow, observed: ObservedFlow, alias_arn: str) -> list[Call]:
    """Create, update or delete the flow's EventBridge Scheduler schedule (targets the alias)."""
    want, have = desired.schedule, observed.schedule
    if want is None:
        if have is None:
            return []
        return [Call("scheduler", "delete_schedule", {"Name": have.name, "GroupName": have.group},
                     f"delete schedule {have.name} (flow has no @schedule here)", resource=have.name)]
    description = schedule_description(desired.tags.get(TAG_PROJECT, ""), desired.tags.get(TAG_NAMESPACE, ""),
                                       desired.flow)
    params = schedule_params(want, alias_arn, description)
    if have is None:
        return [Call("scheduler", "create_schedule", params,
                     f"create schedule {want.name} ({want.expression} {want.timezone})", resource=want.name)]
    same = (have.expression, have.timezone, have.target_arn, have.role_arn, have.state) == (
        want.expression, want.timezone, alias_arn, want.role_arn, "ENABLED"
    ) and same_document(have.input, canonical_json(json.loads(want.input)))
    if same:
        return []
    return [Call("scheduler", "update_schedule", params,
                 f"update schedule {want.name} ({want.expression} {want.timezone})", resource=want.name)]


def desired_digest(desired: DesiredFlow) -> str:
    """sha256 of everything a flow's deploy makes true (definition, job definitions, role, tags, schedule...)."""
    return hashlib.sha256(canonical_json(dataclasses.asdict(desired)).encode()).hexdigest()


def marker_description(desired: DesiredFlow) -> str:
    """The `live` alias's description after a finished deploy of `desired`."""
    text = f"{DESIRED_MARK}{desired_digest(desired)}; {desired.flow} at {desired.git_sha}"
    return text[:ALIAS_DESCRIPTION_MAX]


def is_current(desired: DesiredFlow, description: str | None) -> bool:
    """Whether the last finished deploy of this flow deployed exactly `desired` (read from its alias)."""
    return bool(description) and (description or "").startswith(f"{DESIRED_MARK}{desired_digest(desired)};")


def mark_call(desired: DesiredFlow, alias_arn: str) -> Call:
    """The last call of a flow's deploy: record what is now deployed, so that the same deploy again costs one
    read. Written last, so a deploy interrupted before it is observed in full the next time."""
    return Call("stepfunctions", "update_state_machine_alias",
                {"stateMachineAliasArn": alias_arn, "description": marker_description(desired)},
                f"record on alias {desired.alias} what is deployed (digest {desired_digest(desired)[:12]})",
                resource=alias_arn)


def plan_flow(desired: DesiredFlow, observed: ObservedFlow, marker: str | None = None) -> list[Call]:
    """All calls for one flow, in dependency order; `marker` is the alias's current description."""
    calls, arns = plan_job_definitions(desired, observed)
    sm_calls, alias_arn = plan_state_machine(desired, observed, arns)
    calls += sm_calls + plan_schedule(desired, observed, alias_arn)
    if calls or not is_current(desired, marker):
        calls.append(mark_call(desired, alias_arn))
    return calls


def plan_deploy(triples: Iterable[tuple[DesiredFlow, ObservedFlow, str | None]]) -> Plan:
    plan = Plan()
    for desired, observed, marker in triples:
        plan.extend(plan_flow(desired, observed, marker))
    return plan
