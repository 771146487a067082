"""`Names`: every AWS and MLflow name of one project's namespace, derived in one place."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from branchline.errors import ConfigError
from branchline.namespaces.derive import is_production, validate_namespace
from branchline.namespaces.errors import NamespaceError
from branchline.namespaces.limits import (
    AWS_TAG_VALUE_EXTRA_CHARS,
    AWS_TAG_VALUE_MAX_LENGTH,
    BATCH,
    LIVE_ALIAS,
    MLFLOW_EXPERIMENT_MAX_LENGTH,
    MLFLOW_TAG_VALUE_MAX_LENGTH,
    PROJECT_MAX_LENGTH,
    RESERVED_PROJECT_SEGMENTS,
    SCHEDULER,
    STEP_FUNCTIONS,
    NameRule,
)
from branchline.namespaces.mlflow_tags import (
    BRANCH_TAG,
    FLOW_TAG,
    GIT_SHA_TAG,
    NAMESPACE_TAG,
    PR_NUMBER_TAG,
    PROJECT_TAG,
    SOURCE_GIT_BRANCH_TAG,
    SOURCE_GIT_COMMIT_TAG,
)
from branchline.namespaces.tags import TAG_FLOW, TAG_GIT_SHA, TAG_NAMESPACE, TAG_PROJECT
from branchline.namespaces.text import fit_name, with_hash

_PROJECT = re.compile(rf"[a-z0-9][a-z0-9-]{{0,{PROJECT_MAX_LENGTH - 1}}}")


DEV_SUFFIX = "dev"


def experiment_name(project: str, flow: str, namespace: str | None) -> str:
    """Production's runs in `<project>/<flow>`, every other namespace's in `<project>/<flow>/dev`.

    Two experiments so that MLflow's permissions can differ: on a server with authentication EDIT on an
    experiment allows writing every run in it, so branches get EDIT on the `dev` one and READ on
    production's, whose runs are the gate's evidence. The namespace is still a tag on every run.
    """
    base = f"{project}/{flow}"
    return base if is_production(namespace) else f"{base}/{DEV_SUFFIX}"


def registered_model_name(name: str, namespace: str | None) -> str:
    """The registered model a namespace writes: production's own name, `<name>-dev` for every other one.

    A branch never registers under production's name: on a server with authentication the name belongs
    to the production identity (`branchline tracking bootstrap`), and the gate only reads versions of it.
    """
    return name if is_production(namespace) else f"{name}-{DEV_SUFFIX}"


def reserved_segments(project: str) -> list[str]:
    """The reserved namespace words (`br`, `prod`, `user`) that appear as `-`-separated parts of `project`."""
    return sorted({part for part in project.split("-") if part in RESERVED_PROJECT_SEGMENTS})


def validate_project(project: str) -> str:
    """`project` unchanged when it is a slug of at most PROJECT_MAX_LENGTH characters without reserved parts."""
    if not _PROJECT.fullmatch(project):
        raise ConfigError(
            f"invalid project name {project!r}",
            hint="set [tool.branchline] project to lowercase letters, digits and `-`, starting with a "
            f"letter or digit, at most {PROJECT_MAX_LENGTH} characters (e.g. `churn-model`)",
        )
    if reserved := reserved_segments(project):
        words = ", ".join(f"`{word}`" for word in reserved)
        raise ConfigError(
            f"invalid project name {project!r}: it contains the reserved namespace word {words} as a part",
            hint="resource names are `<project>-<namespace>-...` and IAM grants by prefix (`<project>-br-*`), so "
            "a project named like another project's namespace could reach it; rename the project (e.g. "
            f"`{project.replace('-', '')}`)",
        )
    return project


def tracking_secret_prefix(project: str, production: bool) -> str:
    """`branchline/<project>/prod/` or `branchline/<project>/branch/`: the Secrets Manager names of the MLflow
    credentials. IAM grants each job role its own prefix only (aws/templates), so a branch job told to read
    production's secret is refused by AWS; every non-production namespace shares the branch one."""
    return f"branchline/{validate_project(project)}/{'prod' if production else 'branch'}/"


def _given(value: str, what: str) -> str:
    if not value:
        raise NamespaceError(f"{what} is empty", hint=f"pass a non-empty {what}")
    return value


def _tag_char_ok(c: str) -> bool:
    return unicodedata.category(c)[0] in "LNZ" or c in AWS_TAG_VALUE_EXTRA_CHARS


def aws_tag_value(value: str) -> str:
    """`value` as is when AWS accepts it as a tag value; else its allowed characters plus a hash."""
    if len(value) <= AWS_TAG_VALUE_MAX_LENGTH and all(map(_tag_char_ok, value)):
        return value
    readable = "".join(c if _tag_char_ok(c) else "-" for c in value)
    return with_hash(readable, value, AWS_TAG_VALUE_MAX_LENGTH)


def _capped(value: str, limit: int) -> str:
    return value if len(value) <= limit else with_hash(value, value, limit)


@dataclass(frozen=True)
class Names:
    """Resource names for `project` in `namespace`: valid for each service, readable, and distinct.

    Distinct inputs give distinct names within one project (plain names are unambiguous joins;
    shortened or cleaned ones carry a hash of the raw inputs). Changing these rules renames every
    deployed resource: the golden values in the tests pin them.
    """

    project: str
    namespace: str

    def __post_init__(self) -> None:
        validate_project(self.project)
        validate_namespace(self.namespace)

    def _fit(self, rule: NameRule, *free: str) -> str:
        return fit_name((self.project, self.namespace), free, rule)

    def state_machine(self, flow: str) -> str:
        """`<project>-<namespace>-<flow>` (Step Functions)."""
        return self._fit(STEP_FUNCTIONS, _given(flow, "flow name"))

    def alias(self) -> str:
        """The state machine alias production traffic goes through; rollback re-points it."""
        return LIVE_ALIAS

    def execution(self, run_id: str) -> str:
        """The run id itself when valid: executions are already scoped to their state machine."""
        return fit_name((), (_given(run_id, "run id"),), STEP_FUNCTIONS)

    def job_definition(self, flow: str, step: str) -> str:
        """`<project>-<namespace>-<flow>-<step>` (Batch)."""
        return self._fit(BATCH, _given(flow, "flow name"), _given(step, "step name"))

    def job_name(self, flow: str, step: str, task_id: str) -> str:
        """`<project>-<namespace>-<flow>-<step>-<task_id>` (Batch)."""
        parts = (_given(flow, "flow name"), _given(step, "step name"), _given(str(task_id), "task id"))
        return self._fit(BATCH, *parts)

    def schedule(self, flow: str) -> str:
        """`<project>-<namespace>-<flow>` (EventBridge rule or Scheduler schedule, 64 characters)."""
        return self._fit(SCHEDULER, _given(flow, "flow name"))

    def s3_prefix(self) -> str:
        """`branchline/<project>/<namespace>`: the namespace is the first key segment below the project."""
        return f"branchline/{self.project}/{self.namespace}"

    def mlflow_experiment(self, flow: str) -> str:
        """This namespace's experiment of `flow` (`experiment_name`: production's own, or the shared `dev` one)."""
        return _capped(experiment_name(self.project, _given(flow, "flow name"), self.namespace),
                       MLFLOW_EXPERIMENT_MAX_LENGTH)

    def tags(self, flow: str | None = None, git_sha: str | None = None) -> dict[str, str]:
        """AWS resource tags: what the sweeper and `status` find resources by."""
        tags = {TAG_PROJECT: self.project, TAG_NAMESPACE: self.namespace}
        if flow is not None:
            tags[TAG_FLOW] = aws_tag_value(_given(flow, "flow name"))
        if git_sha is not None:
            tags[TAG_GIT_SHA] = aws_tag_value(_given(git_sha, "git sha"))
        return tags

    def mlflow_tags(
        self,
        *,
        flow: str | None = None,
        branch: str | None = None,
        git_sha: str | None = None,
        pr_number: int | str | None = None,
    ) -> dict[str, str]:
        """MLflow run tags; the git ones also fill MLflow's own `mlflow.source.git.*` tags for its UI."""
        tags = {PROJECT_TAG: self.project, NAMESPACE_TAG: self.namespace}
        if flow is not None:
            tags[FLOW_TAG] = _capped(_given(flow, "flow name"), MLFLOW_TAG_VALUE_MAX_LENGTH)
        if branch is not None:
            branch = _capped(_given(branch, "branch name"), MLFLOW_TAG_VALUE_MAX_LENGTH)
            tags[BRANCH_TAG] = tags[SOURCE_GIT_BRANCH_TAG] = branch
        if git_sha is not None:
            sha = _capped(_given(git_sha, "git sha"), MLFLOW_TAG_VALUE_MAX_LENGTH)
            tags[GIT_SHA_TAG] = tags[SOURCE_GIT_COMMIT_TAG] = sha
        if pr_number is not None:
            tags[PR_NUMBER_TAG] = _pr(pr_number)
        return tags


def _pr(pr_number: int | str) -> str:
    text = str(pr_number)
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise NamespaceError(
            f"pull request number {pr_number!r} is not a positive integer",
            hint="pass the number from the pull request event, e.g. 42",
        )
    return str(int(text))
