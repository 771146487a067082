"""Fill moto's Batch gaps the fault tests need, and let a test inject faults (test bed only, in the moto server).

What moto 5.2 lacks, filled as AWS documents it:

- **Retries.** moto runs one attempt and ignores `retryStrategy`. Here a failed attempt is judged by Batch's
  rules (`tests.testbed.batch_retry`); on RETRY the job stays RUNNING and the next attempt starts a new
  container, with `AWS_BATCH_JOB_ATTEMPT` set as Batch sets it. Each attempt is listed in `attempts` with its
  `statusReason` and exit code; the job's `statusReason` is the last attempt's.
- **Error names in Step Functions.** moto's Batch integration names every Batch API error `Batch.<code>`;
  AWS reports the errors the Batch SDK does not model (throttling among them) as `Batch.AWSBatchException`,
  the name a state machine retries. Here an error other than ClientException/ServerException gets that name
  (its real code stays in the cause).
- **A stopped execution's job.** When an execution is stopped while a `batch:submitJob.sync` Task waits on its
  job, Step Functions terminates the job (which is why the states role needs `batch:TerminateJob`); moto just
  stops polling and the container runs on. Here the job is terminated.
- **DescribeJobs under load.** moto iterates its job table while other threads (a wide Map's children) submit
  jobs into it: `dictionary changed size during iteration`, which a `.sync` Task's poller turns into a failed
  item. Here DescribeJobs reads a copy of the table (copied in one step), and jobs asked for by id directly.

Faults a test asks for, through tags on the job queue (so tests sharing one server do not see each other's):

- `testbed:host-failures` = N: the first N attempts of every job submitted to the queue lose their host: once
  the container runs, it is killed and the attempt ends with `Host EC2 (instance i-…) terminated.` and no exit
  code, as a reclaimed Spot instance does (Batch with Docker only).
- `testbed:throttle-submits` = N: the queue's first N SubmitJob calls are refused with HTTP 429
  `TooManyRequestsException`, as Batch throttles SubmitJob beyond 50 calls a second.
- `testbed:fail-jobs-named` = TEXT: in docker-less Batch (where every job succeeds at once), a job whose name
  contains TEXT fails instead, exit code 1: a failed step without running a container.
- `testbed:attempt-seconds` = S: an attempt whose job definition allows Batch's least, 60 seconds, times out
  after S seconds instead: a test sees a timed-out attempt without waiting a minute, and the other steps keep
  their limits (Batch with Docker only).

Read to write this (not copied): moto's `moto/batch/models.py` (Job.run, _mark_stopped, submit_job),
`moto/batch_simple/models.py`, `moto/stepfunctions/parser/asl/component/state/exec/state_task/service/
state_task_service_batch.py`, and the AWS Batch and Step Functions documentation on retries and errors.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

from tests.testbed.batch_retry import RETRY, decide

HOST_FAILURES_TAG = "testbed:host-failures"
THROTTLE_TAG = "testbed:throttle-submits"
ATTEMPT_SECONDS_TAG = "testbed:attempt-seconds"
FAIL_NAMED_TAG = "testbed:fail-jobs-named"
BATCH_LEAST_TIMEOUT = 60
HOST_FAILURE_REASON = "Host EC2 (instance i-0b1a2c3d4e5f60789) terminated."
USER_FAILURE_REASON = "Essential container in task exited"
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
MODELED_ERRORS = ("ClientException", "ServerException")
_FLAG = "_branchline_batch_shim"
_throttled: Counter[str] = Counter()
_lock = threading.Lock()


def _queue_tags(job_or_backend: Any, queue: Any) -> dict[str, str]:
    backend = getattr(job_or_backend, "backend", job_or_backend)
    return dict(backend.tagger.get_tag_dict_for_resource(queue.arn))


def _queue_tag(job_or_backend: Any, queue: Any, key: str) -> int:
    try:
        return int(_queue_tags(job_or_backend, queue).get(key, 0))
    except (TypeError, ValueError):
        return 0


def _kill_when_running(job: Any, attempt: int) -> None:
    """The host goes away: wait for this attempt's container to run, then kill it."""
    name = f"{job.job_name}-{job.job_id.replace(':', '-')}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and job._bl_attempt == attempt and not job.job_stopped:
        for container in job.docker_client.containers.list(filters={"name": name}):
            if container.status == "running":
                job._bl_host_failure = True
                container.kill()
                return
        time.sleep(0.2)


def _failure(job: Any) -> dict[str, Any]:
    if job._bl_host_failure:
        return {"exitCode": None, "reason": "", "statusReason": HOST_FAILURE_REASON}
    limit = job._get_attempt_duration()
    if limit and (datetime.now() - job.job_started_at).total_seconds() >= limit:
        return {"exitCode": None, "reason": "", "statusReason": TIMEOUT_REASON, "timeout": True}
    return {"exitCode": job.exit_code, "reason": "", "statusReason": USER_FAILURE_REASON}


def apply() -> None:
    """Install the retry loop, the fault injection and the error naming (idempotent)."""
    from moto.batch import models
    from moto.batch_simple import models as simple
    from moto.core.exceptions import AWSError

    job_cls = models.Job
    if getattr(job_cls, _FLAG, False):
        return

    class TooManyRequestsException(AWSError):
        TYPE = "TooManyRequestsException"
        STATUS = 429

    original_run = job_cls.run
    original_mark_stopped = job_cls._mark_stopped
    original_property = job_cls._get_container_property
    original_duration = job_cls._get_attempt_duration

    def attempt_duration(self: Any) -> int | None:
        limit = original_duration(self)
        quick = _queue_tag(self, self.job_queue, ATTEMPT_SECONDS_TAG)
        return quick if quick and limit == BATCH_LEAST_TIMEOUT else limit

    def run(self: Any) -> None:
        self._bl_attempt = 0
        while True:
            self._bl_attempt += 1
            self._bl_retry = self._bl_over = self._bl_host_failure = False
            self.exit_code = None
            if self._bl_attempt <= _queue_tag(self, self.job_queue, HOST_FAILURES_TAG):
                threading.Thread(target=_kill_when_running, args=(self, self._bl_attempt), daemon=True).start()
            original_run(self)
            if not self._bl_retry:
                return

    def mark_stopped(self: Any, success: bool = True) -> None:
        if getattr(self, "_bl_over", False):
            return  # this attempt was already judged (moto marks success after the loop that failed)
        if success or self.stop or not hasattr(self, "_bl_attempt"):
            original_mark_stopped(self, success)
            return
        failure = _failure(self)
        self._bl_over = True
        if self.latest_attempt is not None:
            self.latest_attempt["statusReason"] = failure["statusReason"]
            if failure["exitCode"] is not None:
                self.latest_attempt["container"]["exitCode"] = failure["exitCode"]
        retry = decide(self.job_definition.retry_strategy, failure, self._bl_attempt) == RETRY
        if retry and not failure.get("timeout"):  # Batch never retries an attempt that ran past its timeout
            self._bl_retry = True  # still RUNNING: the poller of a .sync Task waits for the next attempt
            if self.latest_attempt is not None:
                self.latest_attempt["stoppedAt"] = int(datetime.now().timestamp() * 1000)
            return
        self.job_stopped_reason = failure["statusReason"]
        original_mark_stopped(self, False)

    def container_property(self: Any, p: str, default: Any) -> Any:
        value = original_property(self, p, default)
        if p == "environment" and hasattr(self, "_bl_attempt"):
            value = [e for e in value if e["name"] != "AWS_BATCH_JOB_ATTEMPT"]
            value.append({"name": "AWS_BATCH_JOB_ATTEMPT", "value": str(self._bl_attempt)})
        return value

    job_cls.run = run
    job_cls._get_attempt_duration = attempt_duration
    job_cls._mark_stopped = mark_stopped
    job_cls._get_container_property = container_property

    def throttling(original: Any) -> Any:
        def submit_job(self: Any, job_name: str, job_def_id: str, job_queue: str, *args: Any, **kwargs: Any) -> Any:
            queue = self.get_job_queue(job_queue)
            if queue is not None:
                with _lock:
                    if _throttled[queue.arn] < _queue_tag(self, queue, THROTTLE_TAG):
                        _throttled[queue.arn] += 1
                        raise TooManyRequestsException("Too Many Requests (testbed: throttled on purpose)")
            return original(self, job_name, job_def_id, job_queue, *args, **kwargs)

        return submit_job

    def describe_jobs(self: Any, jobs: list[str] | None) -> list[dict[str, Any]]:
        table = dict(self._jobs)  # one C-level copy: no thread adds a job half-way through it
        if jobs and all(job_id in table for job_id in jobs):
            return [table[job_id].describe() for job_id in dict.fromkeys(jobs)]
        wanted = set(jobs or ())
        return [job.describe() for key, job in table.items() if not wanted or key in wanted or job.arn in wanted]

    models.BatchBackend.describe_jobs = describe_jobs
    models.BatchBackend.submit_job = throttling(models.BatchBackend.submit_job)
    simple.BatchSimpleBackend.submit_job = throttling(simple.BatchSimpleBackend.submit_job)
    original_finish = simple.BatchSimpleBackend._mark_job_as_finished

    def mark_job_as_finished(self: Any, include_start_attempt: bool, job: Any) -> None:
        named = _queue_tags(self, job.job_queue).get(FAIL_NAMED_TAG)
        if not named or named not in job.job_name:
            original_finish(self, include_start_attempt, job)
            return
        self.backend._jobs[job.job_id] = job
        job.job_started_at = datetime.now()
        job.log_stream_name = job._stream_name
        if include_start_attempt:
            job._start_attempt()
        job.exit_code, job.job_stopped_reason = 1, USER_FAILURE_REASON
        original_mark_stopped(job, False)

    simple.BatchSimpleBackend._mark_job_as_finished = mark_job_as_finished
    _step_functions_batch()
    setattr(job_cls, _FLAG, True)


def _step_functions_batch() -> None:
    """The Step Functions side of Batch: AWS's error names, a stopped execution's job terminated."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_batch
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    service = state_task_service_batch.StateTaskServiceBatch
    original = service._from_error
    original_build, original_sync = service._build_sync_resolver, service._eval_sync

    def build_sync_resolver(self: Any, env: Any, resource_runtime_part: Any, *args: Any, **kwargs: Any) -> Any:
        job_id = env.stack[-1].get("JobId")  # the SubmitJob output the original is about to read
        resolver = original_build(self, env, resource_runtime_part, *args, **kwargs)
        resolver._bl_job = (job_id, resource_runtime_part.region)
        return resolver

    def eval_sync(self: Any, env: Any, sync_resolver: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_sync(self, env, sync_resolver, *args, **kwargs)
        job_id, region = getattr(sync_resolver, "_bl_job", (None, None))
        if job_id and not env.is_running():  # the execution was stopped while its job ran
            boto_client_for(region=region, service="batch").terminate_job(
                jobId=job_id, reason="the Step Functions execution was stopped")
        return result

    service._build_sync_resolver = build_sync_resolver
    service._eval_sync = eval_sync

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError) and ex.response.get("Error", {}).get("Code") not in MODELED_ERRORS:
            response = copy.deepcopy(ex.response)
            error = response["Error"]
            error["Message"] = f"{error.get('Code')}: {error.get('Message', '')}"
            error["Code"] = "AWSBatchException"
            ex = ClientError(response, ex.operation_name)
        return original(self, env, ex)

    service._from_error = from_error
