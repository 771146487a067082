"""The task entry point: run one task of a flow, anywhere.

`execute_task` runs one attempt: it builds the task's view of the run (inherited artifacts, join inputs,
foreach items: `task_view.py`), runs the user's step, stores what the step produced, and writes the task's
record once, last. The local scheduler calls it in a forked worker. In a step container (AWS Batch) or any
fresh process, `run_from_env` prepares the task from BRANCHLINE_* variables (set by the job definition and
the state machine's container overrides) and the code package, then calls it; `branchline task` and
`python -m branchline.runtime.entrypoint` are that. A failed task exits non-zero with the user's traceback
on stderr (hence in CloudWatch).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from branchline.authoring.attach import attach, from_env
from branchline.authoring.current import current
from branchline.authoring.exceptions import CaughtException
from branchline.authoring.flowspec import FlowSpec
from branchline.authoring.parameters import declared_parameters
from branchline.authoring.project import BRANCH_ENV, current_fields
from branchline.aws.session import client
from branchline.datastore.artifacts import ArtifactRef, FlowDatastore
from branchline.datastore.records import RunRecord, Status, TaskError, TaskRecord, now_iso
from branchline.datastore.storage import storage_from_url
from branchline.datastore.view import RunView
from branchline.errors import BranchlineError, ConfigError
from branchline.graph.model import FlowGraph
from branchline.namespaces.mlflow_tags import BATCH_JOB_ID_TAG, EXECUTION_ARN_TAG, LOGS_TAG
from branchline.runtime.code_package import unpack_code_package
from branchline.runtime.loader import graph_from_class, load_flow_class
from branchline.runtime.run_info import git_context_from_env, source_ci_from_env
from branchline.runtime.task_env import TaskEnv
from branchline.runtime.task_view import build_flow, check_transition
from branchline.runtime.user_traceback import last_user_frames, user_traceback, whole_traceback
from branchline.tracking import task_run
from branchline.tracking.credentials import export_tracking_credentials

CONTAINER_FALLBACK = TaskError("TaskKilled", "the task's job failed or was killed (e.g. by @timeout)")


class TaskSpec(NamedTuple):
    """Which task to run, which attempt, and what its record should say about where it ran."""

    flow: str
    step: str
    run_id: str
    task_id: str
    namespace: str
    attempt: int = 0
    max_attempts: int = 1
    fallback: TaskError | None = None
    """`@catch` fallback: run only to record this failure, which the task could not observe itself"""
    origin_run_id: str | None = None
    log_paths: tuple[str, ...] = ()
    batch_job_id: str | None = None
    execution_arn: str | None = None


class _FallbackFailure(Exception):
    def __init__(self, error: TaskError) -> None:
        super().__init__(error.message)
        self.error = error


def _task_error(exc: BaseException) -> TaskError:
    """The exception as the user reads it: every frame of their code and none of the platform's (by the
    platform's installed location); branchline's own errors are one line on the console."""
    if isinstance(exc, _FallbackFailure):
        return exc.error
    if isinstance(exc, BranchlineError):
        return TaskError(type(exc).__name__, str(exc), user_traceback(exc))
    return TaskError(type(exc).__name__, f"{type(exc).__name__}: {exc}", user_traceback(exc), last_user_frames(exc))


def _persist(
    ds: FlowDatastore, graph: FlowGraph, spec: TaskSpec, flow: FlowSpec, extra: Mapping[str, Any] | None = None
) -> tuple[dict[str, ArtifactRef], int | None]:
    """Store what the step assigned (and loaded values it may have mutated); artifacts.json last."""
    to_save, refs = flow._bl_outputs()
    to_save.update(extra or {})
    for name, value in to_save.items():
        refs[name] = ds.save_value(value)
    node = graph[spec.step]
    num_splits = None
    if node.type == "foreach" and node.foreach_var:
        values = list(getattr(flow, node.foreach_var))
        num_splits = len(values)
        ds.write_foreach_values(spec.flow, spec.run_id, spec.step, spec.task_id, values)
        ds.write_foreach_items(spec.flow, spec.run_id, spec.step, spec.task_id, num_splits)
    ds.write_task_artifacts(spec.flow, spec.run_id, spec.step, spec.task_id, refs)
    return refs, num_splits


def _catch_var(graph: FlowGraph, step: str) -> str | None:
    """The artifact `@catch(var=...)` sets on every task of the step (None when the step has no such var)."""
    found = graph[step].decorator("catch")
    return found.args.get("var") if found is not None else None


def _own_artifacts(
    graph: FlowGraph, spec: TaskSpec, params: Mapping[str, Any], caught: CaughtException | None = None
) -> dict[str, Any]:
    """What a task stores besides its step's assignments: the parameters (start step) and `@catch`'s var,
    which Metaflow sets on every task of the step (None when it succeeded), so that joins can test it."""
    own = dict(params) if not graph[spec.step].in_funcs else {}
    if var := _catch_var(graph, spec.step):
        own[var] = caught
    return own


def _catch(
    ds: FlowDatastore, graph: FlowGraph, spec: TaskSpec, flow: FlowSpec, error: TaskError, params: Mapping[str, Any]
) -> list[str]:
    """@catch, as Metaflow: the flow goes on with what the step assigned before it failed, and the exception
    in `var` (after a killed or timed-out attempt, the fallback task has nothing of the step's own)."""
    caught = CaughtException(error.type, error.message, error.traceback, step=spec.step, attempts=spec.attempt + 1)
    if graph[spec.step].decorator("catch").args.get("print_exception", True):  # type: ignore[union-attr]
        print(f"@catch: step {spec.step!r} failed and the flow goes on: {error.message}", file=sys.stderr)
    own = _own_artifacts(graph, spec, params, caught=caught)
    try:
        refs, _ = _persist(ds, graph, spec, flow, own)
    except BranchlineError:  # a partial value that cannot be stored: keep the exception at least
        flow._bl_assigned.clear()
        refs, _ = _persist(ds, graph, spec, flow, own)
    return sorted(refs)


def _keep_for_inspection(
    ds: FlowDatastore, graph: FlowGraph, spec: TaskSpec, flow: FlowSpec | None, params: Mapping[str, Any]
) -> list[str]:
    """A failed attempt's artifacts, as Metaflow keeps them: `Task.data` shows what the step had assigned. Best
    effort: a value that cannot be stored must not hide the failure being recorded."""
    if flow is None or spec.fallback is not None:
        return []
    try:
        refs, _ = _persist(ds, graph, spec, flow, _own_artifacts(graph, spec, params))
    except Exception as exc:
        print(f"branchline: the failed task's artifacts were not stored: {exc}", file=sys.stderr)
        return []
    return sorted(refs)


def _end_tracking(handle: task_run.TaskRunHandle | None, *, failed: bool) -> str | None:
    if handle is None:
        return None
    try:
        return task_run.deactivate(handle, failed=failed)
    except Exception as exc:  # tracking must not turn a finished step into a failed one
        print(f"branchline: could not finish the MLflow task run: {exc}", file=sys.stderr)
        return None


def execute_task(
    flow_cls: type[FlowSpec],
    graph: FlowGraph,
    ds: FlowDatastore,
    spec: TaskSpec,
    params: dict[str, Any],
    *,
    tracking: task_run.TaskTracking | None = None,
) -> TaskRecord:
    """Run one attempt of one task and write its record; never raises for a failure of the user's code."""
    node = graph[spec.step]
    started, t0 = now_iso(), time.perf_counter()
    current._set(
        flow_name=spec.flow,
        run_id=spec.run_id,
        step_name=spec.step,
        task_id=spec.task_id,
        retry_count=spec.attempt,
        namespace=spec.namespace,
        origin_run_id=spec.origin_run_id,
        username=os.environ.get("USER"),
        **current_fields(flow_cls, spec.flow, spec.namespace, os.environ.get("USER"), os.environ.get(BRANCH_ENV)),
    )
    handle = None
    flow: FlowSpec | None = None
    input_ids: list[tuple[str, str]] = []
    status, error, caught = Status.SUCCEEDED, None, None
    artifacts: list[str] = []
    num_splits = None
    try:
        flow, inputs, input_ids = build_flow(flow_cls, graph, RunView(ds, spec.flow, spec.run_id), spec.step,
                                             spec.task_id, params)
        if spec.fallback is not None:
            raise _FallbackFailure(spec.fallback)
        if tracking is not None:
            handle = task_run.activate(tracking)
        method = getattr(flow, spec.step)
        method(inputs) if node.is_join else method()
        check_transition(graph, spec.step, flow)
        refs, num_splits = _persist(ds, graph, spec, flow, _own_artifacts(graph, spec, params))
        artifacts = sorted(refs)
    except BaseException as exc:  # the user's code may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        error = _task_error(exc)
        print(error.message if isinstance(exc, _FallbackFailure) else whole_traceback(exc), file=sys.stderr, flush=True)
        last_attempt = spec.attempt + 1 >= spec.max_attempts or spec.fallback is not None
        if node.decorator("catch") and last_attempt and flow is not None and node.type != "foreach":
            artifacts, caught, error = _catch(ds, graph, spec, flow, error, params), error, None
        else:
            status = Status.FAILED
            artifacts = _keep_for_inspection(ds, graph, spec, flow, params)
    record = TaskRecord(
        flow=spec.flow,
        run_id=spec.run_id,
        step=spec.step,
        task_id=spec.task_id,
        status=status,
        attempt=spec.attempt,
        started=started,
        finished=now_iso(),
        duration=time.perf_counter() - t0,
        inputs=tuple(f"{s}/{t}" for s, t in input_ids),
        artifacts=tuple(artifacts),
        foreach_num_splits=num_splits,
        error=error,
        caught=caught,
        mlflow_run_id=_end_tracking(handle, failed=status is Status.FAILED or caught is not None),
        log_paths=spec.log_paths,
        origin_run_id=spec.origin_run_id,
        batch_job_id=spec.batch_job_id,
        execution_arn=spec.execution_arn,
    )
    ds.write_task_record(record)
    return record


# ----------------------------------------------------------------------------- a task in a fresh process


def prepare_environment(task: TaskEnv) -> Path:
    """Everything the task's process needs before the flow is loaded: its code (the package's root becomes
    the working directory). Returns the project root."""
    if not task.code_package:
        return Path.cwd()
    root = unpack_code_package(task.code_package, Path(tempfile.gettempdir()) / "branchline-code")
    os.chdir(root)
    return root


def _start_run(ds: FlowDatastore, graph: FlowGraph, flow_cls: type[FlowSpec], task: TaskEnv) -> RunRecord:
    """The start task of an execution writes the run record (parameters from BRANCHLINE_PARAMS)."""
    if task.step != "start":
        raise ConfigError(f"run {graph.name}/{task.run_id} has no run document; its start task has not run")
    raw = json.loads(task.params_json) if task.params_json else {}
    run = RunRecord.starting(
        graph.name,
        task.run_id,
        task.namespace,
        runtime="batch",
        steps=tuple(graph.steps),
        params={p.name: p.resolve(raw.get(p.name)) for p in declared_parameters(flow_cls)},
        project=task.project,
        flow_file=task.flow_file,
        tracking_uri=task.tracking_uri,
        git=git_context_from_env(os.environ),
        ci=source_ci_from_env(os.environ),
        image=os.environ.get("BRANCHLINE_IMAGE"),
        execution_arn=task.execution_arn,
    )
    ds.write_run_record(run)
    return run


def _spec(task: TaskEnv, run: RunRecord) -> TaskSpec:
    return TaskSpec(
        flow=run.flow,
        step=task.step,
        run_id=task.run_id,
        task_id=task.task_id,
        namespace=task.namespace,
        attempt=task.attempt,
        max_attempts=task.max_attempts,
        fallback=CONTAINER_FALLBACK if task.catch_fallback else None,
        origin_run_id=task.origin_run_id or run.origin_run_id,
        log_paths=(batch_job_url(task.batch_job_id),) if task.batch_job_id else (),
        batch_job_id=task.batch_job_id,
        execution_arn=task.execution_arn,
    )


def batch_job_url(job_id: str) -> str:
    """The job's page in the AWS Batch console: its state, attempts and a link to its CloudWatch log stream."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return f"https://{region}.console.aws.amazon.com/batch/home?region={region}#jobs/detail/{job_id}"


def _task_tracking(task: TaskEnv, ds: FlowDatastore, run: RunRecord) -> task_run.TaskTracking | None:
    """No recorder in containers: the task opens its own MLflow run (`in_task`)."""
    if not task.tracking_uri:
        return None
    export_tracking_credentials()  # the namespace's MLflow identity, from its secret, before any MLflow call
    return task_run.TaskTracking(
        datastore=ds,
        namespace=task.namespace,
        project=task.project or run.project or "",
        flow=run.flow,
        run_id=task.run_id,
        step=task.step,
        task_id=task.task_id,
        attempt=task.attempt,
        tracking_uri=task.tracking_uri,
        tags={BATCH_JOB_ID_TAG: task.batch_job_id or "", EXECUTION_ARN_TAG: task.execution_arn or "",
              **({LOGS_TAG: batch_job_url(task.batch_job_id)} if task.batch_job_id else {})},
        mode="recorder" if task.scheduled_locally else "in_task",
    )


def process_age() -> float | None:
    """Seconds since this process started (Linux: /proc), i.e. the interpreter's start and branchline's imports."""
    try:  # both in seconds since boot, to 10 ms (/proc/stat's btime would be whole seconds)
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))


def run_from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> int:
    """Run the task the environment names; the exit code says whether it succeeded."""
    started, t0 = process_age(), time.perf_counter()
    task = TaskEnv.from_env(dict(env if env is not None else os.environ), overrides)
    root = prepare_environment(task)
    t_code = time.perf_counter()
    flow_cls = load_flow_class(root / task.flow_file, task.flow)
    graph = attach(graph_from_class(flow_cls), from_env(task.attached))
    ds = FlowDatastore(storage_from_url(task.datastore, s3_client=lambda: client("s3")), task.namespace)
    run = ds.read_run_record(graph.name, task.run_id) or _start_run(ds, graph, flow_cls, task)
    tracking = _task_tracking(task, ds, run)
    # The bootstrap's parts, for whoever reads the job's log (and benchmarks/bench_batch_task.py).
    python = f"python+imports {started:.2f} s, " if started is not None else ""
    print(f"branchline task {graph.name}/{task.run_id}/{task.step}/{task.task_id} attempt {task.attempt + 1} "
          f"({python}code package {t_code - t0:.2f} s, flow {time.perf_counter() - t_code:.2f} s)", flush=True)
    record = execute_task(flow_cls, graph, ds, _spec(task, run), dict(run.params), tracking=tracking)
    if task.scheduled_locally:
        pass  # the laptop's scheduler ends the run (and its MLflow run) when the whole DAG is over
    elif record.succeeded and task.step == "end":
        ds.write_run_record(run.ended(Status.SUCCEEDED))
    elif not record.succeeded and task.attempt + 1 >= task.max_attempts:
        error = f": {record.error.message}" if record.error else ""
        ds.write_run_record(run.ended(Status.FAILED, failed_task=f"{task.step}/{task.task_id}{error}"[:2000]))
        if tracking is not None:  # no recorder in containers: the last failed task closes the MLflow run
            try:
                task_run.finish_flow_run(tracking, failed=True)
            except Exception as exc:  # the task's own failure is what must be reported
                print(f"branchline: could not close the MLflow run: {exc}", file=sys.stderr)
    sys.stdout.flush()
    return 0 if record.succeeded else 1


def main(**overrides: Any) -> None:
    """`branchline task` / `python -m branchline.runtime.entrypoint`: user mistakes print one line."""
    try:
        code = run_from_env(**overrides)
    except BranchlineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sys.exit(code)


if __name__ == "__main__":
    main()
