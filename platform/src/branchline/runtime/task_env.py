"""The task a step container runs, read from its BRANCHLINE_* variables (set by the job definition and the
state machine's container overrides) or from `branchline task` options, checked before anything runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from branchline.errors import ConfigError


class TaskEnv(NamedTuple):
    """The task a container runs, from its BRANCHLINE_* variables (and `branchline task` options)."""

    flow_file: str
    step: str
    run_id: str
    task_id: str
    namespace: str
    datastore: str
    project: str | None = None
    flow: str | None = None
    code_package: str | None = None
    params_json: str | None = None
    tracking_uri: str | None = None
    max_attempts: int = 1
    attempt: int = 0
    catch_fallback: bool = False
    execution_arn: str | None = None
    batch_job_id: str | None = None
    origin_run_id: str | None = None
    attached: str | None = None
    """`--with` decorators of the run (JSON list, `authoring.attach.from_env`)"""
    scheduled_locally: bool = False
    """a laptop's scheduler (`run --with batch`) owns the run record and the MLflow run, not the containers"""

    @classmethod
    def from_env(cls, env: Mapping[str, str], overrides: Mapping[str, Any]) -> TaskEnv:
        def pick(name: str, key: str, required: bool = True) -> Any:
            value = overrides.get(key) or env.get(name)
            if required and not value:
                raise ConfigError(f"the task entrypoint needs {name} (or --{key.replace('_', '-')})")
            return value

        # A laptop run retries by submitting a new job per attempt, and so does a deployment's state machine
        # (@retry's loop): both say which attempt in BRANCHLINE_ATTEMPT. A job Batch retries itself (a lost
        # host) numbers its attempts from 1 in AWS_BATCH_JOB_ATTEMPT.
        attempt = int(env.get("BRANCHLINE_ATTEMPT") or int(env.get("AWS_BATCH_JOB_ATTEMPT", "1") or "1") - 1)
        return cls(
            flow_file=pick("BRANCHLINE_FLOW_FILE", "flow_file"),
            step=pick("BRANCHLINE_STEP", "step"),
            run_id=pick("BRANCHLINE_RUN_ID", "run_id"),
            task_id=pick("BRANCHLINE_TASK_ID", "task_id", required=False) or "0",
            namespace=pick("BRANCHLINE_NAMESPACE", "namespace"),
            datastore=pick("BRANCHLINE_DATASTORE", "datastore"),
            project=pick("BRANCHLINE_PROJECT", "project", required=False),
            flow=pick("BRANCHLINE_FLOW", "flow", required=False),
            code_package=pick("BRANCHLINE_CODE_PACKAGE", "code_package", required=False),
            params_json=env.get("BRANCHLINE_PARAMS"),
            tracking_uri=env.get("BRANCHLINE_TRACKING_URI") or env.get("MLFLOW_TRACKING_URI"),
            max_attempts=int(env.get("BRANCHLINE_MAX_ATTEMPTS", "1") or "1"),
            attempt=max(0, attempt),
            catch_fallback=env.get("BRANCHLINE_CATCH_FALLBACK") == "1",
            execution_arn=env.get("BRANCHLINE_EXECUTION_ARN"),
            batch_job_id=env.get("AWS_BATCH_JOB_ID"),
            origin_run_id=env.get("BRANCHLINE_ORIGIN_RUN_ID") or None,
            attached=env.get("BRANCHLINE_WITH") or None,
            scheduled_locally=env.get("BRANCHLINE_SCHEDULER") == "local",
        )
