"""`branchline resume --execution`: run a failed execution again from where it failed, on Step Functions.

The new execution runs the same state machine version (so the same job definitions, image and code) and
reuses, by reference, every task that succeeded in the failed one: before it starts, their records and
artifact lists are cloned into the new run (`runtime/reuse.py` decides which), and its input says which steps
to pass over; a reused foreach gets an items list naming only the items that must run again. The flow graph
is read from the code package the version runs, so a resume never mixes code from two commits.

Nothing is written before the caller is known to act in the namespace's account (`check_account`), and
nothing is started before every clone is written: a resume that stops half-way leaves a run that was
never started, and a new resume starts from the original again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from branchline.aws.deploy.observe import error_code, scope_of
from branchline.aws.deploy.planner import job_definition_arns
from branchline.aws.deploy.settings import AwsSettings, check_account
from branchline.aws.ops.status import execution_arn_for
from branchline.aws.session import ClientFactory
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.records import RunRecord, TaskRecord, new_run_id
from branchline.datastore.storage import storage_from_url
from branchline.errors import BranchlineError
from branchline.graph.model import FlowGraph
from branchline.graph.parse import build_graph
from branchline.namespaces import Names
from branchline.runtime.code_package import package_file
from branchline.runtime.reuse import ReusePlan, TaskKey, plan_reuse

RESUMABLE = ("FAILED", "TIMED_OUT", "ABORTED")
IO_THREADS = 32
"""S3 reads and clones in flight at once: a 10,000-wide foreach is read and cloned in seconds, not minutes."""


class ResumeError(BranchlineError):
    """The execution cannot be resumed (still running, succeeded, not a branchline flow...)."""


@dataclass(frozen=True)
class Origin:
    """What the failed execution ran, read from Step Functions and its job definitions."""

    execution_arn: str
    run_id: str
    target_arn: str
    """the state machine version it ran (the machine itself when it was started without a version)"""
    params: dict[str, Any]
    env: dict[str, str]
    """the static environment of its job definitions: project, namespace, flow, datastore, code package..."""

    @property
    def namespace(self) -> str:
        return self.env["BRANCHLINE_NAMESPACE"]

    @property
    def flow(self) -> str:
        return self.env["BRANCHLINE_FLOW"]


@dataclass
class Resumed:
    origin: Origin
    run_id: str
    execution_arn: str | None
    """None for a dry run"""
    plan: ReusePlan
    items: dict[TaskKey, int]
    """reused foreach task → items its Map runs again"""


def origin_of(clients: ClientFactory, execution_arn: str) -> Origin:
    """Read the failed execution: status (must be over, and not a success), version, input, environment."""
    sfn = clients("stepfunctions")
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except Exception as exc:
        if error_code(exc) not in ("ExecutionDoesNotExist", "InvalidArn"):
            raise
        raise ResumeError(f"no execution {execution_arn} where these credentials look "
                          f"(account {scope_of(clients).account})",
                          hint="check the ARN or run id, the namespace, and that the credentials are the "
                          "namespace's account's (production: the release role)") from None
    status = described["status"]
    if status not in RESUMABLE:
        hint = ("wait for it to end, or stop it: aws stepfunctions stop-execution" if status == "RUNNING"
                else "there is nothing to resume: trigger a new run")
        raise ResumeError(f"execution {described['name']} is {status}; only a failed, timed-out or aborted "
                          "execution can be resumed", hint=hint)
    target = described.get("stateMachineVersionArn") or described["stateMachineArn"]
    definition = sfn.describe_state_machine(stateMachineArn=target)["definition"]
    jobs = sorted(job_definition_arns(definition))
    if not jobs:
        raise ResumeError(f"{target} runs no Batch job: it is not a branchline flow")
    (found,) = clients("batch").describe_job_definitions(jobDefinitions=jobs[:1])["jobDefinitions"]
    env = {e["name"]: e["value"] for e in found["containerProperties"].get("environment", [])}
    missing = [k for k in ("BRANCHLINE_PROJECT", "BRANCHLINE_NAMESPACE", "BRANCHLINE_FLOW", "BRANCHLINE_DATASTORE",
                           "BRANCHLINE_FLOW_FILE", "BRANCHLINE_CODE_PACKAGE") if not env.get(k)]
    if missing:
        raise ResumeError(f"{target} was not deployed by branchline (its jobs lack {', '.join(missing)})")
    params = json.loads(described.get("input") or "{}").get("params") or {}
    return Origin(execution_arn, described["name"], target, params, env)


def _parallel(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    if len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(IO_THREADS, len(items))) as pool:
        return list(pool.map(fn, items))


def _graph(origin: Origin) -> FlowGraph:
    source = package_file(origin.env["BRANCHLINE_CODE_PACKAGE"], origin.env["BRANCHLINE_FLOW_FILE"])
    return build_graph(source, origin.env["BRANCHLINE_FLOW_FILE"], origin.flow)


def plan_resume(ds: FlowDatastore, graph: FlowGraph, origin: Origin, rerun: tuple[str, ...] = ()) -> ReusePlan:
    """What the failed run left that a resume reuses (its records read in parallel, level by level)."""

    def fetch(keys: list[TaskKey]) -> dict[TaskKey, TaskRecord | None]:
        records = _parallel(lambda key: ds.read_task_record(graph.name, origin.run_id, *key), keys)
        return dict(zip(keys, records, strict=True))

    return plan_reuse(graph, fetch, rerun=rerun)


def resume_execution(
    clients: ClientFactory,
    execution_arn: str,
    *,
    settings: Callable[[str], AwsSettings] | None = None,
    run_id: str | None = None,
    rerun: tuple[str, ...] = (),
    dry_run: bool = False,
    s3: Callable[[], Any] | None = None,
    record_tracking: Callable[[FlowDatastore, RunRecord, list[TaskRecord]], None] | None = None,
) -> Resumed:
    """Start a new execution of the failed one's version that reuses its succeeded tasks; see the module doc.

    `settings` (namespace → the project's settings): the caller's account is checked against the namespace's
    before anything is written.
    `record_tracking` records the resumed run and its reused tasks' evidence in MLflow before it starts.
    """
    origin = origin_of(clients, execution_arn)
    if settings is not None:
        check_account(settings(origin.namespace), origin.namespace, scope_of(clients).account, action="resume")
    graph = _graph(origin)
    ds = FlowDatastore(storage_from_url(origin.env["BRANCHLINE_DATASTORE"], s3 or (lambda: clients("s3"))),
                       origin.namespace)
    plan = plan_resume(ds, graph, origin, rerun)
    new_id = Names(origin.env["BRANCHLINE_PROJECT"], origin.namespace).execution(run_id or new_run_id())
    items = {key: plan.items(graph, *key) for key in plan.foreach_tasks(graph)}
    result = Resumed(origin, new_id, None, plan, {key: len(listed) for key, listed in items.items()})
    if dry_run:
        return result
    machine = origin.target_arn.rsplit(":", 1)[0] if origin.target_arn.count(":") == 7 else origin.target_arn
    new_arn = execution_arn_for(machine, new_id)
    _parallel(lambda record: ds.clone_record(record, new_id, items=False), list(plan.reused.values()))
    for (step, task_id), listed in items.items():
        ds.write_map_items(graph.name, new_id, step, task_id, listed)
    run = _run_record(ds, graph, origin, new_id, new_arn)
    ds.write_run_record(run)
    if record_tracking is not None and run.tracking_uri:
        record_tracking(ds, run, list(plan.reused.values()))
    payload = {"run_id": new_id, "params": origin.params,
               "resume": {"origin_run_id": origin.run_id, "skip": plan.skip("0")}}
    started = clients("stepfunctions").start_execution(stateMachineArn=origin.target_arn, name=new_id,
                                                       input=json.dumps(payload))
    result.execution_arn = str(started["executionArn"])
    return result


def _run_record(ds: FlowDatastore, graph: FlowGraph, origin: Origin, run_id: str, execution_arn: str) -> RunRecord:
    """The resumed run's record, written before it starts (its `start` may be reused and write none)."""
    before = ds.read_run_record(graph.name, origin.run_id)
    context: dict[str, Any] = {
        "steps": tuple(graph.steps),
        "params": before.params if before else dict(origin.params),
        "project": origin.env["BRANCHLINE_PROJECT"],
        "flow_file": origin.env["BRANCHLINE_FLOW_FILE"],
        "tracking_uri": origin.env.get("BRANCHLINE_TRACKING_URI"),
        "execution_arn": execution_arn,
        "origin_run_id": origin.run_id,
    }
    if before is not None:
        context.update(git=before.git, image=before.image)
    return RunRecord.starting(graph.name, run_id, origin.namespace, runtime="batch", **context)
