"""Batch job definitions: resources, timeouts, environment, retries (checked against Batch's rule semantics)."""

from __future__ import annotations

import hashlib
import json

import pytest

from branchline.aws.compile import CompileError, compile_job_definitions
from branchline.namespaces import Names, namespace_for_branch
from branchline.namespaces.limits import BATCH
from tests.aws_compile.support import compile_flow, graph_from_source, make_ctx
from tests.testbed.batch_retry import attempts_run

USER_FAILURE = {"exitCode": 1, "reason": "", "statusReason": "Essential container in task exited"}
HOST_FAILURE = {"reason": "", "statusReason": "Host EC2 (instance i-0123456789abcdef0) terminated."}
CANNOT_PULL = {"reason": "CannotPullContainerError: pull access denied", "statusReason": "Task failed to start"}


def _env(spec) -> dict[str, str]:
    return {e["name"]: e["value"] for e in spec.request["containerProperties"]["environment"]}


def test_resources_become_resource_requirements() -> None:
    specs = compile_flow("resources_flow").job_definitions
    reqs = {step: {r["type"]: r["value"] for r in s.request["containerProperties"]["resourceRequirements"]}
            for step, s in specs.items()}
    assert reqs["start"] == {"VCPU": "1", "MEMORY": "4096"}
    assert reqs["big"] == {"VCPU": "4", "MEMORY": "16384"}
    assert reqs["gpu"] == {"VCPU": "8", "MEMORY": "61440", "GPU": "1"}


def test_step_environment_joins_the_entrypoint_inputs() -> None:
    ctx = make_ctx(environment={"TEAM": "ml"}, tracking_uri="http://mlflow.internal:5000")
    env = _env(compile_flow("resources_flow", ctx).job_definitions["configured"])
    assert env["MODEL_KIND"] == "tree" and env["TEAM"] == "ml"
    assert env["BRANCHLINE_TRACKING_URI"] == "http://mlflow.internal:5000"
    assert {k: env[k] for k in ("BRANCHLINE_PROJECT", "BRANCHLINE_NAMESPACE", "BRANCHLINE_FLOW_FILE",
                                "BRANCHLINE_DATASTORE", "BRANCHLINE_CODE_PACKAGE")} == {
        "BRANCHLINE_PROJECT": ctx.project,
        "BRANCHLINE_NAMESPACE": ctx.namespace,
        "BRANCHLINE_FLOW_FILE": ctx.flow_file,
        "BRANCHLINE_DATASTORE": ctx.datastore_root,
        "BRANCHLINE_CODE_PACKAGE": ctx.code_package,
    }
    assert env["BRANCHLINE_IMAGE"] == ctx.image  # the run record's image; the same value as the job's image


@pytest.mark.parametrize("env", [{"BRANCHLINE_STEP": "x"}, {"AWS_BATCH_JOB_ID": "x"}, {"1BAD": "x"}])
def test_environment_may_not_shadow_platform_variables(env: dict[str, str]) -> None:
    with pytest.raises(CompileError, match=next(iter(env))):
        compile_flow("linear_flow", make_ctx(environment=env))


def test_timeout_is_the_attempt_duration_at_least_batchs_minimum_and_every_step_has_one() -> None:
    specs = compile_flow("timeout_flow", make_ctx(step_timeout_seconds=7200)).job_definitions
    assert specs["start"].request["timeout"] == {"attemptDurationSeconds": 300}
    assert specs["short"].request["timeout"] == {"attemptDurationSeconds": 60}
    assert specs["end"].request["timeout"] == {"attemptDurationSeconds": 7200}  # the project's default
    default = compile_flow("linear_flow").job_definitions["a"].request["timeout"]
    assert default == {"attemptDurationSeconds": 5 * 24 * 3600}  # with no setting at all: 5 days, as Metaflow


def test_retried_steps_leave_user_failures_to_the_state_machine() -> None:
    """`@retry` attempts are the state machine's (a failed job is submitted again after the delay); Batch
    ends a user failure at once, so attempts are never multiplied."""
    spec = compile_flow("retry_flow").job_definitions["flaky"]
    strategy = spec.request["retryStrategy"]
    assert _env(spec)["BRANCHLINE_MAX_ATTEMPTS"] == "3"
    assert attempts_run(strategy, USER_FAILURE) == 1
    assert attempts_run(strategy, HOST_FAILURE) == 3
    assert attempts_run(strategy, CANNOT_PULL) == 1


def test_steps_without_retry_are_retried_on_host_failures_only() -> None:
    spec = compile_flow("retry_flow").job_definitions["start"]
    strategy = spec.request["retryStrategy"]
    assert _env(spec)["BRANCHLINE_MAX_ATTEMPTS"] == "1"
    assert attempts_run(strategy, USER_FAILURE) == 1
    assert attempts_run(strategy, HOST_FAILURE) == 3
    assert attempts_run(strategy, CANNOT_PULL) == 1


def test_every_retry_strategy_ends_with_an_exit_catch_all() -> None:
    for name in ("retry_flow", "catch_flow", "linear_flow"):
        for spec in compile_flow(name).job_definitions.values():
            rules = spec.request["retryStrategy"]["evaluateOnExit"]
            assert rules[0] == {"onStatusReason": "Host EC2*", "action": "RETRY"}
            assert rules[-1] == {"onReason": "*", "action": "EXIT"}
            assert 1 <= spec.request["retryStrategy"]["attempts"] <= 10


def test_too_many_retries_is_a_clear_error() -> None:
    source = '''
from branchline import FlowSpec, retry, step
class F(FlowSpec):
    @retry(times=12)
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
'''
    with pytest.raises(CompileError, match=r"step 'start': @retry\(times=12\)"):
        compile_job_definitions(graph_from_source(source), make_ctx())


def test_spec_hash_covers_the_request_but_not_the_tags() -> None:
    spec = compile_flow("linear_flow").job_definitions["a"]
    body = {k: v for k, v in spec.request.items() if k != "tags"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert spec.spec_hash == hashlib.sha256(canonical).hexdigest()
    assert spec.request["tags"]["branchline:spec-hash"] == spec.spec_hash
    same = compile_flow("linear_flow", make_ctx(git_sha="f" * 40)).job_definitions["a"]
    assert same.spec_hash == spec.spec_hash and same.request["tags"]["branchline:git-sha"] == "f" * 40
    other_image = compile_flow("linear_flow", make_ctx(image="repo@sha256:" + "b" * 64)).job_definitions["a"]
    assert other_image.spec_hash != spec.spec_hash


def test_names_and_tags_come_from_the_namespace() -> None:
    ctx = make_ctx(namespace=namespace_for_branch('zzz";echo${IFS}"hi";#' + "x" * 250))
    spec = compile_flow("linear_flow", ctx).job_definitions["start"]
    names = Names(ctx.project, ctx.namespace)
    assert spec.name == spec.request["jobDefinitionName"] == names.job_definition("LinearFlow", "start")
    assert BATCH.accepts(spec.name)
    assert names.tags("LinearFlow").items() <= spec.request["tags"].items()
    assert spec.request["tags"]["branchline:step"] == "start"
    assert spec.request["propagateTags"] is True
    assert spec.request["containerProperties"]["jobRoleArn"] == ctx.job_role_arn
    assert "jobRoleArn" not in compile_flow("linear_flow", make_ctx(job_role_arn=None)).job_definitions["a"].request[
        "containerProperties"]


def test_fractional_cpu_is_rounded_up_to_whole_vcpus() -> None:
    source = '''
from branchline import FlowSpec, resources, step
class F(FlowSpec):
    @resources(cpu=0.5, memory=512)
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
'''
    spec = compile_job_definitions(graph_from_source(source), make_ctx())["start"]
    reqs = spec.request["containerProperties"]["resourceRequirements"]
    assert reqs == [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]
