"""Flow graph + where it goes → `DesiredFlow` (through the pure compilers). No I/O."""

from __future__ import annotations

import re

from branchline.aws.compile import (
    CompileContext,
    SourceContext,
    compile_job_definitions,
    compile_schedule,
    compile_state_machine,
)
from branchline.aws.deploy.models import DesiredFlow, DesiredJobDefinition, DesiredSchedule, job_definition_ref
from branchline.aws.deploy.settings import AwsSettings
from branchline.errors import BranchlineError
from branchline.graph.model import FlowGraph
from branchline.namespaces import Names, is_production

_DIGEST_REF = re.compile(r"[^\s@]+@sha256:[0-9a-f]{64}")


class DeployInputError(BranchlineError):
    """An image or code package that cannot be deployed as given."""


def check_inputs(image: str, code_package: str) -> None:
    """Deploy only what was tested: an image pinned by digest, a code package in S3."""
    if not _DIGEST_REF.fullmatch(image or ""):
        raise DeployInputError(
            f"--image {image!r} is not pinned by digest",
            hint="pass REPOSITORY@sha256:<64 hex> (`branchline image publish` prints it)",
        )
    if not (code_package or "").startswith("s3://") or len(code_package) <= len("s3://"):
        raise DeployInputError(
            f"--code-package {code_package!r} is not an S3 URL",
            hint="pass s3://BUCKET/KEY of the uploaded code package",
        )


def desired_flow(
    graph: FlowGraph,
    names: Names,
    settings: AwsSettings,
    *,
    flow_file: str,
    image: str,
    code_package: str,
    git_sha: str,
    tracking_uri: str | None = None,
    max_concurrency: int | None = None,
    project_branch: str | None = None,
    step_images: dict[str, str] | None = None,
    source: SourceContext | None = None,
) -> DesiredFlow:
    """Compile `graph` for `names.namespace`: job definitions, schedule, and the state machine definition,
    which names each job definition by a Ref the planner fills once the ARNs are known."""
    ctx = CompileContext(
        project=names.project,
        namespace=names.namespace,
        flow_file=flow_file,
        image=image,
        job_queue=settings.queue_for(names.namespace),
        job_role_arn=settings.job_role_for(names.namespace),
        datastore_root=f"{settings.datastore_root}/branchline/{names.project}",
        code_package=code_package,
        tracking_uri=tracking_uri,
        tracking_secret=settings.tracking_secret_for(names.namespace),
        git_sha=git_sha,
        environment=dict(settings.job_environment),
        project_branch=project_branch,
        max_concurrency=settings.max_concurrency if max_concurrency is None else max_concurrency,
        step_timeout_seconds=settings.step_timeout_seconds,
        queue_timeout_seconds=settings.queue_timeout_seconds,
        step_images=dict(step_images or {}),
        source=source or SourceContext(),
    )
    job_definitions = tuple(
        DesiredJobDefinition(
            step=spec.step,
            name=spec.name,
            request={k: v for k, v in spec.request.items() if k != "tags"},
            spec_hash=spec.spec_hash,
            tags={**names.tags(graph.name, git_sha), **spec.request.get("tags", {})},
        )
        for spec in compile_job_definitions(graph, ctx).values()
    )

    arns = {jd.step: job_definition_ref(jd.name).placeholder for jd in job_definitions}
    schedule = None
    compiled = compile_schedule(graph, ctx) if is_production(names.namespace) else None
    if compiled:
        schedule = DesiredSchedule(
            name=compiled.get("name") or names.schedule(graph.name),
            expression=compiled["expression"],
            timezone=compiled.get("timezone") or "UTC",
            role_arn=settings.scheduler_role_arn,
        )
    return DesiredFlow(
        flow=graph.name,
        state_machine_name=names.state_machine(graph.name),
        role_arn=settings.states_role_for(names.namespace),
        job_definitions=job_definitions,
        definition=compile_state_machine(graph, ctx, arns),
        tags=names.tags(graph.name, git_sha),
        git_sha=git_sha,
        alias=names.alias(),
        schedule=schedule,
        keep_versions=settings.keep_versions,
    )
