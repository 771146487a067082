"""The production chapter's examples, deployed and triggered on the test bed through the flow files' own
`step-functions` commands, every step a real container (moto's Batch on the test bed's Docker engine).

Written out as the chapter writes them (only the import line and the project's name differ: the project is the
rendered template's), with the outcomes it documents:

- `NamespaceFlow` prints its namespace, and its deployed run is what `namespace("production:…")` +
  `Flow('NamespaceFlow').latest_run` finds from the laptop;
- `FirstFlow` and `SecondFlow` share a `@project`: deployed and triggered on `--branch testbranch`, the second
  reads the first's model through `Flow('FirstFlow').latest_run`;
- `SFNTestFlow` triggered with `--num 2021` runs with that value (its log and its artifacts say so);
- `DailySFNTestFlow`'s `@schedule(daily=True)` becomes an EventBridge Scheduler schedule of the production
  deployment, and a production run of it is read back with `namespace("production:prod")`.

One test in phases (each needs the previous one's image and deployments).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from branchline.namespaces import Names, namespace_for_branch
from tests.e2e import project as proj
from tests.e2e.path import EndToEnd, client
from tests.metaflow_compat.chapter import DAILY_FLOW, FIRST_FLOW, NAMESPACE_FLOW, SECOND_FLOW, SFN_TEST_FLOW
from tests.metaflow_compat.harness import Side, branchline_python
from tests.testbed.aws import wait_execution
from tests.testbed.bed import Testbed

pytestmark = [pytest.mark.docker, pytest.mark.moto, pytest.mark.slow, pytest.mark.timeout(900)]

@pytest.fixture
def bed(tmp_path: Path, moto_server_docker: str, docker_engine: str, local_registry: str, base_image: str,
        testbed: Testbed, monkeypatch: pytest.MonkeyPatch) -> EndToEnd:
    from branchline.aws.session import reset_clients

    reset_clients()
    e2e = EndToEnd(work=tmp_path, endpoint=moto_server_docker, registry=local_registry, base_image=base_image,
                   wheelhouse=testbed.wheelhouse, log=print)
    yield e2e
    from branchline import client as bl

    bl.default_namespace()
    reset_clients()


def _production_settings(project: Path, e2e: EndToEnd) -> str:
    """Production in the same (moto) account as the branches, with the e2e infra's roles, queue and bucket, and its
    own image repository (the release role's, in a real project)."""
    assert e2e.infra is not None
    repository = f"{e2e.repository}-prod"
    settings = {"account_id": "123456789012", "production_account_id": "123456789012",
                "production_states_role_arn": e2e.infra.states_role_arn,
                "production_job_role_arn": e2e.infra.job_role_arn, "scheduler_role_arn": e2e.infra.states_role_arn,
                "production_job_queue": e2e.infra.job_queue, "production_bucket": e2e.infra.bucket,
                "production_image_repository": repository}
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(proj._set_toml_keys(text, "tool.branchline.aws", settings))
    return repository


def _copy_image(image: Any, repository: str) -> str:
    """The built step image, pushed to `repository` too (the release builds its own; a copy is the same bytes)."""
    from branchline.images.publish import connect_docker, push

    engine = connect_docker()
    engine.images.get(f"{image.repository}:{image.tag}").tag(repository, image.tag)
    return f"{repository}@{push(engine, repository, image.tag, None)}"


def _finished(triggered: str, flow: str, namespace: str, project: str) -> tuple[str, dict[str, Any]]:
    """The run id a trigger printed, and its execution once it ended."""
    run_id = re.search(r"\(run-id (\S+)\)", triggered).group(1)  # type: ignore[union-attr]
    machine = Names(project, namespace).state_machine(flow)
    arn = next(m["stateMachineArn"] for m in client("stepfunctions").list_state_machines()["stateMachines"]
               if m["name"] == machine)
    described = wait_execution(f"{arn.replace(':stateMachine:', ':execution:')}:{run_id}", timeout=300)
    return run_id, described


def _log_lines(e2e: EndToEnd, arn: str) -> list[str]:
    from branchline.aws.ops.status import execution_status

    status = execution_status(client, arn)
    jobs = [job for row in status.rows for job in row.job_ids]
    return [line for lines in e2e.job_logs(jobs).values() for line in lines]


def test_the_production_chapter_on_containers(bed: EndToEnd, monkeypatch: pytest.MonkeyPatch) -> None:
    from branchline import client as bl

    project = bed.render()
    bed.prepare()
    name = project.name
    side = Side("branchline", branchline_python(), project)
    for file, source in (("namespaceflow.py", NAMESPACE_FLOW), ("firstflow.py", FIRST_FLOW),
                         ("secondflow.py", SECOND_FLOW), ("sfntest.py", SFN_TEST_FLOW),
                         ("dailysfntest.py", DAILY_FLOW)):
        side.write(file, source.replace("PROJECT", name.replace("-", "_")))
    production_repository = _production_settings(project, bed)
    proj.commit_all(project, "the production chapter's flows")
    built = bed.publish()
    image, production_image = built.reference, _copy_image(built, production_repository)
    monkeypatch.chdir(project)  # the laptop's client reads the project's [tool.branchline]

    # 1. A flow that prints its namespace: deployed for this user, found from the laptop.
    side.run("namespaceflow.py", "step-functions", "create", "--image", image)
    run_id, done = _finished(side.run("namespaceflow.py", "step-functions", "trigger").stdout,
                             "NamespaceFlow", "user-alice", name)
    assert done["status"] == "SUCCEEDED", bed.diagnostics(done["executionArn"])
    assert "my namespace is user-alice" in _log_lines(bed, done["executionArn"])
    bl.namespace("production:user-alice")
    assert bl.Flow("NamespaceFlow").latest_run.id == run_id

    # 2. Two flows of one @project on a test branch: the second reads the first's model.
    branch = namespace_for_branch("testbranch")
    for flow_file in ("firstflow.py", "secondflow.py"):
        side.run(flow_file, "--branch", "testbranch", "step-functions", "create", "--image", image)
    _, first = _finished(side.run("firstflow.py", "--branch", "testbranch", "step-functions", "trigger").stdout,
                         "FirstFlow", branch, name)
    assert first["status"] == "SUCCEEDED", bed.diagnostics(first["executionArn"])
    second_id, second = _finished(
        side.run("secondflow.py", "--branch", "testbranch", "step-functions", "trigger").stdout,
        "SecondFlow", branch, name)
    assert second["status"] == "SUCCEEDED", bed.diagnostics(second["executionArn"])
    assert "model: this is a demo model" in _log_lines(bed, second["executionArn"])
    bl.namespace(f"production:{branch}")
    assert bl.Run(f"SecondFlow/{second_id}")["start"].task.data.model == "this is a demo model"

    # 3. A parameter triggered with another value.
    side.run("sfntest.py", "step-functions", "create", "--image", image)
    num_id, num = _finished(side.run("sfntest.py", "step-functions", "trigger", "--num", "2021").stdout,
                            "SFNTestFlow", "user-alice", name)
    assert num["status"] == "SUCCEEDED", bed.diagnostics(num["executionArn"])
    assert "The number defined as a parameter is 2021" in _log_lines(bed, num["executionArn"])
    bl.namespace("production:user-alice")
    assert bl.Run(f"SFNTestFlow/{num_id}")["start"].task.data.num == 2021
    assert f"run-id {num_id} SUCCEEDED" in side.run("sfntest.py", "step-functions", "list-runs").stdout

    # 4. A scheduled flow: its schedule exists in production only; a production run is read back.
    created = side.run("dailysfntest.py", "--production", "step-functions", "create", "--image",
                       production_image).stdout
    assert "the schedule cron(0 0 * * ? *) in UTC (EventBridge Scheduler)" in created
    schedule = client("scheduler").get_schedule(Name=Names(name, "prod").schedule("DailySFNTestFlow"))
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == ("cron(0 0 * * ? *)", "UTC")
    assert schedule["Target"]["Arn"].endswith(":live")
    daily_id, daily = _finished(side.run("dailysfntest.py", "--production", "step-functions",
                                               "trigger").stdout, "DailySFNTestFlow", "prod", name)
    assert daily["status"] == "SUCCEEDED", bed.diagnostics(daily["executionArn"])
    bl.namespace("production:prod")
    latest = bl.Flow("DailySFNTestFlow").latest_run
    assert latest.id == daily_id and latest.successful and latest["start"].task.data.num == 1
    print("production chapter timings (s): " + ", ".join(f"{k}={v:.1f}" for k, v in bed.timings.items()))
