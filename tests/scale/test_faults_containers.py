"""Faults on the deployed path, every step a real container (moto's Batch on the test bed's Docker engine).

One deployment per test module (per xdist worker): the session's step image, the real deployer, one job queue
per fault the test bed injects through queue tags (tests/testbed/moto_batch.py). Assertions are on what a
user sees: execution status and error, the Batch jobs and their attempts, the artifacts read back from S3.
"""

from __future__ import annotations

import pytest

from branchline.aws.ops.resume import resume_execution
from branchline.aws.ops.trigger import start_run
from branchline.client import Run
from tests.scale.deployed import Deployment, client, diagnostics, env_of, queue_jobs, wait
from tests.scale.stepimage import step_image
from tests.testbed.aws import failure_of
from tests.testbed.bed import Testbed
from tests.testbed.moto_batch import HOST_FAILURE_REASON, HOST_FAILURES_TAG

pytestmark = [pytest.mark.docker, pytest.mark.moto, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def deployment(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    import os

    from branchline.aws.session import reset_clients
    from tests.testbed.servers import TEST_CREDENTIALS

    endpoint = testbed.moto(docker=True)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {**TEST_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        reset_clients()
        found = Deployment(endpoint, step_image(testbed), tmp_path_factory.mktemp("scale-project"))
        found.create_infra({"plain": {}, "hosts": {HOST_FAILURES_TAG: "1"}})
        assert os.environ["AWS_ENDPOINT_URL"] == endpoint
        yield found
    reset_clients()


@pytest.fixture
def aws(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    from branchline.aws.session import reset_clients
    from tests.testbed.servers import TEST_CREDENTIALS

    for key, value in {**TEST_CREDENTIALS, "AWS_ENDPOINT_URL": deployment.endpoint}.items():
        monkeypatch.setenv(key, value)
    reset_clients()
    return deployment


def test_a_failed_item_fails_its_foreach_and_a_resume_runs_only_that_item(aws: Deployment) -> None:
    names = aws.deploy("plain", ["resume_foreach_flow"])
    first = start_run(client, names, "ResumeForeachFlow", {"fail_item": 1}, run_id="first")
    failed = wait(first)
    why = f"{failure_of(first)}\n{diagnostics(aws.queues['plain'])}"
    assert failed["status"] == "FAILED", why
    assert failed["error"] == "ForeachFailed.start" and "work" in failed["cause"], why
    origin = Run("ResumeForeachFlow/first", namespace=names.namespace, datastore=aws.datastore())
    assert origin.info["failed_task"] == "work/0-1: RuntimeError: item 1 fails in the first run"  # the item

    resumed = resume_execution(client, first, run_id="second")
    assert resumed.items == {("start", "0"): 1}
    done = wait(resumed.execution_arn)
    assert done["status"] == "SUCCEEDED", failure_of(resumed.execution_arn)

    run = Run(f"ResumeForeachFlow/{resumed.run_id}", namespace=names.namespace, datastore=aws.datastore())
    assert run["end"].task.data.result == "V0,V1,V2"
    ran = [(env_of(j)["BRANCHLINE_STEP"], env_of(j)["BRANCHLINE_TASK_ID"]) for j in queue_jobs(aws.queues["plain"])
           if env_of(j)["BRANCHLINE_RUN_ID"] == resumed.run_id]
    assert sorted(ran) == [("end", "0"), ("join", "0"), ("work", "0-1")]  # start and items 0, 2 were reused
    work = {task.id: task.metadata for task in run["work"]}
    assert {tid: meta.get("cloned_from") for tid, meta in work.items()} == {
        "0-0": "first/work/0-0", "0-1": None, "0-2": "first/work/0-2"}


def test_a_job_whose_host_dies_is_retried_by_batch_and_the_run_succeeds(aws: Deployment) -> None:
    names = aws.deploy("hosts", ["parameters_flow"])
    execution = start_run(client, names, "ParametersFlow", {}, run_id="hosts")
    done = wait(execution)
    assert done["status"] == "SUCCEEDED", failure_of(execution)
    jobs = queue_jobs(aws.queues["hosts"])
    assert len(jobs) == 2  # one job per step: the retry happened inside Batch, not in the state machine
    for job in jobs:
        attempts = job["attempts"]
        assert len(attempts) == 2, job
        assert attempts[0]["statusReason"] == HOST_FAILURE_REASON
        assert "exitCode" not in attempts[0]["container"]
        assert job["status"] == "SUCCEEDED"


def test_catch_records_a_task_killed_in_its_container_through_the_fallback_and_the_flow_goes_on(
    aws: Deployment,
) -> None:
    names = aws.deploy("plain", ["killed_catch_flow"])
    execution = start_run(client, names, "KilledCatchFlow", {}, run_id="killed")
    done = wait(execution)
    assert done["status"] == "SUCCEEDED", f"{failure_of(execution)}\n{diagnostics(aws.queues['plain'])}"
    jobs = [j for j in queue_jobs(aws.queues["plain"]) if env_of(j)["BRANCHLINE_RUN_ID"] == "killed"]
    dies = [j for j in jobs if env_of(j)["BRANCHLINE_STEP"] == "dies"]
    assert [j["status"] for j in dies] == ["FAILED", "SUCCEEDED"]  # killed, then the fallback
    assert dies[0]["attempts"][-1]["container"]["exitCode"] == 137  # killed: nothing recorded by the task
    assert env_of(dies[1]).get("BRANCHLINE_CATCH_FALLBACK") == "1"
    run = Run("KilledCatchFlow/killed", namespace=names.namespace, datastore=aws.datastore())
    assert run["end"].task.data.caught == "TaskKilled"
    assert "partial" not in run["dies"].task.data  # what the killed attempt set was never stored
    assert run["dies"].task.metadata["caught"]["type"] == "TaskKilled"


def test_a_run_stopped_by_the_user_is_aborted_and_resumes_from_the_stopped_step(aws: Deployment) -> None:
    names = aws.deploy("plain", ["stoppable_flow"])
    execution = start_run(client, names, "StoppableFlow", {}, run_id="stopped")
    waiting = _job_of(aws, "stopped", "wait")
    client("stepfunctions").stop_execution(executionArn=execution, error="Stopped", cause="stopped by a test")
    assert wait(execution)["status"] == "ABORTED"
    _wait_for(lambda: client("batch").describe_jobs(jobs=[waiting])["jobs"][0]["status"] in ("FAILED", "SUCCEEDED"))
    stopped = client("batch").describe_jobs(jobs=[waiting])["jobs"][0]
    assert stopped["status"] == "FAILED", "the running job of a stopped execution must not go on"

    resumed = resume_execution(client, execution, run_id="after-stop")
    assert wait(resumed.execution_arn)["status"] == "SUCCEEDED", failure_of(resumed.execution_arn)
    run = Run("StoppableFlow/after-stop", namespace=names.namespace, datastore=aws.datastore())
    assert run["end"].task.data.result == "from start"
    assert run["start"].task.metadata["cloned_from"] == "stopped/start/0"


def _wait_for(condition, timeout: float = 120, message=lambda: "") -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met in time\n{message()}"
        time.sleep(0.5)


def _job_of(aws: Deployment, run_id: str, step: str) -> str:
    """The id of the RUNNING Batch job of `step` in run `run_id` (waits for it)."""
    found: list[str] = []

    def running() -> bool:
        found[:] = [j["jobId"] for j in queue_jobs(aws.queues["plain"])
                    if env_of(j)["BRANCHLINE_RUN_ID"] == run_id and env_of(j)["BRANCHLINE_STEP"] == step
                    and j["status"] == "RUNNING"]
        return bool(found)

    _wait_for(running, message=lambda: diagnostics(aws.queues["plain"]))
    return found[0]
