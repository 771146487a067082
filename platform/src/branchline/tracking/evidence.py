"""The task's own record of what it put in MLflow, written into its namespace's datastore prefix.

At the end of a tracked task, the task process (with its own role: only production's roles can write
under `prod/`) reads back its MLflow run and the runs nested under it, and writes
`<ns>/runs/<flow>/<run>/<step>/<task>/evidence/<mlflow run id>.json`: their metrics, the check outcome
tags and the model versions they registered. The gate cross-checks MLflow against these records before
it moves `champion`, so evidence changed in MLflow after the fact (by anyone who could write there) is
caught and named. One file per attempt (its own MLflow run), so a retry never rewrites an earlier record.

Runs the step nested under its task run without branchline's identity tags are claimed here (tagged with
the flow run's namespace and run id): the gate reads only runs that carry the flow run's identity.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from branchline.datastore.artifacts import FlowDatastore
from branchline.namespaces.mlflow_tags import CHECKS_TAG_PREFIX, NAMESPACE_TAG, PARENT_RUN_TAG, RUN_ID_TAG
from branchline.tracking.connect import TrackingSession

if TYPE_CHECKING:
    from mlflow.entities import Run

EVIDENCE_DIR = "evidence"
MAX_NESTED = 10_000  # runs a single task may nest under its own (one search page each 1,000)


def evidence_key(ds: FlowDatastore, flow: str, run_id: str, step: str, task_id: str, mlflow_run_id: str) -> str:
    return f"{ds.task_key(flow, run_id, step, task_id)}/{EVIDENCE_DIR}/{mlflow_run_id}.json"


def flow_evidence_key(ds: FlowDatastore, flow: str, run_id: str, mlflow_run_id: str) -> str:
    """The flow run's own record (what its summary copied onto the parent run), beside its tasks'."""
    return f"{ds.run_key(flow, run_id)}/{EVIDENCE_DIR}/{mlflow_run_id}.json"


def run_record(run: Run) -> dict[str, Any]:
    """What the gate reads of one run: its latest metrics and its check outcome tags."""
    tags = dict(run.data.tags)
    return {
        "metrics": dict(run.data.metrics),
        "checks": {k: v for k, v in tags.items() if k.startswith(CHECKS_TAG_PREFIX)},
    }


def task_record(
    *,
    namespace: str,
    flow: str,
    run_id: str,
    step: str,
    task_id: str,
    task_run_id: str,
    runs: list[Run],
    versions: list[Any],
) -> dict[str, Any]:
    """The evidence document of one task attempt (pure)."""
    return {
        "namespace": namespace,
        "flow": flow,
        "run_id": run_id,
        "step": step,
        "task_id": task_id,
        "mlflow_run_id": task_run_id,
        "runs": {r.info.run_id: run_record(r) for r in runs},
        "model_versions": sorted(
            ({"name": mv.name, "version": str(mv.version), "run_id": mv.run_id} for mv in versions),
            key=lambda v: (v["name"], int(v["version"])),
        ),
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def nested_runs(session: TrackingSession, experiment_id: str, root_id: str) -> list[Run]:
    """Every run nested under `root_id` (any depth) in its experiment, breadth first."""
    found: list[Run] = []
    frontier = [root_id]
    while frontier and len(found) < MAX_NESTED:
        parent = frontier.pop(0)
        query = f"tags.`{PARENT_RUN_TAG}` = '{parent}'"  # MLflow cannot search tags with IN
        page = session.call("search nested runs", session.client.search_runs, [experiment_id], filter_string=query,
                            max_results=1000)  # fmt: skip
        frontier += [r.info.run_id for r in page]
        found += list(page)
    return found


def claim_nested(session: TrackingSession, runs: list[Run], namespace: str, run_id: str) -> list[Run]:
    """Tag nested runs that carry no identity with this flow run's; return the runs that are ours."""
    ours = []
    for run in runs:
        tags = run.data.tags
        if not tags.get(NAMESPACE_TAG) and not tags.get(RUN_ID_TAG):
            session.call("tag a nested run", session.client.set_tag, run.info.run_id, NAMESPACE_TAG, namespace)
            session.call("tag a nested run", session.client.set_tag, run.info.run_id, RUN_ID_TAG, run_id)
            ours.append(run)
        elif tags.get(NAMESPACE_TAG) == namespace and tags.get(RUN_ID_TAG) == run_id:
            ours.append(run)
    return ours


def versions_of(session: TrackingSession, run_ids: list[str]) -> list[Any]:
    """Model versions (of any registered model this identity can read) logged by `run_ids`."""
    out: list[Any] = []
    for start in range(0, len(run_ids), 100):
        ids = ", ".join(f"'{i}'" for i in run_ids[start : start + 100])
        out += list(session.call("search model versions", session.client.search_model_versions, f"run_id IN ({ids})"))
    return out


def record_task_evidence(
    session: TrackingSession,
    ds: FlowDatastore,
    *,
    flow: str,
    run_id: str,
    step: str,
    task_id: str,
    task_run_id: str,
) -> str:
    """Read back the task's runs from MLflow and write their record into the datastore; returns the key."""
    get_run = session.client.get_run
    task_run = session.call("read the task run", get_run, task_run_id)
    nested = nested_runs(session, task_run.info.experiment_id, task_run_id)
    ours = claim_nested(session, nested, ds.namespace, run_id)
    runs = [session.call("read the task run", get_run, task_run_id)]
    runs += [session.call("read a nested run", get_run, r.info.run_id) for r in ours]
    versions = versions_of(session, [r.info.run_id for r in runs])
    key = evidence_key(ds, flow, run_id, step, task_id, task_run_id)
    ds.put_json(
        key,
        task_record(namespace=ds.namespace, flow=flow, run_id=run_id, step=step, task_id=task_id,
                    task_run_id=task_run_id, runs=runs, versions=versions),
    )  # fmt: skip
    return key


def read_flow_evidence(ds: FlowDatastore, flow: str, run_id: str) -> list[dict[str, Any]]:
    """Every task record of one flow run (empty when the run wrote none)."""
    prefix = ds.run_key(flow, run_id) + "/"
    keys = sorted(k for k in ds.storage.list(prefix) if f"/{EVIDENCE_DIR}/" in k and k.endswith(".json"))
    records = [ds.try_json(k) for k in keys]
    return [r for r in records if isinstance(r, dict)]
