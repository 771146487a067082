"""`[tool.branchline.aws]`: what the deployer needs from the project's configuration.

Roles, queues and the bucket are created by the platform's CloudFormation (infra), never by the
deployer: it only reads their names here.

Accounts: `account_id` is the development account (or the only one); `production_account_id`, when set and
different, is production's own account (recommended), with its own bucket (`production_bucket`). A deploy
checks the caller's account before it writes anything (`check_account`): production is never deployed with
development credentials, nor a branch namespace into the production account.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from branchline.aws.compile.context import (
    BATCH_MIN_TIMEOUT_SECONDS,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_QUEUE_TIMEOUT_SECONDS,
    DEFAULT_STEP_TIMEOUT_SECONDS,
    MAP_MAX_CONCURRENCY,
    STATE_MAX_TIMEOUT_SECONDS,
)
from branchline.config import Config
from branchline.errors import BranchlineError, ConfigError
from branchline.images.production import check_repositories
from branchline.namespaces import is_production, tracking_secret_prefix

DEFAULT_KEEP_VERSIONS = 10
_INFRA_HINT = "the platform's CloudFormation stack outputs it (see docs/deploy.md)"

AWS_KEYS: dict[str, str] = {
    "region": "the AWS region (when neither AWS_REGION nor the profile sets one)",
    "account_id": "the development account (deploys check the caller's account)",
    "production_account_id": "production's own account",
    "bucket": "the datastore bucket",
    "production_bucket": "production's datastore bucket",
    "job_queue": "the Batch queue every branch namespace shares",
    "production_job_queue": "production's Batch queue",
    "states_role_arn": "the Step Functions role of branch namespaces",
    "job_role_arn": "the Batch job role of branch namespaces",
    "production_states_role_arn": "production's Step Functions role",
    "production_job_role_arn": "production's Batch job role",
    "scheduler_role_arn": "the EventBridge Scheduler role of @schedule flows",
    "image_repository": "the branches' step image repository",
    "production_image_repository": "production's step image repository",
    "keep_versions": "state machine versions kept for rollback",
    "max_concurrency": "foreach items that run at once (0: as many as Step Functions allows)",
    "step_timeout_seconds": "the time limit of each attempt of a step without @timeout",
    "queue_timeout_seconds": "how long a step may wait for compute before it fails",
    "job_environment": "a table of extra environment variables for every step container",
    "tracking_secret": "the Secrets Manager id of the branches' MLflow credentials",
    "production_tracking_secret": "the Secrets Manager id of production's MLflow credentials",
    "lock_lease_seconds": "how long a namespace's write lock lasts without renewal (a killed deployer's expires)",
    "lock_wait_seconds": "how long a write waits for another writer's lock before it gives up",
}
"""Every key `[tool.branchline.aws]` may hold, and what it is for: any other key is a mistake."""


class WrongAccountError(BranchlineError):
    """The credentials belong to an account this namespace must not be deployed into."""


@dataclass(frozen=True)
class AwsSettings:
    states_role_arn: str
    job_role_arn: str
    job_queue: str
    production_job_queue: str | None
    bucket: str
    scheduler_role_arn: str
    keep_versions: int = DEFAULT_KEEP_VERSIONS
    production_states_role_arn: str | None = None
    production_job_role_arn: str | None = None
    job_environment: tuple[tuple[str, str], ...] = ()
    account_id: str | None = None
    production_account_id: str | None = None

    @property
    def separate_production_account(self) -> bool:
        return bool(self.production_account_id) and self.production_account_id != self.account_id

    def account_for(self, namespace: str) -> str | None:
        """The account `namespace` lives in (None: not configured, nothing to check)."""
        if is_production(namespace):
            return self.production_account_id or self.account_id
        return self.account_id
    image_repository: str | None = None
    production_image_repository: str | None = None
    tracking_secret: str | None = None
    production_tracking_secret: str | None = None
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    step_timeout_seconds: int = DEFAULT_STEP_TIMEOUT_SECONDS
    queue_timeout_seconds: int = DEFAULT_QUEUE_TIMEOUT_SECONDS

    def _production(self, value: str | None, key: str) -> str:
        if not value:
            raise ConfigError(
                f"missing setting tool.branchline.aws.{key} (needed to deploy prod)",
                hint=f"production never uses the branches' roles; {_INFRA_HINT}",
            )
        return value

    def states_role_for(self, namespace: str) -> str:
        """Branch namespaces and prod run under different roles: a branch can never write prod's data."""
        if is_production(namespace):
            return self._production(self.production_states_role_arn, "production_states_role_arn")
        return self.states_role_arn

    def job_role_for(self, namespace: str) -> str:
        if is_production(namespace):
            return self._production(self.production_job_role_arn, "production_job_role_arn")
        return self.job_role_arn

    def tracking_secret_for(self, namespace: str) -> str | None:
        """The Secrets Manager id of the namespace's MLflow credentials; branches never get production's."""
        return self.production_tracking_secret if is_production(namespace) else self.tracking_secret

    def queue_for(self, namespace: str) -> str:
        """Branches share one queue (Batch allows 50 per region); prod has its own."""
        if not is_production(namespace):
            return self.job_queue
        if not self.production_job_queue:
            raise ConfigError(
                "missing setting tool.branchline.aws.production_job_queue (needed to deploy prod)",
                hint=f"production never shares the branches' queue; {_INFRA_HINT}",
            )
        return self.production_job_queue

    @property
    def datastore_root(self) -> str:
        return f"s3://{self.bucket}"


def _bucket(config: Config) -> str:
    explicit = config.get("aws.bucket")
    if explicit:
        return str(explicit)
    url = str(config.get("datastore") or "")
    if url.startswith("s3://"):
        return url[5:].split("/", 1)[0]
    raise ConfigError(
        "no S3 bucket for the AWS datastore",
        hint="set [tool.branchline.aws] bucket (or datastore = \"s3://BUCKET\") in pyproject.toml",
    )


def account_setting(config: Config, key: str) -> str | None:
    value = config.get(f"aws.{key}")
    if value in (None, ""):
        return None
    text = str(value)
    if len(text) != 12 or not text.isdigit():
        raise ConfigError(f"tool.branchline.aws.{key} must be a 12-digit AWS account id, not {value!r}",
                          hint=f'e.g. {key} = "210987654321" (quoted: a TOML integer would lose leading zeros)')
    return text


def check_keys(config: Config) -> None:
    """Refuse a `[tool.branchline.aws]` key nobody reads: a typo would otherwise be silently ignored."""
    table = config.get("aws", {})
    if not isinstance(table, dict):
        raise ConfigError("tool.branchline.aws must be a table", hint="write [tool.branchline.aws] in pyproject.toml")
    unknown = sorted(set(table) - set(AWS_KEYS))
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(key, list(AWS_KEYS), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    more = f" (and {', '.join(unknown[1:])})" if len(unknown) > 1 else ""
    raise ConfigError(
        f"unknown setting tool.branchline.aws.{key}{more}",
        hint=f"{hint}the keys are: {', '.join(sorted(AWS_KEYS))} (docs/deploy.md)",
    )


def _whole_number(config: Config, key: str, default: int, *, minimum: int, maximum: int, example: str) -> int:
    value: Any = config.get(f"aws.{key}", default)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ConfigError(
            f"tool.branchline.aws.{key} must be a whole number from {minimum:,} to {maximum:,}, not {value!r}",
            hint=f"e.g. {key} = {example} ({AWS_KEYS[key]})",
        )
    return value


def aws_settings(config: Config, namespace: str | None = None) -> AwsSettings:
    """Read and check `[tool.branchline.aws]`; every missing key is named with where to find it.

    With `namespace` = prod and a `production_bucket`, `bucket` is production's (its own account's) bucket.
    """
    check_keys(config)
    states_role = str(config.require("aws.states_role_arn", hint=_INFRA_HINT))
    keep = config.get("aws.keep_versions", DEFAULT_KEEP_VERSIONS)
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise ConfigError(
            f"tool.branchline.aws.keep_versions must be a positive integer, not {keep!r}",
            hint="e.g. keep_versions = 10 (versions kept for rollback)",
        )
    bucket = _bucket(config)
    if namespace is not None and is_production(namespace):
        bucket = str(config.get("aws.production_bucket") or bucket)
    return AwsSettings(
        states_role_arn=states_role,
        job_role_arn=str(config.require("aws.job_role_arn", hint=_INFRA_HINT)),
        job_queue=str(config.require("aws.job_queue", hint=_INFRA_HINT)),
        production_job_queue=config.get("aws.production_job_queue") or None,
        bucket=bucket,
        scheduler_role_arn=str(config.get("aws.scheduler_role_arn") or states_role),
        keep_versions=keep,
        production_states_role_arn=config.get("aws.production_states_role_arn") or None,
        production_job_role_arn=config.get("aws.production_job_role_arn") or None,
        job_environment=_job_environment(config),
        account_id=account_setting(config, "account_id"),
        production_account_id=account_setting(config, "production_account_id"),
        max_concurrency=_whole_number(config, "max_concurrency", DEFAULT_MAX_CONCURRENCY, minimum=0,
                                      maximum=MAP_MAX_CONCURRENCY, example="16"),
        step_timeout_seconds=_whole_number(config, "step_timeout_seconds", DEFAULT_STEP_TIMEOUT_SECONDS,
                                           minimum=BATCH_MIN_TIMEOUT_SECONDS, maximum=STATE_MAX_TIMEOUT_SECONDS,
                                           example="86400"),
        queue_timeout_seconds=_whole_number(config, "queue_timeout_seconds", DEFAULT_QUEUE_TIMEOUT_SECONDS,
                                            minimum=1, maximum=STATE_MAX_TIMEOUT_SECONDS, example="3600"),
        **dict(zip(("image_repository", "production_image_repository"), image_repositories(config), strict=True)),
        tracking_secret=tracking_secret(config, production=False),
        production_tracking_secret=tracking_secret(config, production=True),
    )


def tracking_secret(config: Config, *, production: bool) -> str | None:
    """`tracking_secret` / `production_tracking_secret`, refused unless under the prefix IAM grants that side.

    The job roles may read only `branchline/<project>/branch/*` (branch namespaces) or `.../prod/*` (production),
    so a secret named otherwise would fail in every Batch job; saying so at deploy time is one clear message
    instead of an AccessDenied inside a running step. A full ARN is judged by its name.
    """
    key = "production_tracking_secret" if production else "tracking_secret"
    value = config.get(f"aws.{key}") or None
    if value is None:
        return None
    text = str(value)
    name = text.split(":secret:", 1)[1] if text.startswith("arn:") and ":secret:" in text else text
    prefix = tracking_secret_prefix(config.project, production)
    if not name.startswith(prefix) or name == prefix:
        side = "production's jobs" if production else "branch namespaces' jobs"
        raise ConfigError(
            f"tool.branchline.aws.{key} = {text!r} is not under {prefix}: {side} may read only secrets named "
            f"{prefix}* (the project stack's IAM grants nothing else)",
            hint=f'store the MLflow credential as e.g. "{prefix}mlflow" and set {key} to that name (docs/tracking.md)',
        )
    return text


def check_account(settings: AwsSettings, namespace: str, caller_account: str, action: str = "deploy") -> None:
    """Refuse to `action` (deploy, resume...) `namespace` with credentials of the wrong account (before anything
    is written)."""
    expected = settings.account_for(namespace)
    if expected is None or caller_account == expected:
        return
    if is_production(namespace):
        raise WrongAccountError(
            f"refusing to {action} prod with credentials of account {caller_account}: production lives in "
            f"account {expected}",
            hint=f"deploy prod from the release workflow, with the release role of account {expected} "
            "(tool.branchline.aws.production_account_id)",
        )
    where = "the production account" if caller_account == settings.production_account_id else "account"
    raise WrongAccountError(
        f"refusing to {action} {namespace} with credentials of {where} {caller_account}: branch namespaces "
        f"live in account {expected}",
        hint="use the development account's credentials (the ci role, or your own profile there)",
    )


def caller_account(sts: object) -> str:
    """The account of the credentials in use (`sts get-caller-identity`, which no policy can deny)."""
    return str(sts.get_caller_identity()["Account"])  # type: ignore[attr-defined]


def image_repositories(config: Config) -> tuple[str | None, str | None]:
    """(branch, production) image repositories: never one and the same (branchline.images.production)."""
    branch = config.get("aws.image_repository") or None
    production = config.get("aws.production_image_repository") or None
    check_repositories(branch, production)
    return branch, production


def _job_environment(config: Config) -> tuple[tuple[str, str], ...]:
    """`[tool.branchline.aws.job_environment]`: extra variables for every step container (no secrets)."""
    table = config.get("aws.job_environment", {}) or {}
    if not isinstance(table, dict) or not all(isinstance(v, str | int | float | bool) for v in table.values()):
        raise ConfigError(
            "tool.branchline.aws.job_environment must be a table of NAME = \"value\"",
            hint='e.g. [tool.branchline.aws.job_environment] LOG_LEVEL = "info"',
        )
    return tuple(sorted((str(k), str(v)) for k, v in table.items()))


def configured_bucket(config: Config) -> str | None:
    """The datastore bucket when one is configured (teardown works without the rest of the settings)."""
    try:
        return _bucket(config)
    except ConfigError:
        return None


def lock_bucket(config: Config, namespace: str) -> str:
    """Where `namespace`'s lock lives: its own data's bucket (production's own bucket for prod)."""
    bucket = configured_bucket(config)
    if is_production(namespace):
        bucket = str(config.get("aws.production_bucket") or "") or bucket
    if not bucket:
        raise ConfigError(
            f"no S3 bucket for the lock of namespace {namespace}: every write to a namespace holds its lock there",
            hint="set [tool.branchline.aws] bucket (or datastore = \"s3://BUCKET\") in pyproject.toml",
        )
    return bucket


def configured_queue(config: Config, namespace: str) -> str | None:
    """The job queue `namespace` runs on, when configured (teardown then lists only its jobs)."""
    key = "aws.production_job_queue" if is_production(namespace) else "aws.job_queue"
    return str(config.get(key) or "") or None
