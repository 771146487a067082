"""Faults on the deployed path, every step a real container (moto's Batch on the test bed's Docker engine).

The scenarios are deployed once per session with the real deployer, and their first executions started side
by side (`tests/scale/deployed.py`); each test waits for its own, then checks what a user sees: execution
status and error, the Batch jobs and their attempts, the artifacts read back from S3. Faults come from the
test bed, through job queue tags (tests/testbed/moto_batch.py): a host that dies, an attempt that times out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from branchline.aws.ops.resume import resume_execution
from branchline.client import Run
from tests.scale.deployed import client, diagnostics, env_of, queue_jobs, started_scenarios
from tests.testbed.aws import failure_of, wait_execution
from tests.testbed.bed import Testbed
from tests.testbed.moto_batch import HOST_FAILURE_REASON, TIMEOUT_REASON

pytestmark = [pytest.mark.docker, pytest.mark.moto, pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Started:
    """One scenario: its namespace, first execution, and where its jobs and artifacts are."""

    namespace: str
    execution_arn: str
    queue: str
    datastore: str

    def run(self, pathspec: str) -> Run:
        return Run(pathspec, namespace=self.namespace, datastore=self.datastore)

    def jobs(self, run_id: str, step: str | None = None) -> list[dict[str, Any]]:
        return [j for j in queue_jobs(self.queue) if env_of(j)["BRANCHLINE_RUN_ID"] == run_id
                and env_of(j)["BRANCHLINE_NAMESPACE"] == self.namespace
                and (step is None or env_of(j)["BRANCHLINE_STEP"] == step)]

    def why(self, execution_arn: str | None = None) -> str:
        return f"{failure_of(execution_arn or self.execution_arn)}\n{diagnostics(self.queue)}"


@pytest.fixture
def scenario(request: pytest.FixtureRequest, testbed: Testbed, monkeypatch: pytest.MonkeyPatch) -> Started:
    """The scenario named by the test's `scenario` marker argument, with this test's AWS env on its server."""
    from branchline.aws.session import reset_clients
    from tests.testbed.servers import TEST_CREDENTIALS

    info = started_scenarios(testbed)
    for key, value in {**TEST_CREDENTIALS, "AWS_ENDPOINT_URL": info["endpoint"]}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    reset_clients()
    from tests.scale.deployed import SCENARIOS

    name = request.param
    started = info["scenarios"][name]
    return Started(started["namespace"], started["execution_arn"], info["queues"][SCENARIOS[name].queue],
                   info["datastore"])


def _wait_for(condition: Callable[[], bool], message: Callable[[], str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met in {timeout:.0f} s\n{message()}"
        time.sleep(0.5)


@pytest.mark.parametrize("scenario", ["foreach"], indirect=True)
def test_a_failed_item_fails_its_foreach_and_a_resume_runs_only_that_item(scenario: Started) -> None:
    failed = wait_execution(scenario.execution_arn)
    assert failed["status"] == "FAILED", scenario.why()
    assert failed["error"] == "ForeachFailed.start" and "work" in failed["cause"], scenario.why()
    origin = scenario.run("ResumeForeachFlow/foreach")
    assert origin.info["failed_task"] == "work/0-1: RuntimeError: item 1 fails in the first run"  # the item

    resumed = resume_execution(client, scenario.execution_arn, run_id="foreach-again")
    assert resumed.items == {("start", "0"): 1}
    done = wait_execution(resumed.execution_arn)
    assert done["status"] == "SUCCEEDED", scenario.why(resumed.execution_arn)
    run = scenario.run(f"ResumeForeachFlow/{resumed.run_id}")
    assert run["end"].task.data.result == "V0,V1,V2"
    ran = sorted((env_of(j)["BRANCHLINE_STEP"], env_of(j)["BRANCHLINE_TASK_ID"]) for j in scenario.jobs(resumed.run_id))
    assert ran == [("end", "0"), ("join", "0"), ("work", "0-1")]  # start and items 0, 2 were reused
    work = {task.id: task.metadata for task in run["work"]}
    assert {tid: meta.get("cloned_from") for tid, meta in work.items()} == {
        "0-0": "foreach/work/0-0", "0-1": None, "0-2": "foreach/work/0-2"}
    assert run.info["origin_run_id"] == "foreach"


@pytest.mark.parametrize("scenario", ["hosts"], indirect=True)
def test_a_job_whose_host_dies_is_retried_by_batch_and_the_run_succeeds(scenario: Started) -> None:
    assert wait_execution(scenario.execution_arn)["status"] == "SUCCEEDED", scenario.why()
    jobs = scenario.jobs("hosts")
    assert len(jobs) == 2  # one job per step: the retry happened inside Batch, not in the state machine
    for job in jobs:
        first, _ = job["attempts"]
        assert first["statusReason"] == HOST_FAILURE_REASON and "exitCode" not in first["container"], job
        assert job["status"] == "SUCCEEDED"


@pytest.mark.parametrize("scenario", ["timeouts"], indirect=True)
def test_an_attempt_past_its_timeout_is_retried_by_the_state_machine_not_by_batch(scenario: Started) -> None:
    assert wait_execution(scenario.execution_arn)["status"] == "SUCCEEDED", scenario.why()
    slow = scenario.jobs("timeouts", "slow")
    assert [j["status"] for j in slow] == ["FAILED", "SUCCEEDED"]  # two jobs: the state machine resubmitted
    assert len(slow[0]["attempts"]) == 1 and slow[0]["statusReason"] == TIMEOUT_REASON  # Batch never retries it
    assert [env_of(j)["BRANCHLINE_ATTEMPT"] for j in slow] == ["0", "1"]
    run = scenario.run("TimeoutRetryFlow/timeouts")
    assert run["end"].task.data.result == 1 and run["slow"].task.metadata["attempt"] == 1


@pytest.mark.parametrize("scenario", ["killed"], indirect=True)
def test_catch_records_a_task_killed_in_its_container_through_the_fallback_and_the_flow_goes_on(
    scenario: Started,
) -> None:
    assert wait_execution(scenario.execution_arn)["status"] == "SUCCEEDED", scenario.why()
    dies = scenario.jobs("killed", "dies")
    assert [j["status"] for j in dies] == ["FAILED", "SUCCEEDED"]  # killed, then the fallback
    assert dies[0]["attempts"][-1]["container"]["exitCode"] == 137  # killed: nothing recorded by the task
    assert env_of(dies[1]).get("BRANCHLINE_CATCH_FALLBACK") == "1"
    run = scenario.run("KilledCatchFlow/killed")
    assert run["end"].task.data.caught == "TaskKilled"
    assert "partial" not in run["dies"].task.data  # what the killed attempt set was never stored
    assert run["dies"].task.metadata["caught"]["type"] == "TaskKilled"


@pytest.mark.parametrize("scenario", ["stopped"], indirect=True)
def test_a_run_stopped_by_the_user_is_aborted_and_resumes_from_the_stopped_step(scenario: Started) -> None:
    batch = client("batch")

    def waiting() -> list[str]:
        return [j["jobId"] for j in scenario.jobs("stopped", "wait") if j["status"] == "RUNNING"]

    _wait_for(lambda: bool(waiting()), scenario.why)
    (job,) = waiting()
    client("stepfunctions").stop_execution(executionArn=scenario.execution_arn, cause="stopped by a test")
    assert wait_execution(scenario.execution_arn)["status"] == "ABORTED"
    _wait_for(lambda: batch.describe_jobs(jobs=[job])["jobs"][0]["status"] == "FAILED", scenario.why)

    resumed = resume_execution(client, scenario.execution_arn, run_id="after-stop")
    assert wait_execution(resumed.execution_arn)["status"] == "SUCCEEDED", scenario.why(resumed.execution_arn)
    run = scenario.run("StoppableFlow/after-stop")
    assert run["end"].task.data.result == "from start"
    assert run["start"].task.metadata["cloned_from"] == "stopped/start/0"
