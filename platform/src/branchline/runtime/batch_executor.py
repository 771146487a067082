"""The Batch side of the hybrid scheduler: one AWS Batch job per attempt of a task of a `@batch` step.

The local scheduler (`runtime/local.py`) decides what runs when, retries and times out; this module submits
the jobs (at most `SUBMIT_PER_SECOND`, backing off when Batch throttles), follows their states for the live
display, streams their CloudWatch lines with the `[step/task]` prefix, explains a job that stays RUNNABLE, and
terminates what it started when the run stops (a failure elsewhere, Ctrl-C).

boto3 is reached only through the client factory it is given: a run without `@batch` never imports it.
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from branchline.aws.compile.batch import EXIT_OTHERWISE, HOST_FAILURE_ATTEMPTS, RETRY_ON_HOST_FAILURE
from branchline.aws.session import ClientFactory
from branchline.runtime.entrypoint import TaskSpec
from branchline.runtime.placement import Placement, placement_problem
from branchline.runtime.remote import Ended

SUBMIT_PER_SECOND = 50
"""AWS Batch's SubmitJob rate limit per account and region."""
BACKOFF_CAP_S = 20.0
LOG_GROUP = "/aws/batch/job"
RUNNABLE_PATIENCE_S = 300.0
"""How long a job may wait for capacity before the run looks at why (real queues scale up within minutes)."""
ENDED = ("SUCCEEDED", "FAILED")
SUBMIT_RETRY = {"attempts": HOST_FAILURE_ATTEMPTS, "evaluateOnExit": [RETRY_ON_HOST_FAILURE, EXIT_OTHERWISE]}
"""Each attempt is its own job (the scheduler counts @retry attempts): Batch retries only a lost host."""
_THROTTLED = ("TooManyRequestsException", "ThrottlingException", "Throttling")


class BatchStep(NamedTuple):
    """Where one step's jobs go: its job definition (ARN), queue, and what it asks for (for messages)."""

    job_definition: str
    queue: str
    job_name: Callable[[str], str]
    """task id → the job's name"""
    vcpus: float
    memory: int
    gpus: int

    def asks(self) -> str:
        gpus = f", {self.gpus} GPU" if self.gpus else ""
        return f"{self.vcpus:g} vCPU, {self.memory} MiB memory{gpus}"


class TokenBucket:
    """At most `rate` takes per second, `rate` at once; `pause` holds every take (throttled)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.clock = rate, clock
        self.tokens, self.stamp, self.paused_until = rate, clock(), 0.0

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if now < self.paused_until or self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)


@dataclass
class _Job:
    spec: TaskSpec
    job_id: str
    status: str = "SUBMITTED"
    since: float = field(default_factory=time.monotonic)
    log_stream: str | None = None
    log_token: str | None = None
    warned: bool = False
    terminating: bool = False


class BatchTasks:
    """A `runtime.remote.RemoteTasks` over AWS Batch."""

    def __init__(
        self,
        steps: Mapping[str, BatchStep],
        environment: Mapping[str, str],
        clients: ClientFactory,
        reporter: Any,
        *,
        poll_interval: float = 1.0,
        runnable_patience: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.steps = dict(steps)
        self.environment = dict(environment)
        self.clients = clients
        self.reporter = reporter
        self.poll_interval = poll_interval
        if runnable_patience is None:
            runnable_patience = float(os.environ.get("BRANCHLINE_BATCH_RUNNABLE_PATIENCE") or RUNNABLE_PATIENCE_S)
        self.runnable_patience = runnable_patience
        self.clock = clock
        self.bucket = TokenBucket(SUBMIT_PER_SECOND, clock)
        self.backoff = 0.5
        self._pending: deque[TaskSpec] = deque()
        self._jobs: dict[str, _Job] = {}
        self._ended: list[Ended] = []
        self._last_poll = 0.0
        self.started: list[str] = []
        """every job id submitted (for tests and the run's summary)"""

    # ----- RemoteTasks
    def takes(self, step: str) -> bool:
        return step in self.steps

    def launch(self, spec: TaskSpec) -> None:
        self._pending.append(spec)
        self._submit_pending()

    def poll(self) -> list[Ended]:
        self._submit_pending()
        now = self.clock()
        if self._jobs and now - self._last_poll >= self.poll_interval:
            self._last_poll = now
            self._describe()
        ended, self._ended = self._ended, []
        return ended

    def terminate(self, spec: TaskSpec, reason: str) -> None:
        for job in list(self._jobs.values()):
            if job.spec.step == spec.step and job.spec.task_id == spec.task_id:
                self._terminate(job, reason)
        self._pending = deque(p for p in self._pending if (p.step, p.task_id) != (spec.step, spec.task_id))

    def terminate_all(self, reason: str) -> None:
        self._pending.clear()
        for job in list(self._jobs.values()):
            self._terminate(job, reason)

    # ----- submission
    def _overrides(self, spec: TaskSpec) -> dict[str, Any]:
        env = {
            **self.environment,
            "BRANCHLINE_RUN_ID": spec.run_id,
            "BRANCHLINE_TASK_ID": spec.task_id,
            "BRANCHLINE_ATTEMPT": str(spec.attempt),
            "BRANCHLINE_MAX_ATTEMPTS": str(spec.max_attempts),
        }
        if spec.origin_run_id:
            env["BRANCHLINE_ORIGIN_RUN_ID"] = spec.origin_run_id
        return {"environment": [{"name": k, "value": v} for k, v in sorted(env.items())]}

    def _submit_pending(self) -> None:
        batch = None
        while self._pending and self.bucket.take():
            spec = self._pending[0]
            step = self.steps[spec.step]
            batch = batch or self.clients("batch")
            try:
                job_id = batch.submit_job(
                    jobName=step.job_name(f"{spec.task_id}-a{spec.attempt}"),
                    jobQueue=step.queue,
                    jobDefinition=step.job_definition,
                    containerOverrides=self._overrides(spec),
                    retryStrategy=SUBMIT_RETRY,
                )["jobId"]
            except Exception as exc:  # botocore.exceptions.ClientError, without importing botocore here
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
                if code not in _THROTTLED:
                    raise
                self.bucket.pause(random.uniform(0, self.backoff))  # full jitter
                self.backoff = min(BACKOFF_CAP_S, self.backoff * 2)
                return
            self.backoff = 0.5
            self._pending.popleft()
            self._jobs[job_id] = _Job(spec, job_id, since=self.clock())
            self.started.append(job_id)
            self.reporter.remote_state(spec.step, spec.task_id, "SUBMITTED", job_id)

    # ----- following
    def _describe(self) -> None:
        batch = self.clients("batch")
        ids = list(self._jobs)
        for start in range(0, len(ids), 100):
            for described in batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]:
                job = self._jobs.get(described["jobId"])
                if job is not None:
                    self._update(job, described)

    def _update(self, job: _Job, described: dict[str, Any]) -> None:
        status = described["status"]
        if status != job.status:
            job.status, job.since = status, self.clock()
            if status not in ENDED:
                self.reporter.remote_state(job.spec.step, job.spec.task_id, status, job.job_id)
        stream = (described.get("container") or {}).get("logStreamName")
        if stream:
            job.log_stream = stream
            self._stream_logs(job)
        if status in ENDED:
            del self._jobs[job.job_id]
            reason = None if status == "SUCCEEDED" else self._failure(job, described)
            self._ended.append(Ended(job.spec, 0 if status == "SUCCEEDED" else 1, reason))
        elif status == "RUNNABLE" and self.clock() - job.since >= self.runnable_patience and not job.warned:
            self._runnable_too_long(job)

    def _failure(self, job: _Job, described: dict[str, Any]) -> str:
        code = (described.get("container") or {}).get("exitCode")
        why = described.get("statusReason") or "no reason given"
        return f"Batch job {job.job_id} failed ({why}{f', exit code {code}' if code is not None else ''})"

    def _stream_logs(self, job: _Job) -> None:
        logs = self.clients("logs")
        while True:
            kwargs: dict[str, Any] = {"logGroupName": LOG_GROUP, "logStreamName": job.log_stream,
                                      "startFromHead": True}  # fmt: skip
            if job.log_token:
                kwargs["nextToken"] = job.log_token
            try:
                page = logs.get_log_events(**kwargs)
            except Exception as exc:  # the stream appears only once the container has written
                if getattr(exc, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return
                raise
            lines = [event["message"] for event in page.get("events", [])]
            token = page.get("nextForwardToken")
            if lines:
                self.reporter.output(job.spec.step, job.spec.task_id, "\n".join(lines))
            if not lines or token == job.log_token:
                job.log_token = token or job.log_token
                return
            job.log_token = token

    def _runnable_too_long(self, job: _Job) -> None:
        job.warned = True
        step = self.steps[job.spec.step]
        waited = self.clock() - job.since
        found: Placement = placement_problem(self.clients, step.queue, step.vcpus, step.memory, step.gpus)
        head = (
            f"step {job.spec.step} task {job.spec.task_id}: Batch job {job.job_id} has been RUNNABLE for "
            f"{waited:.0f} s in queue {step.queue}; it asks for {step.asks()}"
        )
        if not found.never:
            self.reporter.warn(f"{head}. {found.message}")
            return
        message = f"{head}, which {found.message}"
        self._terminate(job, "branchline: the job can never be placed")
        del self._jobs[job.job_id]
        self._ended.append(Ended(job.spec, 1, message))

    def _terminate(self, job: _Job, reason: str) -> None:
        """Once per job: the scheduler asks again on every turn until the job has ended."""
        if job.terminating:
            return
        job.terminating = True
        try:
            self.clients("batch").terminate_job(jobId=job.job_id, reason=reason[:250])
        except Exception as exc:  # stopping what we can matters more than one failed call
            self.reporter.warn(f"could not terminate Batch job {job.job_id}: {exc}")
