"""The deployer against a real moto server: resources, idempotence, versions, rollback, pruning, convergence,
and what it reads: only the namespace's own resources, and two calls for a deploy of what is already there."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from branchline.aws.deploy.apply import apply_desired
from branchline.aws.deploy.models import DesiredFlow, canonical_json
from branchline.aws.deploy.observe import observe_flow, scope_of, state_machine, state_machine_arns
from branchline.aws.deploy.planner import job_definition_arns, state_machine_definition
from branchline.aws.deploy.printer import print_plan
from branchline.aws.deploy.versions import RollbackError, plan_rollback
from branchline.aws.session import client
from branchline.namespaces import TAG_SPEC_HASH, Names
from tests.aws_deploy.conftest import Infra
from tests.aws_deploy.metering import MeteredClients
from tests.aws_deploy.recording import CallRecorder, InjectedFailure
from tests.aws_deploy.standins import FLOW, desired, new_project

pytestmark = pytest.mark.moto


def deploy(names: Names, want: DesiredFlow, fail_after: int | None = None, full: bool = False) -> CallRecorder:
    recorder = CallRecorder(fail_after=fail_after)
    apply_desired(names, [want], executor=recorder, full=full)
    return recorder


def observe(names: Names, want: DesiredFlow):
    return observe_flow(client, scope_of(client), names, want)


def check_converged(names: Names, want: DesiredFlow, *, versions: int) -> None:
    """The end state a clean deploy of `want` gives, checked through AWS (independent of call history)."""
    observed = observe(names, want)
    sm = observed.state_machine
    assert sm is not None
    # one ACTIVE revision per step carries the desired spec; the definition points at exactly those
    current = {}
    for jd in want.job_definitions:
        matching = [r for r in observed.job_definitions[jd.name] if r.tags.get(TAG_SPEC_HASH) == jd.spec_hash]
        assert len(matching) == 1, (jd.name, observed.job_definitions[jd.name])
        current[jd.step] = matching[0].arn
    assert json.loads(sm.definition) == state_machine_definition(want, current)
    # the alias routes to one version, with that same definition; version count as expected
    (target,) = sm.aliases["live"]
    version = next(v for v in sm.versions if v.arn == target)
    assert json.loads(version.definition) == json.loads(sm.definition)
    assert len(sm.versions) == versions
    # no job definition revision that no kept version uses
    used = set().union(*(job_definition_arns(v.definition) for v in sm.versions))
    active = {r.arn for revs in observed.job_definitions.values() for r in revs}
    assert active == used
    assert {k: sm.tags[k] for k in want.tags} == want.tags
    if want.schedule is not None:
        assert observed.schedule is not None
        assert observed.schedule.target_arn == f"{sm.arn}:live"
    # and nothing is left to do, even when everything is read again
    assert deploy(names, want).calls == []
    assert deploy(names, want, full=True).calls == []


def test_first_deploy_creates_named_tagged_resources(aws: Infra) -> None:
    names = Names(new_project(), "br-feature-x")
    want = desired(names, aws, git_sha="abc123")
    recorder = deploy(names, want)
    assert recorder.operations == [
        "batch.register_job_definition", "batch.register_job_definition",
        "stepfunctions.create_state_machine", "stepfunctions.create_state_machine_alias",
        "stepfunctions.update_state_machine_alias",  # last: the record of what is deployed
    ]
    expected_tags = {"branchline:project": names.project, "branchline:namespace": "br-feature-x",
                     "branchline:flow": FLOW, "branchline:git-sha": "abc123"}
    jobs = client("batch").describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    ours = [j for j in jobs if j["tags"].get("branchline:project") == names.project]
    expected_names = sorted(names.job_definition(FLOW, s) for s in ("start", "end"))
    assert sorted(j["jobDefinitionName"] for j in ours) == expected_names
    for job in ours:
        assert {k: job["tags"][k] for k in expected_tags} == expected_tags
        assert job["tags"][TAG_SPEC_HASH]
    arn = state_machine_arns(client)[names.state_machine(FLOW)]
    tags = client("stepfunctions").list_tags_for_resource(resourceArn=arn)["tags"]
    assert {t["key"]: t["value"] for t in tags} == expected_tags
    found = client("resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "branchline:namespace", "Values": ["br-feature-x"]},
                    {"Key": "branchline:project", "Values": [names.project]}])["ResourceTagMappingList"]
    assert [r["ResourceARN"] for r in found] == [arn]
    sm = state_machine(client, arn)
    assert sm.aliases["live"] == (f"{arn}:1",)
    assert sm.versions[0].description == "abc123"
    assert job_definition_arns(sm.definition) == {j["jobDefinitionArn"] for j in ours}
    check_converged(names, want, versions=1)


def test_redeploy_of_the_same_commit_makes_no_mutating_call(aws: Infra) -> None:
    names = Names(new_project(), "prod")
    want = desired(names, aws, schedule=True)
    first = deploy(names, want)
    assert "scheduler.create_schedule" in first.operations
    assert deploy(names, want).calls == []
    assert deploy(names, desired(names, aws, schedule=True)).calls == []


def test_new_commit_publishes_a_version_moves_live_and_rollback_moves_it_back(aws: Infra) -> None:
    names = Names(new_project(), "br-x")
    deploy(names, desired(names, aws, code_package="s3://code/1.tgz", git_sha="one"))
    second = deploy(names, desired(names, aws, code_package="s3://code/2.tgz", git_sha="two"))
    assert second.operations == [
        "batch.register_job_definition", "batch.register_job_definition",
        "stepfunctions.update_state_machine", "stepfunctions.tag_resource",
        "stepfunctions.update_state_machine_alias", "stepfunctions.update_state_machine_alias",
    ]
    arn = state_machine_arns(client)[names.state_machine(FLOW)]
    sm = state_machine(client, arn)
    assert [(v.number, v.description) for v in sm.versions] == [(1, "one"), (2, "two")]
    assert sm.aliases["live"] == (f"{arn}:2",)

    rollback = plan_rollback(sm, "live")
    assert (rollback.from_version, rollback.to_version) == (2, 1)
    apply = CallRecorder()
    apply.execute(rollback.plan)
    assert state_machine(client, arn).aliases["live"] == (f"{arn}:1",)
    with pytest.raises(RollbackError, match="oldest kept version"):
        plan_rollback(state_machine(client, arn), "live")
    # deploying the current commit again moves live forward to its version, without publishing
    again = deploy(names, desired(names, aws, code_package="s3://code/2.tgz", git_sha="two"))
    assert again.operations == ["stepfunctions.update_state_machine_alias", "stepfunctions.update_state_machine_alias"]
    assert state_machine(client, arn).aliases["live"] == (f"{arn}:2",)


def test_old_versions_are_pruned_keeping_n(aws: Infra) -> None:
    names = Names(new_project(), "br-prune")
    for n in range(1, 6):
        want = desired(names, aws, code_package=f"s3://code/{n}.tgz", git_sha=f"c{n}", keep_versions=2)
        deploy(names, want)
    arn = state_machine_arns(client)[names.state_machine(FLOW)]
    sm = state_machine(client, arn)
    assert [v.number for v in sm.versions] == [4, 5]
    assert sm.aliases["live"] == (f"{arn}:5",)
    check_converged(names, want, versions=2)


@pytest.mark.parametrize("scenario", ["fresh prod deploy", "update with pruning"])
def test_deploy_interrupted_after_any_call_converges_on_rerun(aws: Infra, scenario: str) -> None:
    def prepare(names: Names) -> DesiredFlow:
        """Bring `names` to the scenario's starting point; return what the interrupted deploy wants."""
        if scenario == "update with pruning":
            deploy(names, desired(names, aws, code_package="s3://code/old.tgz", keep_versions=1, schedule=True))
        return desired(names, aws, code_package="s3://code/new.tgz", git_sha="new", keep_versions=1, schedule=True)

    reference = Names(new_project(), "prod")
    target = prepare(reference)
    calls = deploy(reference, target).operations
    assert len(calls) >= 5
    check_converged(reference, target, versions=1)
    for index in range(len(calls)):
        names = Names(new_project(), "prod")
        want = prepare(names)
        with pytest.raises(InjectedFailure):
            deploy(names, want, fail_after=index)
        deploy(names, want)
        check_converged(names, want, versions=1)


def test_dry_run_prints_the_plan_and_changes_nothing(aws: Infra) -> None:
    names = Names(new_project(), "br-dry")
    result = apply_desired(names, [desired(names, aws)], dry_run=True)
    assert not result.executed
    assert [c.operation for c in result.plan.calls] == [
        "register_job_definition", "register_job_definition", "create_state_machine", "create_state_machine_alias",
        "update_state_machine_alias"]
    assert names.state_machine(FLOW) not in state_machine_arns(client)
    out = io.StringIO()
    print_plan(result.plan, "deploy br-dry", Console(file=out, width=200))
    text = out.getvalue()
    assert "stepfunctions.create_state_machine" in text and names.job_definition(FLOW, "start") in text


def test_deploy_resolves_references_between_calls(aws: Infra) -> None:
    """The definition names the revisions registered in the same plan (placeholders resolved)."""
    names = Names(new_project(), "br-refs")
    deploy(names, desired(names, aws))
    sm = observe(names, desired(names, aws)).state_machine
    assert sm is not None and "<<ref:" not in sm.definition
    assert canonical_json(json.loads(sm.definition)) == sm.definition


def test_an_unchanged_redeploy_reads_two_things_and_a_first_deploy_lists_nothing(aws: Infra) -> None:
    names = Names(new_project(), "br-reads")
    want = desired(names, aws)
    first = MeteredClients()
    apply_desired(names, [want], executor=CallRecorder(clients=first))
    assert not [c for c in first.calls if ".List" in c and "Versions" not in c and "Aliases" not in c], first.calls
    assert "batch.DescribeJobDefinitions" in first.reads  # by exact name: the lookups are scoped
    again = MeteredClients()
    result = apply_desired(names, [want], executor=CallRecorder(clients=again))
    assert again.calls == ["sts.GetCallerIdentity", "stepfunctions.DescribeStateMachineAlias"]
    assert not result.changed


def test_a_changed_alias_record_makes_the_next_deploy_look_again_and_repair(aws: Infra) -> None:
    """A deploy killed before its last call, or a rollback, leaves the alias without this deploy's record."""
    names = Names(new_project(), "br-repair")
    want = desired(names, aws)
    deploy(names, want)
    sm_arn = state_machine_arns(client)[names.state_machine(FLOW)]
    jd_arn = sorted(job_definition_arns(state_machine(client, sm_arn).definition))[0]
    client("batch").deregister_job_definition(jobDefinition=jd_arn)  # drift made by hand
    assert deploy(names, want).calls == []  # the record says all is there: not looked at
    repaired = deploy(names, want, full=True)
    assert repaired.operations[0] == "batch.register_job_definition"
    sm = state_machine(client, sm_arn)
    (live,) = sm.aliases["live"]
    live_jobs = job_definition_arns(next(v.definition for v in sm.versions if v.arn == live))
    assert jd_arn not in live_jobs
    for arn in live_jobs:
        (found,) = client("batch").describe_job_definitions(jobDefinitions=[arn])["jobDefinitions"]
        assert found["status"] == "ACTIVE", arn
    assert deploy(names, want).calls == [] and deploy(names, want, full=True).calls == []
