"""`deploy(config, namespace, ...)`: the one entry point used by `branchline deploy` and `branchline ci`.

Each entry point takes an optional `executor` (the one collaborator that changes AWS): by default the
real one over `aws.session`'s clients. Every write runs under the namespace's lock (`lock.py`); dry runs
only read and take no lock. `holder` says who writes (default: the CI run, or this process); `log` gets
the one line said while waiting for another writer.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from branchline.aws.compile import SourceContext
from branchline.aws.deploy.apply import apply_desired
from branchline.aws.deploy.desired import check_inputs, desired_flow
from branchline.aws.deploy.executor import Executor
from branchline.aws.deploy.lock import Holder, holder_from_env, lock_key, lock_timing, namespace_lock
from branchline.aws.deploy.models import FlowDeployResult, Plan
from branchline.aws.deploy.observe import scope_of, state_machine_at
from branchline.aws.deploy.project import current_git_sha, load_flows
from branchline.aws.deploy.settings import (
    aws_settings,
    check_account,
    configured_bucket,
    configured_queue,
    lock_bucket,
)
from branchline.aws.deploy.sweeper import (
    NamespaceResources,
    check_teardown_allowed,
    find_resources,
    flow_resources,
    plan_stop,
    plan_teardown,
)
from branchline.aws.deploy.versions import RollbackError, RollbackPlan, plan_rollback
from branchline.aws.session import aws_errors
from branchline.config import Config
from branchline.errors import BranchlineError
from branchline.graph.model import FlowGraph
from branchline.images.production import check_production_image
from branchline.images.pypi import publish_step_images
from branchline.namespaces import Names, is_production

Log = Callable[[str], None]
JOBS_END_WAIT_S = 300.0
STOP_ROUNDS = 3


class TeardownBlocked(BranchlineError):
    """The namespace's Batch jobs did not end after being terminated: nothing was deleted."""


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextmanager
def _locked(config: Config, names: Names, executor: Executor, holder: Holder, log: Log,
            delete_on_exit: bool = False) -> Iterator[None]:
    """The namespace's lock around a block of writes; the executor stops if the lease is lost."""
    bucket = lock_bucket(config, names.namespace)
    with namespace_lock(executor.clients, bucket, names, holder, lock_timing(config), log=log,
                        delete_on_exit=delete_on_exit) as lease:
        executor.guard = lease.check
        try:
            yield
        finally:
            executor.guard = None


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
    holder: Holder | None = None,
    log: Log = _stderr,
    source: SourceContext | None = None,
) -> FlowDeployResult:
    """Deploy the project's flows (or those named in `flows`) to `namespace`; idempotent.

    A second deploy of the same inputs makes no call that changes anything, and reads only the caller's
    identity and each flow's alias (`full`: everything, to repair changes made by hand); a deploy
    interrupted anywhere converges when run again (its plan is computed from what exists). `graphs` gives the
    flows as (flow file relative to the project root, graph) instead (a flow file's own `step-functions
    create`); `max_concurrency` caps each foreach's parallel items; `project_branch` is the `@project` branch
    name the tasks report (`current.branch_name`); `source` (branch, repository) goes into each run's record
    with the commit. A deploy whose `holder.order` is older than the
    namespace's last finished deploy raises `lock.Superseded` and changes nothing.
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
                     max_concurrency=max_concurrency, project_branch=project_branch, source=source,
                     step_images=publish_step_images(graph, image))  # @pypi steps: FROM the image, same repository
        for flow_file, graph in (graphs if graphs is not None else load_flows(config, flows))
    ]
    executor = executor or Executor()
    with aws_errors(f"deploy to {namespace}"):
        scope = scope_of(executor.clients)
        check_account(settings, namespace, scope.account)  # prod only in its own account
        if dry_run:
            return apply_desired(names, desired, dry_run=True, executor=executor, scope=scope, full=full)
        with _locked(config, names, executor, holder or holder_from_env("deploy", sha), log):
            return apply_desired(names, desired, executor=executor, scope=scope, full=full)


def teardown(
    config: Config,
    namespace: str,
    *,
    production: bool = False,
    keep_data: bool = False,
    dry_run: bool = False,
    executor: Executor | None = None,
    holder: Holder | None = None,
    log: Log = _stderr,
    jobs_end_wait_s: float = JOBS_END_WAIT_S,
) -> Plan:
    """Delete everything of `namespace` (never `prod` unless `production`); returns the plan it ran.

    Under the namespace's lock (it waits for a deploy in flight): schedules deleted, running executions
    stopped and Batch jobs terminated, and only once those jobs have ended, machines, job definitions and
    data; the lock object goes last.
    """
    check_teardown_allowed(namespace, production)
    names = Names(config.project, namespace)
    executor = executor or Executor()
    bucket = None if keep_data else (configured_bucket(config) if dry_run else lock_bucket(config, namespace))
    queue = configured_queue(config, namespace)
    steps = project_flow_steps(config)

    def find() -> NamespaceResources:
        return find_resources(executor.clients, names, bucket, flows=steps, queues=[queue] if queue else None,
                              keep_keys=frozenset({lock_key(names)}))

    with aws_errors(f"teardown of {namespace}"):
        if dry_run:
            found = find()
            plan = Plan(plan_stop(found).calls + plan_teardown(found, names).calls)
        else:
            with _locked(config, names, executor, holder or holder_from_env("teardown"), log, delete_on_exit=True):
                plan = _stop_then_delete(executor, names, find, jobs_end_wait_s)
        if keep_data:
            plan.notes.append(f"data kept under {names.s3_prefix()}/ (--keep-data)")
    return plan


def delete_flow(
    config: Config,
    namespace: str,
    flow: str,
    *,
    production: bool = False,
    dry_run: bool = False,
    executor: Executor | None = None,
    holder: Holder | None = None,
    log: Log = _stderr,
) -> Plan:
    """Delete one flow's deployment in `namespace` (state machine with its versions, job definitions, schedule),
    under the namespace's lock; its runs' data stay. `prod` only with `production`."""
    check_teardown_allowed(namespace, production)
    names = Names(config.project, namespace)
    executor = executor or Executor()

    steps = {k: v for k, v in project_flow_steps(config).items() if k == flow}

    def plan_delete() -> Plan:
        found = flow_resources(find_resources(executor.clients, names, None, flows=steps), names, flow)
        return Plan(plan_stop(found).calls + plan_teardown(found, names).calls)  # schedule first, then the rest

    with aws_errors(f"delete of {flow} in {namespace}"):
        if dry_run:
            return plan_delete()
        with _locked(config, names, executor, holder or holder_from_env("delete"), log):
            plan = plan_delete()
            executor.execute(plan)
    return plan


def project_flow_steps(config: Config) -> dict[str, tuple[str, ...]]:
    """flow → steps of the project's flows as they are now (teardown also looks for these by name);
    nothing when the flows cannot be read: teardown must work for a project that no longer has them."""
    try:
        return {graph.name: tuple(graph.steps) for _, graph in load_flows(config)}
    except BranchlineError:
        return {}


def _stop_then_delete(executor: Executor, names: Names, find: Callable[[], NamespaceResources],
                      wait_s: float) -> Plan:
    """Stop what runs (again while new jobs appear: a stopped execution may have submitted one), wait for the
    jobs to end, then delete. Returns every call made."""
    done = Plan()
    found = find()
    for _ in range(STOP_ROUNDS):
        stop = plan_stop(found)
        executor.execute(stop)
        done.extend(stop.calls)
        _wait_jobs_ended(executor, found.jobs, wait_s)
        found = find()
        if not (found.executions or found.jobs):
            break
        found.schedules = []
    else:
        raise TeardownBlocked(
            f"namespace {names.namespace} still has running work after {STOP_ROUNDS} rounds of stopping it: "
            f"executions {found.executions}, jobs {found.jobs}; nothing was deleted",
            hint="re-run the teardown; if it persists, stop them by hand (aws stepfunctions stop-execution, "
                 "aws batch terminate-job)")
    delete = plan_teardown(found, names)
    executor.execute(delete)
    done.extend(delete.calls)
    return done


def _wait_jobs_ended(executor: Executor, jobs: list[str], wait_s: float) -> None:
    """Poll until none of `jobs` is unfinished (terminated jobs take a moment to stop their containers)."""
    if not jobs:
        return
    batch = executor.clients("batch")
    deadline = time.monotonic() + wait_s
    delay = 0.5
    while True:
        described = batch.describe_jobs(jobs=jobs).get("jobs", [])
        running = [j["jobId"] for j in described if j.get("status") not in ("SUCCEEDED", "FAILED")]
        if not running:
            return
        if time.monotonic() > deadline:
            raise TeardownBlocked(
                f"Batch jobs {', '.join(running)} did not end within {wait_s:.0f} s of being terminated; "
                "nothing was deleted", hint="re-run the teardown once they have ended")
        time.sleep(delay)
        delay = min(delay * 1.5, 5.0)


def rollback_flow(
    config: Config,
    namespace: str,
    flow: str,
    *,
    to_version: int | None = None,
    dry_run: bool = False,
    executor: Executor | None = None,
    holder: Holder | None = None,
    log: Log = _stderr,
) -> RollbackPlan:
    """Point `flow`'s live alias in `namespace` back at the previous (or the given) version.

    (Not the gate's `rollback`, which moves the MLflow `champion` alias back.)
    """
    names = Names(config.project, namespace)
    executor = executor or Executor()
    if dry_run:
        return _rollback(names, flow, namespace, to_version, executor, dry_run=True)
    with aws_errors(f"rollback of {flow} in {namespace}"), _locked(
            config, names, executor, holder or holder_from_env("rollback"), log):
        return _rollback(names, flow, namespace, to_version, executor, dry_run=False)


def _rollback(names: Names, flow: str, namespace: str, to_version: int | None, executor: Executor, *,
              dry_run: bool) -> RollbackPlan:
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
