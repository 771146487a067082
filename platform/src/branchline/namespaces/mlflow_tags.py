"""The keys of the MLflow tags branchline writes and reads: the one place they are spelled.

A flow run is one MLflow parent run (`ROLE_TAG` = `ROLE_FLOW`) with a nested run per task (`ROLE_TASK`,
`PARENT_RUN_TAG`); both carry the run's identity (`NAMESPACE_TAG`, `RUN_ID_TAG`), which is what the gate
trusts. Data checks tag the run that validated (`check_success_tag`, `check_failed_tag`); a registered model
version carries the run's identity under short names (`VERSION_TAGS`); the gate marks versions and the
registered model (`GATE_*_TAG`, `PREVIOUS_CHAMPION_TAG`). Values are made in `tracking.tags` (runs),
`tracking.models` (versions), `checks.record` and `gate.registry_actions`. (AWS tag keys are another vocabulary:
`namespaces.tags`.)
"""

from __future__ import annotations

# ----- MLflow's own keys (its UI reads them)
PARENT_RUN_TAG = "mlflow.parentRunId"
SOURCE_GIT_COMMIT_TAG = "mlflow.source.git.commit"
SOURCE_GIT_BRANCH_TAG = "mlflow.source.git.branch"
SOURCE_NAME_TAG = "mlflow.source.name"
SOURCE_TYPE_TAG = "mlflow.source.type"

# ----- on a flow's parent run and on each task run
NAMESPACE_TAG = "branchline.namespace"
RUN_ID_TAG = "branchline.run_id"
"""the branchline run id (not MLflow's): with the namespace, what ties a run to one flow run"""
FLOW_TAG = "branchline.flow"
PROJECT_TAG = "branchline.project"
GIT_SHA_TAG = "branchline.git_sha"
BRANCH_TAG = "branchline.branch"
GIT_DIRTY_TAG = "branchline.git_dirty"
PR_NUMBER_TAG = "branchline.pr_number"
CI_EVENT_TAG = "branchline.ci_event"
IMAGE_TAG = "branchline.image"
EXECUTION_ARN_TAG = "branchline.execution_arn"
ORIGIN_RUN_ID_TAG = "branchline.origin_run_id"
ORIGIN_MLFLOW_RUN_TAG = "branchline.origin_mlflow_run_id"
"""on a resumed flow run: the MLflow run of the run it resumed"""
ROLE_TAG = "branchline.role"
ROLE_FLOW = "flow"
"""the value of `ROLE_TAG` on a flow's parent run"""
ROLE_TASK = "task"
"""the value of `ROLE_TAG` on a task's nested run"""

# ----- on a task run only
STEP_TAG = "branchline.step"
TASK_ID_TAG = "branchline.task_id"
ATTEMPT_TAG = "branchline.attempt"
BATCH_JOB_ID_TAG = "branchline.batch_job_id"
LOGS_TAG = "branchline.logs"
"""a Batch task's log: its job's CloudWatch console page"""
ARTIFACTS_TAG = "branchline.artifacts"
FOREACH_NUM_SPLITS_TAG = "branchline.foreach_num_splits"
CLONED_FROM_TAG = "branchline.cloned_from"
EVIDENCE_FROM_TAG = "branchline.evidence_from"
"""on a reused task's run: the MLflow run its checks, metrics and params were copied from"""
ERROR_TAG = "branchline.error"

TASK_INHERITED_TAGS = (
    NAMESPACE_TAG,
    RUN_ID_TAG,
    FLOW_TAG,
    PROJECT_TAG,
    GIT_SHA_TAG,
    BRANCH_TAG,
    PR_NUMBER_TAG,
    IMAGE_TAG,
    EXECUTION_ARN_TAG,
    SOURCE_GIT_COMMIT_TAG,
)
"""the parent run's tags a task run carries too"""

# ----- data checks, on the run that validated (the gate folds them per suite)
CHECKS_TAG_PREFIX = "branchline.checks."
_SUCCESS, _FAILED = ".success", ".failed"


def check_success_tag(suite: str) -> str:
    """`branchline.checks.<suite>.success`: "true" or "false"."""
    return f"{CHECKS_TAG_PREFIX}{suite}{_SUCCESS}"


def check_failed_tag(suite: str) -> str:
    """`branchline.checks.<suite>.failed`: how many expectations failed."""
    return f"{CHECKS_TAG_PREFIX}{suite}{_FAILED}"


def check_suite_of(key: str) -> str | None:
    """The suite of a `check_success_tag` key; None for any other key."""
    if key.startswith(CHECKS_TAG_PREFIX) and key.endswith(_SUCCESS):
        return key[len(CHECKS_TAG_PREFIX) : -len(_SUCCESS)]
    return None


# ----- on a registered model version: the run's identity under short names
VERSION_TAGS = {
    NAMESPACE_TAG: "namespace",
    RUN_ID_TAG: "run_id",
    FLOW_TAG: "flow",
    STEP_TAG: "step",
    TASK_ID_TAG: "task_id",
    GIT_SHA_TAG: "git_sha",
    BRANCH_TAG: "branch",
    PR_NUMBER_TAG: "pr_number",
    IMAGE_TAG: "image",
}
"""run tag key -> the version tag it is copied to (`tracking.models.register_model`)"""
VERSION_NAMESPACE_TAG = VERSION_TAGS[NAMESPACE_TAG]

# ----- the gate's marks, on a model version and on the registered model
GATE_VERDICT_TAG = "branchline.gate"
"""on a version: passed / failed / rolled_back"""
GATE_SUMMARY_TAG = "branchline.gate.summary"
PREVIOUS_CHAMPION_TAG = "branchline.previous_champion"
"""on the promoted version and the registered model: the version `champion` replaced"""
ROLLED_BACK_FROM_TAG = "branchline.rolled_back_from"

# ----- the flow run's summary, on its parent run (`tracking.summary`): read it without opening child runs
SUMMARY_TAG_PREFIX = "branchline.summary."
SUMMARY_MODEL_TAG = "branchline.summary.model"
"""`<registered model> v<version>` of each version the run registered (comma-separated)"""
SUMMARY_MODEL_URL_TAG = "branchline.summary.model_url"
SUMMARY_GATE_TAG = "branchline.summary.gate"
"""`passed` / `failed`, with ` (dry run)` outside production; absent when no gate judged the run"""
SUMMARY_GATE_DETAIL_TAG = "branchline.summary.gate_detail"
SUMMARY_CHECKS_TAG = "branchline.summary.checks"
"""`passed` when every data check of the run passed, else `failed: <suite>, ...`"""
SUMMARY_METRIC_SOURCES_TAG = "branchline.summary.metric_sources"
"""`<metric>=<task run>` for each headline metric: which task's value the parent run carries"""
NOTE_TAG = "mlflow.note.content"
"""MLflow's run description, rendered as Markdown on the run page"""


def summary_check_tag(suite: str) -> str:
    """`branchline.summary.check.<suite>`: `passed` or `failed (<n> failed)` (not the gate's `checks.` keys)."""
    return f"{SUMMARY_TAG_PREFIX}check.{suite}"


def summary_link_tag(kind: str) -> str:
    """`branchline.summary.<kind>_url` (commit, pull_request, workflow_run, execution, image)."""
    return f"{SUMMARY_TAG_PREFIX}{kind}_url"
