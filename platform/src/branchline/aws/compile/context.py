"""What the compiler needs besides the graph, what it returns, and the service limits it works within."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from branchline.errors import BranchlineError

TASK_RESOURCE = "arn:aws:states:::batch:submitJob.sync"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
TASK_COMMAND = ("branchline", "task")
"""The image runs the task entrypoint; the bootstrap lives there, never in the definition."""

DEFINITION_MAX_BYTES = 1024 * 1024
"""Step Functions rejects definitions above 1 MB."""
CONTAINER_OVERRIDES_MAX_CHARS = 8192
"""Batch rejects a SubmitJob whose container overrides exceed 8,192 characters."""
BATCH_MAX_ATTEMPTS = 10
HOST_FAILURE_ATTEMPTS = 3
"""Batch attempts of every job: only host failures (a reclaimed Spot instance) get the extra two."""
BATCH_MIN_TIMEOUT_SECONDS = 60
"""Batch refuses an attemptDurationSeconds below 60."""
STATE_MAX_TIMEOUT_SECONDS = 365 * 24 * 3600
"""A Standard execution lasts at most a year: no state timeout beyond it means anything."""
DEFAULT_STEP_TIMEOUT_SECONDS = 5 * 24 * 3600
"""Each attempt of a step without @timeout may run this long (Metaflow's default on AWS is 5 days too)."""
DEFAULT_QUEUE_TIMEOUT_SECONDS = 24 * 3600
"""How long a step's job may wait for compute (RUNNABLE) before the step fails instead of hanging."""
DEFAULT_MAX_CONCURRENCY = 16
MAP_MAX_CONCURRENCY = 10_000
"""Step Functions runs at most 10,000 child executions of a Distributed Map at once."""
PARAMS_MAX_JSON_CHARS = 4096
"""The one payload in a container override: the start task's parameters (`BRANCHLINE_PARAMS`). Whoever
starts an execution must refuse larger parameters (as JSON); pass a pointer (an S3 URL) instead."""
MAX_TASK_ID_CHARS = 40
"""Room left in a Batch job name for the task id (`0-12-3`...): a depth-6 foreach of 99,999 items each."""

STATE_NAME_MAX_CHARS = 80


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class CompileError(BranchlineError):
    """A flow that cannot be turned into a state machine or job definitions (names the step and the fix)."""


@dataclass(frozen=True)
class SourceContext:
    """Where the deployed code came from, besides its commit (`CompileContext.git_sha`): the start task writes
    it into the run record, so the run's MLflow page names the branch and links the commit (a deployed task
    has no git checkout and no CI context of its own). Stable per commit and namespace, so a redeploy of the
    same commit stays unchanged; no pull-request number (two pull requests of one branch share the namespace)."""

    branch: str | None = None
    repository: str | None = None
    """`owner/name` on the git host"""
    server_url: str | None = None
    """the git host, e.g. https://github.com"""


@dataclass(frozen=True)
class CompileContext:
    """Everything the compiler needs to know about where and how the flow is deployed.

    `flow_file` is relative to the project root inside the code package; `image` is a reference by
    digest (`repo@sha256:...`) so a job definition pins exactly what was tested.
    """

    project: str
    namespace: str
    flow_file: str
    image: str
    job_queue: str
    job_role_arn: str | None
    datastore_root: str
    code_package: str
    tracking_uri: str | None = None
    tracking_secret: str | None = None  # Secrets Manager id of the MLflow credentials (never the credentials)
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    step_timeout_seconds: int = DEFAULT_STEP_TIMEOUT_SECONDS
    """per attempt, for steps without @timeout"""
    queue_timeout_seconds: int = DEFAULT_QUEUE_TIMEOUT_SECONDS
    """added to a step's state timeout: the time its job may wait for compute"""
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    git_sha: str | None = None
    project_branch: str | None = None
    """the `@project` branch name tasks report as `current.branch_name` (`user.alice`, `test.x`, `prod`)"""
    step_images: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """step → its own image (a `@pypi` step's), by digest; the others run `image`"""
    source: SourceContext = field(default_factory=SourceContext)

    def start_environment(self) -> dict[str, str]:
        """What the start task records about the code's origin (read by `runtime.run_info`)."""
        named = {"BRANCHLINE_GIT_SHA": self.git_sha, "BRANCHLINE_BRANCH": self.source.branch,
                 "BRANCHLINE_REPOSITORY": self.source.repository, "BRANCHLINE_GIT_SERVER": self.source.server_url}
        return {name: value for name, value in named.items() if value}

    def __post_init__(self) -> None:
        if not self.datastore_root.startswith("s3://") or len(self.datastore_root.rstrip("/")) <= len("s3://"):
            raise CompileError(
                f"datastore root {self.datastore_root!r} is not an S3 URL",
                hint="set the datastore to s3://<bucket>/branchline/<project> to deploy to AWS",
            )
        concurrency = self.max_concurrency
        if not _whole(concurrency) or not 0 <= concurrency <= MAP_MAX_CONCURRENCY:
            raise CompileError(
                f"max_concurrency {self.max_concurrency!r} is not a whole number from 0 to {MAP_MAX_CONCURRENCY:,}",
                hint="set how many foreach items may run at once (0 lets Step Functions decide)",
            )
        for name, least in (("step_timeout_seconds", BATCH_MIN_TIMEOUT_SECONDS), ("queue_timeout_seconds", 1)):
            value = getattr(self, name)
            if not _whole(value) or not least <= value <= STATE_MAX_TIMEOUT_SECONDS:
                raise CompileError(f"{name} {value!r} is not a whole number of seconds from {least} to "
                                   f"{STATE_MAX_TIMEOUT_SECONDS:,}", hint="a step's time must be bounded, and "
                                   "Step Functions ends every execution after a year")

    @property
    def bucket(self) -> str:
        return self.datastore_root.removeprefix("s3://").split("/", 1)[0]

    @property
    def root_prefix(self) -> str:
        """The key prefix of the datastore root inside its bucket (`branchline/<project>`), no slashes at the ends."""
        parts = self.datastore_root.removeprefix("s3://").split("/", 1)
        return parts[1].strip("/") if len(parts) > 1 else ""


@dataclass(frozen=True)
class JobDefinitionSpec:
    """One step's Batch job definition, ready for `batch.register_job_definition(**request)`.

    `spec_hash` covers everything but the tags, so the deployer registers a new revision only
    when the job itself changed (a new git sha alone does not make one).
    """

    step: str
    name: str
    request: dict
    spec_hash: str
