"""What the local scheduler needs from a place that runs some of its tasks elsewhere (AWS Batch).

The scheduler stays the one owner of the DAG, retries, timeouts, `@catch` and resume; a `RemoteTasks`
only starts one attempt of a task, says when it ended, and stops what it started. Each attempt writes
its own record in the (shared, S3) datastore, exactly as a local worker does.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from branchline.runtime.entrypoint import TaskSpec


class Ended(NamedTuple):
    """One remote attempt that is over: exit code 0 means the task's container exited cleanly."""

    spec: TaskSpec
    code: int
    reason: str | None = None
    """why it ended when the task could not say so itself (terminated, never placed, image not pulled)"""


class RemoteTasks(Protocol):
    def takes(self, step: str) -> bool:
        """Whether tasks of `step` run here rather than in a local worker."""

    def launch(self, spec: TaskSpec) -> None:
        """Start one attempt (may queue it behind a submission rate limit)."""

    def poll(self) -> list[Ended]:
        """Attempts that ended since the last call (cheap to call often: rate-limits itself)."""

    def terminate(self, spec: TaskSpec, reason: str) -> None:
        """Stop one attempt (its `@timeout` passed)."""

    def terminate_all(self, reason: str) -> None:
        """Stop everything started and not yet ended (a failure elsewhere, Ctrl-C)."""
