"""Recording a check in the active MLflow run: result JSON + Data Docs page as artifacts, outcome as tags.

MLflow is never imported for someone who does not track: only when it is already imported, or when the
running branchline task is tracked and waits for MLflow's import to open its run (see
`branchline.tracking.task_run`). The gate reads the tags back from the flow's runs.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from branchline.checks.result import CheckResult, failed_tag, success_tag

ARTIFACT_DIR = "checks"


def active_run() -> Any | None:
    """MLflow's active run, importing mlflow only if it is imported already or this task is tracked."""
    if "mlflow" not in sys.modules and not _tracked_task_pending():
        return None
    import mlflow

    return mlflow.active_run()


def _tracked_task_pending() -> bool:
    """A tracked branchline task whose MLflow run opens on `import mlflow` (the step has not imported it)."""
    task_run = sys.modules.get("branchline.tracking.task_run")
    hook = getattr(task_run, "_MlflowImportHook", None) if task_run else None
    return hook is not None and any(isinstance(finder, hook) for finder in sys.meta_path)


def record(result: CheckResult, html: str, run: Any) -> tuple[str, ...]:
    """Log `checks/<suite>.json|html` and the outcome tags on `run`; a failure earlier in the run sticks."""
    import mlflow

    from branchline.tracking.connect import call

    uri = mlflow.get_tracking_uri()
    client = mlflow.MlflowClient(tracking_uri=uri)
    run_id = run.info.run_id
    json_path, html_path = f"{ARTIFACT_DIR}/{result.suite}.json", f"{ARTIFACT_DIR}/{result.suite}.html"
    document = {**result.raw, "branchline": result.as_dict()}
    call(uri, "log the check result", client.log_text, run_id, json.dumps(document, indent=2, default=str), json_path)
    call(uri, "log the Data Docs page", client.log_text, run_id, html, html_path)

    previous = call(uri, "read the run", client.get_run, run_id).data.tags
    success = result.success and previous.get(success_tag(result.suite), "true") == "true"
    failed = len(result.failed) + int(previous.get(failed_tag(result.suite), "0") or 0)
    call(uri, "tag the run", client.set_tag, run_id, success_tag(result.suite), "true" if success else "false")
    call(uri, "tag the run", client.set_tag, run_id, failed_tag(result.suite), str(failed))
    return (json_path, html_path)
