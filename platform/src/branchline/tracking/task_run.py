"""The task's own MLflow run: plain `mlflow.log_metric(...)` inside a step goes to it.

The task entrypoint calls `activate(ctx)` before the user's step and `deactivate(handle, failed=...)`
after it. A step that never touches MLflow must not pay its ~2 s import: when `mlflow` is not imported
yet, `activate` only installs an import hook (`sys.meta_path`) that opens the nested run right after the
user's code first imports mlflow. If the flow module already imported it, the run opens at once.

Two modes:

- `recorder` (local runs): the recorder process owns the parent run; the task waits (bounded) for
  `mlflow.json` to learn its id. Tasks that never import mlflow get their nested run from the recorder.
- `in_task` (containers, no recorder): every task opens its run; the `start` task (or the first one to
  run after a resume) creates the parent run and `mlflow.json`; the `end` task ends the parent run.

This module is imported by every task process: mlflow is imported only when a step uses it, never at
module level. The own-package modules it imports are pure Python; beyond what the runtime loads anyway they
cost a task ~2 ms (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

from branchline.datastore.artifacts import FlowDatastore
from branchline.errors import BranchlineError, ServiceUnreachable
from branchline.namespaces.mlflow_tags import EXECUTION_ARN_TAG
from branchline.tracking.connect import TrackingError, TrackingSession, bound_http_retries, connect
from branchline.tracking.evidence import record_task_evidence
from branchline.tracking.runs import close_parent, create_task_run, open_parent, read_link, set_tags, write_link
from branchline.tracking.summary import summarize_before_close
from branchline.tracking.tags import run_tags, task_tags

Mode = Literal["recorder", "in_task"]
LINK_WAIT = float(os.environ.get("BRANCHLINE_TRACKING_WAIT", "120"))


@dataclass
class TaskTracking:
    """Everything a task needs to open its MLflow run (built by the runtime)."""

    datastore: FlowDatastore
    namespace: str
    project: str
    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    tracking_uri: str
    tags: dict[str, str] = field(default_factory=dict)
    mode: Mode = "recorder"
    link_wait: float = LINK_WAIT


@dataclass
class TaskRunHandle:
    """What `deactivate` needs: the context, the pending hook, the run once opened."""

    ctx: TaskTracking
    hook: _MlflowImportHook | None = None
    mlflow_run_id: str | None = None
    link: dict[str, Any] | None = None


# ----- public API
def activate(ctx: TaskTracking) -> TaskRunHandle | None:
    """Open the task's run now (mlflow already imported, or `in_task`), or when mlflow gets imported."""
    if ctx.mode not in ("recorder", "in_task"):
        raise ValueError(f"unknown tracking mode {ctx.mode!r}")
    handle = TaskRunHandle(ctx=ctx)
    if ctx.mode == "in_task" or "mlflow" in sys.modules:
        _open(handle)
    else:
        handle.hook = _MlflowImportHook(lambda: _open(handle))
        sys.meta_path.insert(0, handle.hook)
    return handle


def deactivate(handle: TaskRunHandle | None, *, failed: bool, tags: dict[str, str] | None = None) -> str | None:
    """End the task's run (FINISHED / FAILED); return its id, or None if mlflow was never used."""
    if handle is None:
        return None
    if handle.hook is not None:
        handle.hook.remove()
        handle.hook = None
    if handle.mlflow_run_id is None:
        return None
    import mlflow

    ctx, uri = handle.ctx, handle.ctx.tracking_uri
    status = "FAILED" if failed else "FINISHED"
    session = TrackingSession(mlflow.MlflowClient(tracking_uri=uri), uri)
    if tags:
        set_tags(session, handle.mlflow_run_id, {k: str(v) for k, v in tags.items()})
    # end our run and whatever the step left open on top of it
    while (active := mlflow.active_run()) is not None:
        mine = active.info.run_id == handle.mlflow_run_id
        mlflow.end_run(status)
        if mine:
            break
    run = session.call("read the task run", session.client.get_run, handle.mlflow_run_id)
    if run.info.status == "RUNNING":
        session.call("end the task run", session.client.set_terminated, handle.mlflow_run_id, status)
    _record_evidence(session, handle)
    if ctx.mode == "in_task" and ctx.step == "end" and not failed and handle.link:
        _close_parent_in_task(session, handle)
    return handle.mlflow_run_id


def _record_evidence(session: TrackingSession, handle: TaskRunHandle) -> None:
    """The task's MLflow record, copied into its datastore prefix for the gate to cross-check.

    A failure here does not fail the task (its work is done); the gate, finding no record, fails closed.
    """
    ctx = handle.ctx
    try:
        record_task_evidence(
            session, ctx.datastore, flow=ctx.flow, run_id=ctx.run_id, step=ctx.step,
            task_id=ctx.task_id, task_run_id=str(handle.mlflow_run_id),
        )  # fmt: skip
    except BranchlineError as exc:
        print(f"branchline: could not record this task's evidence in the datastore: {exc}", file=sys.stderr)


def mlflow_run_pending() -> bool:
    """True while a tracked task's run waits for the step's first `import mlflow` (the hook is armed)."""
    return any(isinstance(finder, _MlflowImportHook) for finder in sys.meta_path)


def finish_flow_run(ctx: TaskTracking, *, failed: bool) -> None:
    """in_task mode: end the parent run from outside `end` (the last attempt of a task failed).

    Without it the flow's run of a failed container execution would stay RUNNING: only `end` closes it.
    """
    link = read_link(ctx.datastore, ctx.flow, ctx.run_id)
    if not link or not link.get("run_id") or link.get("recorded"):
        return
    status = "FAILED" if failed else "FINISHED"
    session = connect(ctx.tracking_uri)
    summarize_before_close(session, ctx.datastore, link, _run_doc(ctx))
    close_parent(session, link["run_id"], status, None)
    write_link(ctx.datastore, ctx.flow, ctx.run_id, {**link, "recorded": True, "status": status})


# ----- opening the run
def _open(handle: TaskRunHandle) -> None:
    """Find (or make) the parent run, create the nested task run, make it mlflow's active run."""
    bound_http_retries()
    import mlflow

    ctx, uri = handle.ctx, handle.ctx.tracking_uri
    # recorder mode: wait before touching the store, the recorder may be creating it (migrations race)
    waited = _wait_link(ctx) if ctx.mode == "recorder" else None
    session = connect(uri)
    link = waited or _ensure_parent(session, ctx)
    run_doc = ctx.datastore.read_run(ctx.flow, ctx.run_id) or _minimal_run_doc(ctx)
    meta = {"attempt": ctx.attempt, "batch_job_id": os.environ.get("AWS_BATCH_JOB_ID")}
    tags = {**task_tags(run_tags_=run_tags(run_doc), step=ctx.step, task_id=ctx.task_id, meta=meta)}
    tags.update({k: str(v) for k, v in ctx.tags.items() if v not in (None, "")})
    handle.link = link
    handle.mlflow_run_id = create_task_run(session, link, tags, step=ctx.step, task_id=ctx.task_id)
    mlflow.set_tracking_uri(uri)
    os.environ["MLFLOW_TRACKING_URI"] = uri  # subprocesses of the step log to the same store
    session.call("select the experiment", mlflow.set_experiment, experiment_id=link["experiment_id"])
    session.call("start the task run", mlflow.start_run, run_id=handle.mlflow_run_id)


def _minimal_run_doc(ctx: TaskTracking) -> dict[str, Any]:
    return {"flow": ctx.flow, "run_id": ctx.run_id, "namespace": ctx.namespace, "project": ctx.project}


def _run_doc(ctx: TaskTracking) -> dict[str, Any]:
    """run.json with this task's identity (a container's execution ARN and image come from its context)."""
    doc = {**(ctx.datastore.read_run(ctx.flow, ctx.run_id) or {}), **_minimal_run_doc(ctx)}
    if ctx.tags.get(EXECUTION_ARN_TAG) and not doc.get("execution_arn"):
        doc["execution_arn"] = ctx.tags[EXECUTION_ARN_TAG]
    return doc


def _wait_link(ctx: TaskTracking) -> dict[str, Any]:
    """mlflow.json written by the recorder; bounded wait, the recorder's own error if it failed."""
    deadline = time.monotonic() + ctx.link_wait
    while True:
        link = read_link(ctx.datastore, ctx.flow, ctx.run_id)
        if link and link.get("error"):
            error = str(link["error"])
            raise ServiceUnreachable(error) if "unreachable" in error else TrackingError(error)
        if link and link.get("run_id"):
            return link
        if time.monotonic() > deadline:
            raise TrackingError(
                f"the MLflow run of {ctx.flow}/{ctx.run_id} did not appear within {ctx.link_wait:g}s",
                hint="the tracking recorder did not start; see mlflow-recorder.log in the run's datastore "
                "folder, or set BRANCHLINE_TRACKING=0 to run without tracking",
            )
        time.sleep(0.1)


def _ensure_parent(session: TrackingSession, ctx: TaskTracking) -> dict[str, Any]:
    """in_task mode: the parent run from mlflow.json, or create it (start task, or first after resume)."""
    link = read_link(ctx.datastore, ctx.flow, ctx.run_id)
    if link and link.get("run_id") and not link.get("error"):
        return link
    run_doc = ctx.datastore.read_run(ctx.flow, ctx.run_id) or _minimal_run_doc(ctx)
    run_doc = {**run_doc, "flow": ctx.flow, "run_id": ctx.run_id, "namespace": ctx.namespace}
    return open_parent(session, ctx.datastore, run_doc, ctx.project)


def _close_parent_in_task(session: TrackingSession, handle: TaskRunHandle) -> None:
    ctx, link = handle.ctx, handle.link or {}
    summarize_before_close(session, ctx.datastore, link, _run_doc(ctx))
    close_parent(session, link["run_id"], "FINISHED", None)
    write_link(ctx.datastore, ctx.flow, ctx.run_id, {**link, "recorded": True, "status": "FINISHED"})


# ----- the import hook
class _MlflowImportHook:
    """A `sys.meta_path` finder: runs `on_import` once, right after `mlflow` has finished executing.

    Duck-typed (no importlib.abc base): that import alone costs a task a millisecond.
    """

    def __init__(self, on_import: Any) -> None:
        self.on_import = on_import
        self.fired = False
        self._lock = threading.Lock()

    def remove(self) -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> Any:
        if fullname != "mlflow" or self.fired:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None:
            return None
        spec.loader = _NotifyingLoader(spec.loader, self._fire)
        return spec

    def _fire(self) -> None:
        with self._lock:
            if self.fired:
                return
            self.fired = True
        self.remove()
        self.on_import()


class _NotifyingLoader:
    """Delegates to the real loader, then calls back once the module is fully executed."""

    def __init__(self, loader: Any, callback: Any) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._callback()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
