"""The run and task records: what `run.json` and a task's `meta.json` hold, typed, built in one place.

Written by the local runtime and by task containers, read by the scheduler, the client, resume and the
tracking recorder, so the JSON form is a contract: `to_json` leaves out fields that are None, `from_json`
ignores keys it does not know (documents written by older versions stay readable). Status values are
`Status`; it is a `str` enum, so the JSON holds plain strings.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from branchline.errors import ArtifactError


class Status(StrEnum):
    """Of a run (`running` until it ends) and of a task (a record is written when an attempt ends)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    KILLED = "killed"
    """a task stopped by the scheduler because another task failed"""

    @property
    def finished(self) -> bool:
        return self is not Status.RUNNING


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """Sortable, unique, and a valid Step Functions execution name.

    Milliseconds in the time part: two runs started in the same second still sort by start (the random part
    only breaks ties), so `latest_run` never picks the older of two quick runs.
    """
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3] + "-" + os.urandom(3).hex()  # as secrets.token_hex


def task_id_for(path: tuple[int, ...]) -> str:
    """Deterministic task id from the foreach index path: () -> '0', (3, 1) -> '0-3-1'."""
    return "-".join(["0", *map(str, path)])


def path_for(task_id: str) -> tuple[int, ...]:
    parts = task_id.split("-")
    if parts[0] != "0" or not all(p.isdigit() for p in parts[1:]):
        raise ArtifactError(f"not a branchline task id: {task_id!r}")
    return tuple(int(p) for p in parts[1:])


def _json(record: Any) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(record).items() if v is not None}


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class TaskError:
    """Why an attempt failed (or what `@catch` caught): the exception as the user should read it."""

    type: str
    message: str
    traceback: str = ""
    """the user's frames only (`runtime/user_traceback.py`); the task's `.err` log has the whole traceback"""
    frames: str = ""
    """the last frames of the user's code, which the console shows under the failure (none for branchline's
    own one-line errors)"""

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TaskError | None:
        return cls(**_known(cls, data)) if data else None


@dataclass(frozen=True)
class RunRecord:
    """`run.json`: written when a run starts (status `running`) and again when it ends."""

    flow: str
    run_id: str
    namespace: str
    status: Status
    started: str
    runtime: Literal["local", "batch", "hybrid"]
    steps: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    project: str | None = None
    finished: str | None = None
    flow_file: str | None = None
    tracking_uri: str | None = None
    git: dict[str, Any] | None = None
    """{"sha", "branch"} of the project, when it is a git work tree"""
    ci: dict[str, Any] | None = None
    """{"event", "pr_number", "run_id"} when a GitHub Actions job started the run"""
    image: str | None = None
    execution_arn: str | None = None
    origin_run_id: str | None = None
    """resume: the run whose successful tasks this one reuses"""
    failed_task: str | None = None
    """`step/task_id: error` of the task whose last attempt failed the run (a foreach item names itself here:
    on AWS the Map's own error cannot say which item failed)"""

    @classmethod
    def starting(
        cls, flow: str, run_id: str, namespace: str, *, runtime: Literal["local", "batch", "hybrid"], **context: Any
    ) -> RunRecord:
        """The record of a run that starts now: the one constructor the local runtime and containers use."""
        return cls(flow, run_id, namespace, Status.RUNNING, now_iso(), runtime, **context)

    def ended(self, status: Status, failed_task: str | None = None) -> RunRecord:
        return replace(self, status=status, finished=now_iso(), failed_task=failed_task)

    def to_json(self) -> dict[str, Any]:
        return _json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        known = _known(cls, data)
        known["status"] = Status(known.get("status", Status.RUNNING))
        known["steps"] = tuple(known.get("steps") or ())
        known["params"] = dict(known.get("params") or {})
        known.setdefault("started", "")
        known.setdefault("runtime", "local")
        return cls(**known)


@dataclass(frozen=True)
class TaskRecord:
    """A task's `meta.json`, written once when an attempt ends (by the task, or by the scheduler for a worker
    that could not: killed, timed out, died)."""

    flow: str
    run_id: str
    step: str
    task_id: str
    status: Status
    attempt: int = 0
    started: str | None = None
    finished: str | None = None
    duration: float | None = None
    inputs: tuple[str, ...] = ()
    """`step/task_id` of the tasks whose artifacts this one read"""
    artifacts: tuple[str, ...] = ()
    foreach_num_splits: int | None = None
    error: TaskError | None = None
    caught: TaskError | None = None
    """`@catch`: the failure the task recorded instead of failing"""
    mlflow_run_id: str | None = None
    log_paths: tuple[str, ...] = ()
    origin_run_id: str | None = None
    cloned_from: str | None = None
    """resume: `run/step/task_id` of the task that really ran (this record was copied from it)"""
    evidence_mlflow_run_id: str | None = None
    """resume: the MLflow run holding what that task recorded (checks, metrics); tracking copies it into
    the resumed run, so a reused task's evidence travels with it"""
    batch_job_id: str | None = None
    execution_arn: str | None = None

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    @property
    def succeeded(self) -> bool:
        return self.status is Status.SUCCEEDED

    @property
    def source_run_id(self) -> str:
        """The run whose task really produced this one's outputs (itself, unless it was cloned)."""
        return self.cloned_from.split("/", 1)[0] if self.cloned_from else self.run_id

    def to_json(self) -> dict[str, Any]:
        return _json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskRecord:
        known = _known(cls, data)
        known["status"] = Status(known["status"])
        for name in ("inputs", "artifacts", "log_paths"):
            known[name] = tuple(known.get(name) or ())
        known["error"] = TaskError.from_json(known.get("error"))
        known["caught"] = TaskError.from_json(known.get("caught"))
        return cls(**known)
