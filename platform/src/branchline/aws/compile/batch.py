"""Batch job definitions: one per step, carrying everything static about its tasks.

Static here, dynamic in the state machine: the image, command, resources, retries, timeout and
the step's identity live in the job definition; a Task's container overrides carry only the
pointers that change per task (run id, task id), which keeps them far below Batch's limit.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from branchline.aws.compile.compute import linux_parameters, step_compute
from branchline.aws.compile.context import (
    HOST_FAILURE_ATTEMPTS,
    TASK_COMMAND,
    CompileContext,
    CompileError,
    JobDefinitionSpec,
)
from branchline.aws.compile.steps import StepSettings, check_environment, settings
from branchline.graph.model import FlowGraph, StepNode
from branchline.namespaces import TAG_SPEC_HASH, TAG_STEP, Names
from branchline.namespaces.names import aws_tag_value

RETRY_ON_HOST_FAILURE = {"onStatusReason": "Host EC2*", "action": "RETRY"}
EXIT_OTHERWISE = {"onReason": "*", "action": "EXIT"}


def resource_requirements(s: StepSettings) -> list[dict[str, str]]:
    """`@resources` as Batch ResourceRequirements (vCPUs, MiB, GPUs).

    Batch on EC2 takes whole vCPUs only, so a fractional `cpu` (fine locally) is rounded up.
    """
    reqs = [{"type": "VCPU", "value": str(math.ceil(s.cpu))}, {"type": "MEMORY", "value": str(s.memory)}]
    if s.gpu:
        reqs.append({"type": "GPU", "value": str(s.gpu)})
    return reqs


def retry_strategy() -> dict[str, Any]:
    """Batch retries host failures only; `@retry` is the state machine's (`asl.retry_states`).

    Why split: Batch retries at once and never retries an attempt that ran past its timeout, so it cannot
    honour `minutes_between_retries` (the delay would be a `sleep` in a billed container) nor retry a
    timed-out attempt. Step Functions can do both: a failed job (`States.TaskFailed`, timeouts included)
    goes to a Wait state and is submitted again, and the attempt number travels in `$.retry.n`.

    What stays here is what only Batch sees: a job whose instance went away (`Host EC2*`, e.g. a Spot
    reclaim) is not the user's fault and is retried inside the same Task, up to HOST_FAILURE_ATTEMPTS.
    Batch *retries* a job that matches no rule, so the list ends with an EXIT catch-all: a user failure,
    a timeout, an image that cannot be pulled or a job cancelled by hand ends the job at once.
    """
    return {"attempts": HOST_FAILURE_ATTEMPTS, "evaluateOnExit": [RETRY_ON_HOST_FAILURE, EXIT_OTHERWISE]}


def static_environment(graph: FlowGraph, node: StepNode, ctx: CompileContext, s: StepSettings) -> list[dict[str, str]]:
    """The job's environment: the project's extras, the step's `@environment`, then the entrypoint's inputs."""
    check_environment(dict(ctx.environment), "the deploy environment")
    env: dict[str, str] = {**ctx.environment, **s.environment}
    env.update(
        BRANCHLINE_PROJECT=ctx.project,
        BRANCHLINE_FLOW=graph.name,
        BRANCHLINE_FLOW_FILE=ctx.flow_file,
        BRANCHLINE_STEP=node.name,
        BRANCHLINE_NAMESPACE=ctx.namespace,
        BRANCHLINE_DATASTORE=ctx.datastore_root.rstrip("/"),
        BRANCHLINE_CODE_PACKAGE=ctx.code_package,
        BRANCHLINE_MAX_ATTEMPTS=str(s.attempts),
        BRANCHLINE_IMAGE=step_image(node, ctx),  # the run record's image (the MLflow run's link to it)
    )
    if ctx.tracking_uri:
        env["BRANCHLINE_TRACKING_URI"] = ctx.tracking_uri
    if ctx.tracking_secret:  # resolved by the task with the job's own role (branchline.tracking.credentials)
        env["BRANCHLINE_TRACKING_SECRET"] = ctx.tracking_secret
    if ctx.project_branch:
        env["BRANCHLINE_PROJECT_BRANCH"] = ctx.project_branch  # current.branch_name (authoring.project)
    return [{"name": k, "value": v} for k, v in sorted(env.items())]


def step_image(node: StepNode, ctx: CompileContext) -> str:
    """The step's own image: `@batch(image=...)`, else its `@pypi` image, else the project's step image."""
    compute = step_compute(node)
    if compute.image:
        return compute.image
    if compute.pypi is not None and node.name not in ctx.step_images:
        raise CompileError(
            f"step {node.name!r} declares @pypi but no image was built for it",
            hint="publish the per-step images first (branchline image publish builds them for @pypi steps)",
        )
    return ctx.step_images.get(node.name, ctx.image)


def spec_hash(request: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the request without its tags."""
    body = {k: v for k, v in request.items() if k != "tags"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def job_definition(graph: FlowGraph, node: StepNode, ctx: CompileContext) -> JobDefinitionSpec:
    """The `register_job_definition` request of one step, with its spec hash in the tags."""
    s = settings(node)
    compute = step_compute(node)
    names = Names(ctx.project, ctx.namespace)
    container: dict[str, Any] = {
        "image": step_image(node, ctx),
        "command": list(TASK_COMMAND),
        "resourceRequirements": resource_requirements(s),
        "environment": static_environment(graph, node, ctx, s),
    }
    if linux_parameters(compute):
        container["linuxParameters"] = linux_parameters(compute)
    if compute.iam_role and compute.iam_role != ctx.job_role_arn:
        raise CompileError(
            f"step {node.name!r}: @batch(iam_role={compute.iam_role!r}) is not the namespace's job role",
            hint="a step's role is the platform's (tool.branchline.aws.job_role_arn, production's own in prod): "
            "grant that role what the step needs instead",
        )
    if ctx.job_role_arn:
        container["jobRoleArn"] = ctx.job_role_arn
    name = names.job_definition(graph.name, node.name)
    request: dict[str, Any] = {
        "jobDefinitionName": name,
        "type": "container",
        "platformCapabilities": ["EC2"],
        "containerProperties": container,
        "retryStrategy": retry_strategy(),
        "timeout": {"attemptDurationSeconds": s.attempt_timeout(ctx)},
        "propagateTags": True,
    }
    digest = spec_hash(request)
    request["tags"] = {
        **names.tags(graph.name, ctx.git_sha),
        TAG_STEP: aws_tag_value(node.name),
        TAG_SPEC_HASH: digest,
    }
    return JobDefinitionSpec(step=node.name, name=name, request=request, spec_hash=digest)


def compile_job_definitions(graph: FlowGraph, ctx: CompileContext) -> dict[str, JobDefinitionSpec]:
    """Every step's job definition, by step name."""
    return {node.name: job_definition(graph, node, ctx) for node in graph}
