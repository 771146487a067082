"""The task entrypoint: run one task of a flow, anywhere (a local worker or a Batch container).

Given (flow, step, run id, task id, namespace, datastore) it finds its inputs, builds the
task's view of the artifacts, runs the user's step, stores what the step produced and writes
the task's metadata last. The local runtime calls `execute_task` in a forked worker; the
container calls it through `branchline task`.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from branchline.authoring.current import current
from branchline.authoring.exceptions import CaughtException
from branchline.authoring.flowspec import ArtifactSource, ArtifactView, FlowSpec, Inputs
from branchline.datastore.artifacts import ArtifactRef, FlowDatastore
from branchline.errors import BranchlineError, FlowError
from branchline.graph.model import FlowGraph
from branchline.runtime.lineage import foreach_frames_for, input_tasks


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class TaskSpec:
    flow: str
    step: str
    run_id: str
    task_id: str
    namespace: str
    attempt: int = 0
    max_attempts: int = 1
    catch_fallback: bool = False
    extra_meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskOutcome:
    ok: bool
    caught: bool = False
    error: dict[str, Any] | None = None
    foreach_num_splits: int | None = None


def _num_splits(ds: FlowDatastore, spec: TaskSpec):
    def lookup(step: str, task_id: str) -> int:
        meta = ds.read_task_meta(spec.flow, spec.run_id, step, task_id)
        if not meta or meta.get("foreach_num_splits") is None:
            raise FlowError(f"foreach task {spec.flow}/{spec.run_id}/{step}/{task_id} has not finished")
        return int(meta["foreach_num_splits"])

    return lookup


def _user_traceback(exc: BaseException) -> str:
    """The traceback without branchline's own frames, so the user sees their code."""
    tb = exc.__traceback__
    while tb is not None and "/branchline/" in tb.tb_frame.f_code.co_filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def build_flow(
    flow_cls: type[FlowSpec], graph: FlowGraph, ds: FlowDatastore, spec: TaskSpec, params: dict[str, Any]
) -> tuple[FlowSpec, Inputs | None, list[tuple[str, str]]]:
    """The flow instance the step runs on, its join inputs, and the input task ids."""
    node = graph[spec.step]
    inputs_ids = input_tasks(graph, spec.step, spec.task_id, _num_splits(ds, spec))
    label = f"step {spec.step!r}"
    inherited: dict[str, ArtifactRef] = {}
    inputs: Inputs | None = None
    if node.is_join:
        views = []
        for step, task_id in inputs_ids:
            refs = ds.read_task_artifacts(spec.flow, spec.run_id, step, task_id)
            views.append(ArtifactView(ArtifactSource(ds, refs, f"input {step}/{task_id}"), step))
        inputs = Inputs(views)
    elif inputs_ids:
        step, task_id = inputs_ids[0]
        inherited = ds.read_task_artifacts(spec.flow, spec.run_id, step, task_id)
    frames = []
    for foreach_step, foreach_task, index in foreach_frames_for(graph, spec.step, spec.task_id):
        meta = ds.read_task_meta(spec.flow, spec.run_id, foreach_step, foreach_task) or {}
        refs = ds.read_task_artifacts(spec.flow, spec.run_id, foreach_step, foreach_task)
        var = graph[foreach_step].foreach_var or ""
        source = ArtifactSource(ds, refs, f"foreach {foreach_step}")

        def value(source: ArtifactSource = source, var: str = var, index: int = index) -> Any:
            return source.get(var)[index]

        frames.append({"index": index, "num_splits": meta.get("foreach_num_splits"), "value": value})
    flow = flow_cls._bl_for_task(
        datastore=ds, params=params, inherited=inherited, label=label, foreach_frames=frames, step_name=spec.step
    )
    return flow, inputs, inputs_ids


def _check_transition(graph: FlowGraph, step: str, flow: FlowSpec) -> None:
    node = graph[step]
    transition = flow._bl_transition
    if node.type == "end":
        return
    if transition is None:
        raise FlowError(f"step {step!r} finished without calling self.next()")
    targets, foreach = transition
    if tuple(targets) != node.out_funcs or foreach != node.foreach_var:
        raise FlowError(
            f"step {step!r} called self.next({', '.join(targets)}) but its source says "
            f"self.next({', '.join(node.out_funcs)}); transitions must not depend on data"
        )


def _persist(
    ds: FlowDatastore, graph: FlowGraph, spec: TaskSpec, flow: FlowSpec, extra: dict[str, Any] | None = None
) -> tuple[dict[str, ArtifactRef], int | None]:
    to_save, refs = flow._bl_outputs()
    if extra:
        to_save.update(extra)
    for name, value in to_save.items():
        refs[name] = ds.save_value(value)
    node = graph[spec.step]
    num_splits = None
    if node.type == "foreach" and node.foreach_var:
        num_splits = len(getattr(flow, node.foreach_var))
        items = [{"task_id": f"{spec.task_id}-{i}"} for i in range(num_splits)]
        ds.put_json(f"{ds.task_key(spec.flow, spec.run_id, spec.step, spec.task_id)}/foreach-items.json", items)
    ds.write_task_artifacts(spec.flow, spec.run_id, spec.step, spec.task_id, refs)
    return refs, num_splits


def execute_task(
    flow_cls: type[FlowSpec],
    graph: FlowGraph,
    ds: FlowDatastore,
    spec: TaskSpec,
    params: dict[str, Any],
    *,
    tracking: Any = None,
) -> TaskOutcome:
    """Run one attempt of one task; never raises for a failure of the user's code."""
    node = graph[spec.step]
    started = now_iso()
    meta: dict[str, Any] = {
        "flow": spec.flow,
        "step": spec.step,
        "task_id": spec.task_id,
        "run_id": spec.run_id,
        "attempt": spec.attempt,
        "status": "running",
        "started": started,
        "pid": os.getpid(),
        **spec.extra_meta,
    }
    ds.write_task_meta(spec.flow, spec.run_id, spec.step, spec.task_id, meta)
    current._set(
        flow_name=spec.flow,
        run_id=spec.run_id,
        step_name=spec.step,
        task_id=spec.task_id,
        retry_count=spec.attempt,
        namespace=spec.namespace,
        origin_run_id=spec.extra_meta.get("origin_run_id"),
        username=os.environ.get("USER"),
    )
    catch = node.decorator("catch")
    handle = None
    flow: FlowSpec | None = None
    t0 = time.perf_counter()
    try:
        flow, inputs, inputs_ids = build_flow(flow_cls, graph, ds, spec, params)
        meta["inputs"] = [f"{s}/{t}" for s, t in inputs_ids]
        if spec.catch_fallback:
            raise _FallbackFailure(
                spec.extra_meta.get("fallback_type", "TaskKilled"),
                spec.extra_meta.get("fallback_reason", "the task's job failed or was killed (e.g. by @timeout)"),
            )
        if tracking is not None:
            from branchline.tracking import task_run

            handle = task_run.activate(tracking)
        method = getattr(flow, spec.step)
        if node.is_join:
            method(inputs)
        else:
            method()
        _check_transition(graph, spec.step, flow)
        refs, num_splits = _persist(ds, graph, spec, flow, dict(params) if not node.in_funcs else None)
    except BaseException as exc:  # the user's code may raise anything, SystemExit included
        if isinstance(exc, KeyboardInterrupt):
            raise
        if isinstance(exc, _FallbackFailure):
            error = {"type": exc.kind, "message": exc.message, "traceback": ""}
        else:
            message = str(exc) if isinstance(exc, BranchlineError) else f"{type(exc).__name__}: {exc}"
            error = {"type": type(exc).__name__, "message": message, "traceback": _user_traceback(exc)}
        tb = error["traceback"] or error["message"]
        print(tb, file=sys.stderr, flush=True)
        last_attempt = spec.attempt + 1 >= spec.max_attempts or spec.catch_fallback
        if catch is not None and last_attempt and flow is not None and node.type != "foreach":
            return _caught(ds, graph, spec, flow, meta, catch.args, error, handle, t0)
        if handle is not None:
            meta["mlflow_run_id"] = _deactivate(handle, failed=True)
        meta.update(status="failed", finished=now_iso(), error=error, duration=time.perf_counter() - t0)
        ds.write_task_meta(spec.flow, spec.run_id, spec.step, spec.task_id, meta)
        return TaskOutcome(ok=False, error=error)
    if handle is not None:
        meta["mlflow_run_id"] = _deactivate(handle, failed=False)
    meta.update(
        status="succeeded",
        finished=now_iso(),
        duration=time.perf_counter() - t0,
        foreach_num_splits=num_splits,
        artifacts=sorted(refs),
    )
    ds.write_task_meta(spec.flow, spec.run_id, spec.step, spec.task_id, meta)
    return TaskOutcome(ok=True, foreach_num_splits=num_splits)


class _FallbackFailure(Exception):
    """Stands for a failure the task could not observe itself (killed by a timeout)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _deactivate(handle: Any, *, failed: bool) -> str | None:
    from branchline.tracking import task_run

    try:
        return task_run.deactivate(handle, failed=failed)
    except Exception as exc:  # tracking must not turn a finished step into a failed one
        print(f"branchline: could not finish the MLflow task run: {exc}", file=sys.stderr)
        return None


def _caught(ds, graph, spec, flow, meta, catch_args, error, handle, t0) -> TaskOutcome:
    """@catch: keep the flow going; the exception is stored in the catch variable."""
    var = catch_args.get("var")
    extra = {}
    if var:
        extra[var] = CaughtException(
            type=error["type"],
            message=error["message"],
            traceback=error["traceback"],
            step=spec.step,
            attempts=spec.attempt + 1,
        )
    if catch_args.get("print_exception", True):
        print(f"@catch: step {spec.step!r} failed and the flow goes on: {error['message']}", file=sys.stderr)
    # the step's own partial results are dropped; only inherited artifacts and the catch variable go on
    flow._bl_assigned.clear()
    refs, _ = _persist(ds, graph, spec, flow, extra)
    if handle is not None:
        meta["mlflow_run_id"] = _deactivate(handle, failed=True)
    meta.update(
        status="succeeded",
        caught=error,
        finished=now_iso(),
        duration=time.perf_counter() - t0,
        foreach_num_splits=None,
        artifacts=sorted(refs),
    )
    ds.write_task_meta(spec.flow, spec.run_id, spec.step, spec.task_id, meta)
    return TaskOutcome(ok=True, caught=True, error=error)
