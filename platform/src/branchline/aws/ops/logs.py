"""CloudWatch logs of a step's Batch jobs: history → job ids → `describe_jobs` → log streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from branchline.aws.ops.status import execution_status
from branchline.aws.session import ClientFactory
from branchline.errors import BranchlineError

LOG_GROUP = "/aws/batch/job"


class NoLogs(BranchlineError):
    """No job of that step in that run (yet)."""


def step_job_ids(clients: ClientFactory, execution_arn: str, step: str) -> list[str]:
    """Batch job ids of every task of `step` (foreach items included) in this execution."""
    status = execution_status(clients, execution_arn)
    rows = status.rows + [row for child in status.children for row in child.rows]
    states = sorted({r.state for r in rows})
    ids = [job for row in rows if row.state == step for job in row.job_ids]
    if not ids:
        raise NoLogs(
            f"no Batch job of step {step!r} in {execution_arn.rsplit(':', 1)[-1]}",
            hint=f"states seen so far: {', '.join(states) or '(none yet)'}",
        )
    return ids


def log_streams(clients: ClientFactory, job_ids: list[str]) -> list[tuple[str, str]]:
    """(job id, log stream) of every attempt of the jobs, oldest first."""
    streams: list[tuple[str, str]] = []
    batch = clients("batch")
    for start in range(0, len(job_ids), 100):
        for job in batch.describe_jobs(jobs=job_ids[start : start + 100]).get("jobs", []):
            names = [a.get("container", {}).get("logStreamName") for a in job.get("attempts", [])]
            names.append(job.get("container", {}).get("logStreamName"))
            for name in dict.fromkeys(n for n in names if n):
                streams.append((job["jobId"], name))
    return streams


def log_lines(clients: ClientFactory, stream: str, group: str = LOG_GROUP) -> Iterator[str]:
    """Every line of one stream, following `nextForwardToken` until it stops moving."""
    logs = clients("logs")
    token = None
    while True:
        params: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            params["nextToken"] = token
        try:
            page = logs.get_log_events(**params)
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException":
                return
            raise
        for event in page.get("events", []):
            yield str(event.get("message", ""))
        new = page.get("nextForwardToken")
        if not new or new == token:
            return
        token = new
