"""MLflow runs of a flow run: the parent run, the nested task runs, and `mlflow.json` that links them.

Used by the recorder (local runs, one background process) and by the task process itself in
containers (`in_task` mode). `mlflow.json` in the run's datastore folder is how tasks find the
parent run: `{"tracking_uri", "experiment_id", "run_id"}`, later `recorded: true` or `error`.
"""

from __future__ import annotations

from typing import Any

from branchline.datastore.artifacts import FlowDatastore
from branchline.namespaces.mlflow_tags import (
    EVIDENCE_FROM_TAG,
    NAMESPACE_TAG,
    ORIGIN_MLFLOW_RUN_TAG,
    PARENT_RUN_TAG,
    ROLE_FLOW,
    ROLE_TAG,
    ROLE_TASK,
    RUN_ID_TAG,
)
from branchline.tracking.connect import TrackingSession, connect, ensure_experiment
from branchline.tracking.tags import (
    FINAL_TASK_STATUSES,
    carried_tags,
    chunks,
    iso_to_ms,
    mlflow_json_key,
    params_of,
    run_tags,
    task_run_name,
    task_tags,
)


# ----- mlflow.json
def read_link(ds: FlowDatastore, flow: str, run_id: str) -> dict[str, Any] | None:
    return ds.try_json(mlflow_json_key(ds.run_key(flow, run_id)))


def write_link(ds: FlowDatastore, flow: str, run_id: str, data: dict[str, Any]) -> None:
    ds.put_json(mlflow_json_key(ds.run_key(flow, run_id)), data)


# ----- parent run
def find_parent(session: TrackingSession, experiment_id: str, run_doc: dict[str, Any]) -> str | None:
    """An existing parent run of this flow run (a resumed container start, a second creator)."""
    namespace, run_id = run_doc.get("namespace"), run_doc.get("run_id")
    query = (
        f"tags.`{RUN_ID_TAG}` = '{run_id}' and tags.`{NAMESPACE_TAG}` = '{namespace}'"
        f" and tags.`{ROLE_TAG}` = '{ROLE_FLOW}'"
    )
    found = session.call("search runs", session.client.search_runs, [experiment_id], filter_string=query,
                         max_results=1)  # fmt: skip
    return found[0].info.run_id if found else None


def open_parent(session: TrackingSession, ds: FlowDatastore, run_doc: dict[str, Any], project: str) -> dict[str, Any]:
    """Create the parent run with its tags and params; publish mlflow.json as soon as it exists."""
    flow, run_id = run_doc["flow"], run_doc["run_id"]
    experiment_id = ensure_experiment(session, project, flow, run_doc.get("namespace"))
    parent = find_parent(session, experiment_id, run_doc)
    if parent is None:
        tags = {**run_tags({**run_doc, "project": project}), ROLE_TAG: ROLE_FLOW}
        run = session.call(
            f"create the run of {flow}/{run_id}",
            session.client.create_run,
            experiment_id,
            start_time=iso_to_ms(run_doc.get("started")),
            tags=tags,
            run_name=run_id,
        )
        parent = run.info.run_id
    link = {"tracking_uri": session.uri, "experiment_id": experiment_id, "run_id": parent}
    write_link(ds, flow, run_id, link)
    log_params(session, parent, run_doc)
    return link


def log_params(session: TrackingSession, mlflow_run_id: str, run_doc: dict[str, Any]) -> None:
    from mlflow.entities import Param

    existing = session.call("read run", session.client.get_run, mlflow_run_id).data.params
    params = [Param(k, v) for k, v in params_of(run_doc).items() if k not in existing]
    for batch in chunks(params):
        session.call("log params", session.client.log_batch, mlflow_run_id, params=batch)


def close_parent(session: TrackingSession, mlflow_run_id: str, status: str, end_ms: int | None) -> None:
    session.call("end the flow run", session.client.set_terminated, mlflow_run_id, status, end_ms)


# ----- task runs
def create_task_run(
    session: TrackingSession,
    link: dict[str, Any],
    tags: dict[str, str],
    *,
    step: str,
    task_id: str,
    start_ms: int | None = None,
) -> str:
    """A nested run under the parent named `<step>/<task_id>`; returns its id."""
    run = session.call(
        f"create the run of task {step}/{task_id}",
        session.client.create_run,
        link["experiment_id"],
        start_time=start_ms,
        tags={**tags, PARENT_RUN_TAG: link["run_id"], ROLE_TAG: ROLE_TASK},
        run_name=task_run_name(step, task_id),
    )
    return str(run.info.run_id)


def set_tags(session: TrackingSession, mlflow_run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    items = [RunTag(k, v) for k, v in tags.items()]
    for batch in chunks(items):
        session.call("set tags", session.client.log_batch, mlflow_run_id, tags=batch)


def record_task(
    session: TrackingSession,
    link: dict[str, Any],
    run_doc: dict[str, Any],
    step: str,
    task_id: str,
    meta: dict[str, Any],
) -> str:
    """Record one finished task: its own nested run if it made one, else a new one; tags + status."""
    tags = task_tags(run_tags_=run_tags(run_doc), step=step, task_id=task_id, meta=meta)
    status = FINAL_TASK_STATUSES[meta["status"]]
    end_ms = iso_to_ms(meta.get("finished"))
    existing = meta.get("mlflow_run_id")
    if existing:
        set_tags(session, existing, tags)
        run = session.call("read run", session.client.get_run, existing)
        if run.info.status != status:
            session.call("end a task run", session.client.set_terminated, existing, status, end_ms)
        return str(existing)
    mlflow_run_id = create_task_run(
        session, link, tags, step=step, task_id=task_id, start_ms=iso_to_ms(meta.get("started"))
    )
    if meta.get("evidence_mlflow_run_id"):  # a reused task: what it recorded travels with it
        copy_evidence(session, str(meta["evidence_mlflow_run_id"]), mlflow_run_id)
    session.call("end a task run", session.client.set_terminated, mlflow_run_id, status, end_ms)
    return mlflow_run_id


def copy_evidence(session: TrackingSession, source_run_id: str, target_run_id: str) -> None:
    """Carry what a reused task recorded in its original run (check outcomes, metrics, params, its own tags)
    into its run in the resumed flow run: the gate judges a flow run by the runs under it, so a resumed
    run must not lose the data checks its reused `start` ran. The source is named on the copy."""
    from mlflow.entities import Metric, Param, RunTag

    source = session.maybe("read the reused task's run", session.client.get_run, source_run_id)
    if source is None:
        return  # deleted since: nothing to carry
    carried = {**carried_tags(dict(source.data.tags)), EVIDENCE_FROM_TAG: source_run_id}
    batches = (
        ("tags", [RunTag(k, v) for k, v in carried.items()]),
        ("metrics", [Metric(k, v, 0, 0) for k, v in source.data.metrics.items()]),
        ("params", [Param(k, v) for k, v in source.data.params.items()]),
    )
    for kind, items in batches:
        for batch in chunks(items):
            session.call(f"copy the reused task's {kind}", session.client.log_batch, target_run_id, **{kind: batch})


def record_resume(ds: FlowDatastore, run_doc: dict[str, Any], project: str, reused: list[dict[str, Any]]) -> dict:
    """A resumed run on AWS, before its execution starts: its parent run (tagged with the original run's),
    published in mlflow.json for its tasks, and a run per reused task that carries evidence."""
    session = connect(str(run_doc["tracking_uri"]))
    link = open_parent(session, ds, run_doc, project)
    origin = read_link(ds, run_doc["flow"], str(run_doc.get("origin_run_id"))) or {}
    if origin.get("run_id"):
        set_tags(session, link["run_id"], {ORIGIN_MLFLOW_RUN_TAG: str(origin["run_id"])})
    for meta in reused:
        if meta.get("evidence_mlflow_run_id"):
            record_task(session, link, run_doc, meta["step"], meta["task_id"], meta)
    return link
