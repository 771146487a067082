"""`deploy(config, namespace, ...)`: the one entry point used by `branchline deploy` and `branchline ci`.

Each entry point takes an optional `executor` (the one collaborator that changes AWS): by default the
real one over `aws.session`'s clients.
"""

from __future__ import annotations

from collections.abc import Sequence

from branchline.aws.deploy.apply import apply_desired
from branchline.aws.deploy.desired import check_inputs, desired_flow
from branchline.aws.deploy.executor import Executor
from branchline.aws.deploy.models import FlowDeployResult, Plan
from branchline.aws.deploy.observe import scope_of, state_machine_at
from branchline.aws.deploy.project import current_git_sha, load_flows
from branchline.aws.deploy.settings import aws_settings, check_account, configured_bucket
from branchline.aws.deploy.sweeper import check_teardown_allowed, find_resources, flow_resources, plan_teardown
from branchline.aws.deploy.versions import RollbackError, RollbackPlan, plan_rollback
from branchline.aws.session import aws_errors
from branchline.config import Config
from branchline.errors import BranchlineError
from branchline.graph.model import FlowGraph
from branchline.images.production import check_production_image
from branchline.images.pypi import publish_step_images
from branchline.namespaces import Names, is_production


def deploy(
    config: Config,
    namespace: str,
    *,
    image: str,
    code_package: str,
    flows: Sequence[str] | None = None,
    dry_run: bool = False,
    git_sha: str | None = None,
    executor: Executor | None = None,
    graphs: Sequence[tuple[str, FlowGraph]] | None = None,
    max_concurrency: int | None = None,
    project_branch: str | None = None,
    full: bool = False,
) -> FlowDeployResult:
    """Deploy the project's flows (or those named in `flows`) to `namespace`; idempotent.

    A second deploy of the same inputs makes no call that changes anything, and reads only the caller's
    identity and each flow's alias (`full`: everything, to repair changes made by hand); a deploy
    interrupted anywhere converges when run again (its plan is computed from what exists). `graphs` gives the
    flows as (flow file relative to the project root, graph) instead (a flow file's own `step-functions
    create`); `max_concurrency` caps each foreach's parallel items; `project_branch` is the `@project` branch
    name the tasks report (`current.branch_name`).
    """
    check_inputs(image, code_package)
    names = Names(config.project, namespace)
    settings = aws_settings(config, namespace)
    if is_production(namespace):  # production runs only what its release wrote (branchline.images.production)
        check_production_image(image, settings.production_image_repository)
    sha = git_sha or current_git_sha(config.root)
    tracking = config.get("tracking_uri") or None
    desired = [
        desired_flow(graph, names, settings, flow_file=flow_file, image=image, code_package=code_package,
                     git_sha=sha, tracking_uri=str(tracking) if tracking else None,
                     max_concurrency=max_concurrency, project_branch=project_branch,
                     step_images=publish_step_images(graph, image))  # @pypi steps: FROM the image, same repository
        for flow_file, graph in (graphs if graphs is not None else load_flows(config, flows))
    ]
    executor = executor or Executor()
    with aws_errors(f"deploy to {namespace}"):
        scope = scope_of(executor.clients)
        check_account(settings, namespace, scope.account)  # prod only in its own account
        return apply_desired(names, desired, dry_run=dry_run, executor=executor, scope=scope, full=full)


def teardown(
    config: Config,
    namespace: str,
    *,
    production: bool = False,
    keep_data: bool = False,
    dry_run: bool = False,
    executor: Executor | None = None,
) -> Plan:
    """Delete everything of `namespace` (never `prod` unless `production`); returns the plan it ran."""
    check_teardown_allowed(namespace, production)
    names = Names(config.project, namespace)
    executor = executor or Executor()
    with aws_errors(f"teardown of {namespace}"):
        found = find_resources(executor.clients, names, None if keep_data else configured_bucket(config),
                               flows=project_flow_steps(config))
        plan = plan_teardown(found, names)
        if keep_data:
            plan.notes.append(f"data kept under {names.s3_prefix()}/ (--keep-data)")
        if not dry_run:
            executor.execute(plan)
    return plan


def delete_flow(
    config: Config,
    namespace: str,
    flow: str,
    *,
    production: bool = False,
    dry_run: bool = False,
    executor: Executor | None = None,
) -> Plan:
    """Delete one flow's deployment in `namespace` (state machine with its versions, job definitions, schedule);
    its runs' data stay. `prod` only with `production`."""
    check_teardown_allowed(namespace, production)
    names = Names(config.project, namespace)
    executor = executor or Executor()
    with aws_errors(f"delete of {flow} in {namespace}"):
        plan = plan_teardown(flow_resources(find_resources(executor.clients, names, None, flows={
            k: v for k, v in project_flow_steps(config).items() if k == flow}), names, flow), names)
        if not dry_run:
            executor.execute(plan)
    return plan


def project_flow_steps(config: Config) -> dict[str, tuple[str, ...]]:
    """flow → steps of the project's flows as they are now (teardown also looks for these by name);
    nothing when the flows cannot be read: teardown must work for a project that no longer has them."""
    try:
        return {graph.name: tuple(graph.steps) for _, graph in load_flows(config)}
    except BranchlineError:
        return {}


def rollback_flow(
    config: Config,
    namespace: str,
    flow: str,
    *,
    to_version: int | None = None,
    dry_run: bool = False,
    executor: Executor | None = None,
) -> RollbackPlan:
    """Point `flow`'s live alias in `namespace` back at the previous (or the given) version.

    (Not the gate's `rollback`, which moves the MLflow `champion` alias back.)
    """
    names = Names(config.project, namespace)
    executor = executor or Executor()
    with aws_errors(f"rollback of {flow} in {namespace}"):
        sm = state_machine_at(executor.clients, scope_of(executor.clients).state_machine_arn(names.state_machine(flow)))
        if sm is None:
            raise RollbackError(
                f"flow {flow} is not deployed in namespace {namespace}",
                hint=f"deploy it first: branchline deploy --namespace {namespace}",
            )
        planned = plan_rollback(sm, names.alias(), to_version)
        if not dry_run:
            executor.execute(planned.plan)
    return planned
