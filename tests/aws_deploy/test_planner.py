"""The planner on plain data (no AWS): decisions that moto cannot easily put us in front of."""

from __future__ import annotations

import json

from branchline.aws.deploy.models import (
    DesiredFlow,
    DesiredJobDefinition,
    ObservedFlow,
    ObservedJobDefinition,
    ObservedStateMachine,
    ObservedVersion,
    Ref,
    canonical_json,
    job_definition_ref,
    refs_in,
    resolve,
)
from branchline.aws.deploy.planner import is_current, marker_description, plan_flow, versions_to_prune
from branchline.namespaces import TAG_SPEC_HASH

SM = "arn:aws:states:us-east-1:1:stateMachine:p-br-x-F"
JD = "arn:aws:batch:us-east-1:1:job-definition/p-br-x-F-start"


def want(spec: str = "h1") -> DesiredFlow:
    job = DesiredJobDefinition("start", "p-br-x-F-start", {"type": "container"}, spec, {"branchline:flow": "F"})
    definition = {"StartAt": "s", "Arn": job_definition_ref("p-br-x-F-start").placeholder}
    return DesiredFlow("F", "p-br-x-F", "arn:role", (job,), definition, {"branchline:flow": "F"}, "sha",
                       keep_versions=2)


def version(n: int, jd_revision: int = 1) -> ObservedVersion:
    return ObservedVersion(f"{SM}:{n}", n, json.dumps({"StartAt": "s", "Arn": f"{JD}:{jd_revision}"}), "arn:role")


def test_an_active_revision_with_the_same_spec_hash_is_reused() -> None:
    revision = ObservedJobDefinition("p-br-x-F-start", 1, f"{JD}:1", "ACTIVE", {TAG_SPEC_HASH: "h1"})
    sm = ObservedStateMachine(SM, version(1).definition, "arn:role", {"branchline:flow": "F"}, (version(1),),
                              {"live": (f"{SM}:1",)})
    observed = ObservedFlow({"p-br-x-F-start": (revision,)}, sm)
    assert plan_flow(want(), observed, marker_description(want())) == []
    # everything current, but the alias does not record it yet: the one call is the record
    (mark,) = plan_flow(want(), observed, marker=None)
    assert mark.operation == "update_state_machine_alias" and mark.params == {
        "stateMachineAliasArn": f"{SM}:live", "description": marker_description(want())}


def test_the_alias_record_names_exactly_what_was_deployed() -> None:
    recorded = marker_description(want())
    assert is_current(want(), recorded) and len(recorded) <= 256
    assert not is_current(want("h2"), recorded)  # a job definition changed
    assert not is_current(want(), None) and not is_current(want(), "rolled back from version 2 to version 1")


def test_a_current_but_unpublished_definition_is_published_then_aliased() -> None:
    revision = ObservedJobDefinition("p-br-x-F-start", 2, f"{JD}:2", "ACTIVE", {TAG_SPEC_HASH: "h1"})
    old = ObservedJobDefinition("p-br-x-F-start", 1, f"{JD}:1", "ACTIVE", {TAG_SPEC_HASH: "h0"})
    sm = ObservedStateMachine(SM, version(0, 2).definition, "arn:role", {"branchline:flow": "F"}, (version(1),),
                              {"live": (f"{SM}:1",)})
    calls = plan_flow(want(), ObservedFlow({"p-br-x-F-start": (old, revision)}, sm))
    assert [c.operation for c in calls] == ["publish_state_machine_version", "update_state_machine_alias",
                                            "update_state_machine_alias"]
    assert calls[1].params["routingConfiguration"][0]["stateMachineVersionArn"] == Ref(f"version:{'p-br-x-F'}")
    assert calls[-1].params["description"] == marker_description(want())  # recorded last


def test_a_new_revision_is_referenced_by_placeholder_in_the_definition() -> None:
    calls = plan_flow(want("h2"), ObservedFlow())
    assert [c.operation for c in calls] == ["register_job_definition", "create_state_machine",
                                            "create_state_machine_alias", "update_state_machine_alias"]
    definition = calls[1].params["definition"]
    assert refs_in(definition) == {"jobdef:p-br-x-F-start"}
    assert json.loads(resolve(definition, {"jobdef:p-br-x-F-start": f"{JD}:7"})) == {"StartAt": "s", "Arn": f"{JD}:7"}
    assert definition == canonical_json(json.loads(definition))


def test_pruning_keeps_n_counting_the_new_version_and_never_the_protected() -> None:
    versions = [version(n) for n in range(1, 6)]
    pruned = versions_to_prune(versions, keep=2, protected={f"{SM}:1"}, publishing=True)
    assert [v.number for v in pruned] == [2, 3, 4]
    assert [v.number for v in versions_to_prune(versions, keep=2, protected=set(), publishing=False)] == [1, 2, 3]
