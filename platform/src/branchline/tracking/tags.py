"""What a flow run and its tasks look like in MLflow: tag values, params, statuses (pure functions, no mlflow).

The recorder (local runs) and the task process (containers) both build MLflow runs from the same
datastore documents, so the mapping lives here once. Everything is a plain dict of strings so it can be
tested without MLflow and imported by the runtime for free. The tag keys are spelled in
`branchline.namespaces.mlflow_tags`; experiment and registered-model names come from `branchline.namespaces.names`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from branchline.namespaces.limits import MLFLOW_TAG_VALUE_MAX_LENGTH
from branchline.namespaces.mlflow_tags import (
    ARTIFACTS_TAG,
    ATTEMPT_TAG,
    BATCH_JOB_ID_TAG,
    BRANCH_TAG,
    CHECKS_TAG_PREFIX,
    CI_EVENT_TAG,
    CLONED_FROM_TAG,
    ERROR_TAG,
    EXECUTION_ARN_TAG,
    FLOW_TAG,
    FOREACH_NUM_SPLITS_TAG,
    GIT_DIRTY_TAG,
    GIT_SHA_TAG,
    IMAGE_TAG,
    LOGS_TAG,
    NAMESPACE_TAG,
    ORIGIN_RUN_ID_TAG,
    PR_NUMBER_TAG,
    PROJECT_TAG,
    RUN_ID_TAG,
    SOURCE_GIT_BRANCH_TAG,
    SOURCE_GIT_COMMIT_TAG,
    SOURCE_NAME_TAG,
    SOURCE_TYPE_TAG,
    STEP_TAG,
    TASK_ID_TAG,
    TASK_INHERITED_TAGS,
)

# MLflow's own limits (mlflow.utils.validation); values past them are truncated, not rejected.
MAX_TAG_VALUE = MLFLOW_TAG_VALUE_MAX_LENGTH
MAX_PARAM_VALUE = 6000
MAX_BATCH = 100

FINAL_RUN_STATUSES = {"succeeded": "FINISHED", "failed": "FAILED"}
FINAL_TASK_STATUSES = {"succeeded": "FINISHED", "failed": "FAILED", "killed": "KILLED"}


def identity(tags: dict[str, str]) -> tuple[str | None, str | None]:
    """(namespace, branchline run id) recorded on a run."""
    return tags.get(NAMESPACE_TAG) or None, tags.get(RUN_ID_TAG) or None


def task_run_name(step: str, task_id: str) -> str:
    return f"{step}/{task_id}"


def mlflow_json_key(run_key: str) -> str:
    """`<ns>/runs/<flow>/<run>/mlflow.json`: where the parent run id is published for the tasks."""
    return f"{run_key}/mlflow.json"


def _clean(tags: dict[str, Any]) -> dict[str, str]:
    """Drop empty values, stringify the rest, truncate to MLflow's limit."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list | tuple):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            text = json.dumps(value, sort_keys=True, default=str)
        else:
            text = str(value)
        out[key] = text[:MAX_TAG_VALUE]
    return out


def run_tags(run_doc: dict[str, Any]) -> dict[str, str]:
    """Tags of the parent run, from the run document (`run.json`); absent context is left out."""
    git = run_doc.get("git") or {}
    ci = run_doc.get("ci") or {}
    return _clean(
        {
            NAMESPACE_TAG: run_doc.get("namespace"),
            RUN_ID_TAG: run_doc.get("run_id"),
            FLOW_TAG: run_doc.get("flow"),
            PROJECT_TAG: run_doc.get("project"),
            GIT_SHA_TAG: git.get("sha"),
            BRANCH_TAG: git.get("branch"),
            GIT_DIRTY_TAG: git.get("dirty") if git else None,
            PR_NUMBER_TAG: ci.get("pr_number"),
            CI_EVENT_TAG: ci.get("event"),
            IMAGE_TAG: run_doc.get("image"),
            EXECUTION_ARN_TAG: run_doc.get("execution_arn"),
            ORIGIN_RUN_ID_TAG: run_doc.get("origin_run_id"),
            # MLflow's own keys, so that its UI shows the commit, branch and source file.
            SOURCE_GIT_COMMIT_TAG: git.get("sha"),
            SOURCE_GIT_BRANCH_TAG: git.get("branch"),
            SOURCE_NAME_TAG: run_doc.get("flow_file"),
            SOURCE_TYPE_TAG: "JOB",
        }
    )


def task_tags(
    *, run_tags_: dict[str, str], step: str, task_id: str, meta: dict[str, Any] | None = None
) -> dict[str, str]:
    """Tags of a task's nested run: the run's identity tags plus the task's own (attempt, Batch job...)."""
    meta = meta or {}
    inherited = {k: v for k, v in run_tags_.items() if k in TASK_INHERITED_TAGS}
    own = _clean(
        {
            STEP_TAG: step,
            TASK_ID_TAG: task_id,
            ATTEMPT_TAG: meta.get("attempt"),
            BATCH_JOB_ID_TAG: meta.get("batch_job_id"),
            LOGS_TAG: (meta.get("log_paths") or [None])[0] if meta.get("batch_job_id") else None,
            ARTIFACTS_TAG: sorted(meta.get("artifacts") or []),
            FOREACH_NUM_SPLITS_TAG: meta.get("foreach_num_splits"),
            CLONED_FROM_TAG: meta.get("cloned_from"),
            ERROR_TAG: _error_line(meta.get("error")),
        }
    )
    return {**inherited, **own}


def carried_tags(tags: dict[str, str]) -> dict[str, str]:
    """What a reused task's run carries over from its original: what it recorded (check outcomes, the user's own
    tags), nothing of the original's identity (MLflow's `mlflow.*`, branchline's other `branchline.*` tags)."""
    return {k: v for k, v in tags.items()
            if k.startswith(CHECKS_TAG_PREFIX) or not k.startswith(("mlflow.", "branchline."))}


def _error_line(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    return f"{error.get('type', 'Error')}: {error.get('message', '')}"


def params_of(run_doc: dict[str, Any]) -> dict[str, str]:
    """Flow parameters as MLflow params (strings, truncated)."""
    out: dict[str, str] = {}
    for key, value in (run_doc.get("params") or {}).items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        out[str(key)] = text[:MAX_PARAM_VALUE]
    return out


def iso_to_ms(value: str | None) -> int | None:
    """An ISO timestamp from the datastore to MLflow's epoch milliseconds (None stays None)."""
    if not value:
        return None
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return None


def chunks(items: list[Any], size: int = MAX_BATCH) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
