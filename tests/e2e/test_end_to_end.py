"""The real end-to-end path: template → step image → code package → branch namespace → containers → teardown.

One test, in phases, because each phase needs the previous one (and a split would break under xdist). Every
step runs as a real container on the test bed's Docker engine, started by moto's Batch from the image pushed
to the local registry, reading and writing moto's S3. Assertions are on what a user would see: execution
status and history, CloudWatch log lines of each Batch job, the artifacts read back with ``branchline.client``.
Failures carry the execution history and the jobs' logs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from branchline.aws.ops.logs import step_job_ids
from tests.e2e import project as proj
from tests.e2e.path import EndToEnd, client
from tests.testbed.aws import failure_of
from tests.testbed.bed import Testbed

pytestmark = [pytest.mark.docker, pytest.mark.moto, pytest.mark.slow, pytest.mark.timeout(900)]

STEPS = ("start", "square", "join", "validate", "end")


@pytest.fixture
def e2e(
    tmp_path: Path, moto_server_docker: str, docker_engine: str, local_registry: str, base_image: str, testbed: Testbed
) -> EndToEnd:
    from branchline.aws.session import reset_clients

    reset_clients()
    return EndToEnd(
        work=tmp_path,
        endpoint=moto_server_docker,
        registry=local_registry,
        base_image=base_image,
        wheelhouse=testbed.wheelhouse,
        log=print,
    )


def _task_job_ids(e2e: EndToEnd, run_id: str) -> dict[str, list[str]]:
    """Batch job id of every task, by step, as each task recorded it (AWS_BATCH_JOB_ID) in its metadata."""
    run = e2e.run_client(run_id)
    return {step.name: [task.metadata.get("batch_job_id") for task in step.tasks()] for step in run.steps()}


def _assert_succeeded_run(e2e: EndToEnd, execution, marker: str) -> None:
    why = f"\n{e2e.diagnostics(execution.arn)}"
    assert execution.status == "SUCCEEDED", f"execution {execution.status}: {failure_of(execution.arn)}{why}"

    # Artifacts, read back from moto S3 through the user-facing client.
    run = e2e.run_client(execution.run_id)
    assert run.successful, f"run document: {run.info}{why}"
    assert run["start"].task.data.items == [0, 1, 2]
    assert sorted(task.data.value for task in run["square"].tasks()) == [0, 1, 4]
    assert run["join"].task.data.total == 5
    assert run["end"].task.data.marker == marker

    # Every task ran in its own Batch job (the foreach fanned out into three), each a container that logged.
    jobs = _task_job_ids(e2e, execution.run_id)
    assert sorted(jobs) == sorted(STEPS), f"{jobs}{why}"
    assert all(len(ids) == 1 for step, ids in jobs.items() if step != "square"), f"{jobs}{why}"
    assert len(jobs["square"]) == 3 and len(set(jobs["square"])) == 3, f"foreach fan-out: {jobs}{why}"
    every = [job for ids in jobs.values() for job in ids]
    assert all(every), f"a task recorded no AWS_BATCH_JOB_ID: {jobs}{why}"
    for step in ("start", "join", "validate", "end"):  # the job the state machine submitted wrote the artifacts
        assert step_job_ids(client, execution.arn, step) == jobs[step], f"{step}: {jobs}{why}"
    described = {j["jobId"]: j for j in client("batch").describe_jobs(jobs=every)["jobs"]}
    assert {job: described[job]["status"] for job in every} == dict.fromkeys(every, "SUCCEEDED")

    logs = e2e.job_logs(every)
    square_lines = sorted(line for job in jobs["square"] for line in logs[job] if line.startswith("e2e square"))
    assert square_lines == ["e2e square 0 -> 0", "e2e square 1 -> 1", "e2e square 2 -> 4"], f"{logs}{why}"
    assert f"e2e end total=5 marker={marker}" in logs[jobs["end"][0]], f"{logs}{why}"
    start_lines = logs[jobs["start"][0]]
    assert any(line.startswith(f"branchline task {proj.FLOW_CLASS}/{execution.run_id}/start/0") for line in start_lines)


def test_end_to_end_on_containers(e2e: EndToEnd) -> None:
    project = e2e.render()
    assert (project / "Dockerfile").is_file() and (project / ".git").is_dir()
    e2e.prepare()

    # Step image: built and pushed once, referenced by digest.
    cold = e2e.publish("image publish (cold)")
    assert cold.built and cold.reference.startswith(f"{e2e.repository}@sha256:"), cold
    url, uploaded = e2e.upload_code()
    assert uploaded and url.startswith(f"s3://{e2e.infra.bucket}/{e2e.names().s3_prefix()}/code/"), url

    deployed = e2e.deploy()
    assert deployed.executed and deployed.changed, deployed.plan
    batch = client("batch")
    for step in STEPS:
        jobdef = batch.describe_job_definitions(
            jobDefinitionName=e2e.names().job_definition(proj.FLOW_CLASS, step), status="ACTIVE"
        )["jobDefinitions"]
        assert [d["containerProperties"]["image"] for d in jobdef] == [cold.reference], step

    # A run: every step a container, the foreach three of them, artifacts in S3, lines in CloudWatch.
    ok = e2e.run({"count": 3})
    _assert_succeeded_run(e2e, ok, marker="v1")

    # A failing step fails the execution, naming the step; its traceback reaches CloudWatch.
    bad = e2e.run({"count": 3, "fail": True}, phase="execution (failing)")
    assert bad.status == "FAILED", f"{bad.status}\n{e2e.diagnostics(bad.arn)}"
    failure = failure_of(bad.arn)
    assert proj.FAILING_STEP in failure, f"failure does not name {proj.FAILING_STEP!r}: {failure}"
    failed_jobs = _task_job_ids(e2e, bad.run_id)[proj.FAILING_STEP]
    failed_logs = [line for lines in e2e.job_logs(failed_jobs).values() for line in lines]
    assert any("e2e validate refused the run" in line for line in failed_logs), failed_logs
    failed_run = e2e.run_client(bad.run_id)
    assert failed_run.status == "failed", failed_run.info
    assert [step.name for step in failed_run.steps()] == ["validate", "join", "square", "start"], (
        "end ran after a failure"
    )

    # A change to flow code only: no image build, same digest; a new code package; the new code runs.
    proj.write_flow(project, e2e.endpoint, marker="v2")
    proj.commit_all(project, "e2e: flow code change only")
    warm = e2e.publish("image publish (warm)")
    assert not warm.built, "a change to flow code alone rebuilt the step image"
    assert (warm.tag, warm.digest) == (cold.tag, cold.digest)
    url2, uploaded2 = e2e.upload_code()
    assert uploaded2 and url2 != url
    e2e.deploy("deploy (code change)")
    for step in STEPS:
        revisions = batch.describe_job_definitions(
            jobDefinitionName=e2e.names().job_definition(proj.FLOW_CLASS, step), status="ACTIVE"
        )["jobDefinitions"]
        jobdef = max(revisions, key=lambda d: d["revision"])  # older ones stay for rollback
        env = {item["name"]: item["value"] for item in jobdef["containerProperties"]["environment"]}
        assert (jobdef["containerProperties"]["image"], env["BRANCHLINE_CODE_PACKAGE"]) == (cold.reference, url2)
    again = e2e.run({"count": 3}, phase="execution (code change)")
    _assert_succeeded_run(e2e, again, marker="v2")

    # Teardown leaves nothing of the namespace.
    assert e2e.leftovers(), "nothing found before teardown: the leftovers check would prove nothing"
    e2e.teardown()
    assert e2e.leftovers() == []
    print("e2e timings (s): " + ", ".join(f"{k}={v:.1f}" for k, v in e2e.timings.items()))
