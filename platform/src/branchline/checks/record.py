"""Recording a check in the active MLflow run: result JSON + Data Docs page as artifacts, outcome as tags.

MLflow is never imported for someone who does not track: only when it is already imported, or when the
running branchline task is tracked and waits for MLflow's import to open its run (see
`branchline.tracking.task_run`). The gate reads the tags back from the flow's runs.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from branchline.checks.result import CheckResult
from branchline.namespaces.mlflow_tags import check_failed_tag, check_success_tag
from branchline.tracking.connect import TrackingSession
from branchline.tracking.task_run import mlflow_run_pending

ARTIFACT_DIR = "checks"


def active_run() -> Any | None:
    """MLflow's active run, importing mlflow only if it is imported already or this task is tracked."""
    if "mlflow" not in sys.modules and not mlflow_run_pending():
        return None
    import mlflow

    return mlflow.active_run()


def record(result: CheckResult, html: str, run: Any) -> tuple[str, ...]:
    """Log `checks/<suite>.json|html` and the outcome tags on `run`; a failure earlier in the run sticks."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    session = TrackingSession(mlflow.MlflowClient(tracking_uri=uri), uri)
    client, run_id, suite = session.client, run.info.run_id, result.suite
    json_path, html_path = f"{ARTIFACT_DIR}/{suite}.json", f"{ARTIFACT_DIR}/{suite}.html"
    document = {**result.raw, "branchline": result.as_dict()}
    session.call("log the check result", client.log_text, run_id, json.dumps(document, indent=2, default=str),
                 json_path)  # fmt: skip
    session.call("log the Data Docs page", client.log_text, run_id, html, html_path)

    previous = session.call("read the run", client.get_run, run_id).data.tags
    success = result.success and previous.get(check_success_tag(suite), "true") == "true"
    failed = len(result.failed) + int(previous.get(check_failed_tag(suite), "0") or 0)
    session.call("tag the run", client.set_tag, run_id, check_success_tag(suite), "true" if success else "false")
    session.call("tag the run", client.set_tag, run_id, check_failed_tag(suite), str(failed))
    return (json_path, html_path)
