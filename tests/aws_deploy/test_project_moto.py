"""A real project (flow file → parser → compiler) through `deploy()`, `trigger`, `status` and the CLI, on moto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from branchline.aws.deploy import deploy, rollback_flow, teardown
from branchline.aws.deploy.observe import state_machine, state_machine_arns
from branchline.aws.ops.logs import NoLogs, step_job_ids
from branchline.aws.ops.status import execution_status
from branchline.aws.ops.trigger import start_run, typed_params
from branchline.aws.session import client
from branchline.config import load_config
from branchline.errors import FlowError
from branchline.namespaces import Names
from branchline.runtime.loader import graph_from_file
from tests.aws_deploy.conftest import Infra
from tests.aws_deploy.recording import CallRecorder
from tests.aws_deploy.standins import new_project

pytestmark = pytest.mark.moto

IMAGE = "127.0.0.1:5000/steps@sha256:" + "b" * 64
FLOW_SOURCE = '''
from branchline import FlowSpec, Parameter, schedule, step


@schedule(cron="0 3 * * *")
class TrainFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)
    epochs = Parameter("epochs", default=3)

    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def make_project(root: Path, project: str, aws: Infra, keep_versions: int = 10,
                 production_image_repository: str = IMAGE.split("@")[0]) -> Path:
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "train.py").write_text(FLOW_SOURCE)
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""
        [tool.branchline]
        project = "{project}"
        datastore = "s3://{aws.bucket}/branchline/{project}"

        [tool.branchline.aws]
        states_role_arn = "{aws.states_role_arn}"
        job_role_arn = "{aws.job_role_arn}"
        production_states_role_arn = "{aws.states_role_arn}"
        production_job_role_arn = "{aws.job_role_arn}"
        job_queue = "{aws.job_queue}"
        production_job_queue = "{aws.production_job_queue}"
        keep_versions = {keep_versions}
        production_image_repository = "{production_image_repository}"
    """))
    return root


def test_deploy_a_real_flow_twice_then_rollback_and_teardown(aws: Infra, tmp_path: Path) -> None:
    project = new_project()
    config = load_config(make_project(tmp_path, project, aws))
    first = CallRecorder()
    result = deploy(config, "prod", image=IMAGE, code_package="s3://code/1.tgz", git_sha="one", executor=first)
    assert first.operations.count("batch.register_job_definition") == 3
    assert "scheduler.create_schedule" in first.operations
    alias = result.state_machines["TrainFlow"]
    schedule = client("scheduler").get_schedule(Name=Names(project, "prod").schedule("TrainFlow"))
    assert schedule["Target"]["Arn"] == alias and json.loads(schedule["Target"]["Input"]) == {"params": {}}

    again = CallRecorder()
    deploy(config, "prod", image=IMAGE, code_package="s3://code/1.tgz", git_sha="one", executor=again)
    assert again.calls == []

    deploy(config, "prod", image=IMAGE, code_package="s3://code/2.tgz", git_sha="two")
    arn = alias.rsplit(":", 1)[0]
    assert state_machine(client, arn).aliases["live"] == (f"{arn}:2",)
    planned = rollback_flow(config, "prod", "TrainFlow")
    assert (planned.from_version, planned.to_version) == (2, 1)
    assert state_machine(client, arn).aliases["live"] == (f"{arn}:1",)

    teardown(config, "prod", production=True)
    assert Names(project, "prod").state_machine("TrainFlow") not in state_machine_arns(client)


def test_trigger_starts_an_execution_on_the_live_alias_and_status_reads_it(aws: Infra, tmp_path: Path) -> None:
    project = new_project()
    root = make_project(tmp_path, project, aws)
    config = load_config(root)
    deploy(config, "br-run", image=IMAGE, code_package="s3://code/1.tgz", git_sha="one")
    graph = graph_from_file(root / "flows" / "train.py")
    params = typed_params(graph, {"alpha": "0.25"})
    assert params == {"alpha": 0.25}
    with pytest.raises(FlowError, match="no parameter beta"):
        typed_params(graph, {"beta": "1"})
    with pytest.raises(FlowError, match="not a valid int"):
        typed_params(graph, {"epochs": "many"})

    names = Names(project, "br-run")
    execution = start_run(client, names, "TrainFlow", params, run_id="run-1")
    assert execution.endswith(f":execution:{names.state_machine('TrainFlow')}:run-1")
    described = client("stepfunctions").describe_execution(executionArn=execution)
    assert json.loads(described["input"]) == {"run_id": "run-1", "params": {"alpha": 0.25}}
    for _ in range(300):  # moto runs it in a thread; Batch without Docker succeeds each job at once
        status = execution_status(client, execution)
        if status.status != "RUNNING":
            break
        time.sleep(0.1)
    assert status.status == "SUCCEEDED"
    tasks = [(r.state, r.status, len(r.job_ids)) for r in status.rows if r.kind == "Task"]
    assert tasks == [("start", "SUCCEEDED", 1), ("train", "SUCCEEDED", 1), ("end", "SUCCEEDED", 1)]
    job_ids = step_job_ids(client, execution, "train")
    jobs = client("batch").describe_jobs(jobs=job_ids)["jobs"]
    assert [j["jobName"] for j in jobs] == [names.job_name("TrainFlow", "train", "0")]
    with pytest.raises(NoLogs, match="states seen so far"):
        step_job_ids(client, execution, "nosuchstep")


def _cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "branchline.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_dry_run_prints_the_plan_and_refuses_prod_teardown(aws: Infra, tmp_path: Path) -> None:
    project = new_project()
    root = make_project(tmp_path, project, aws)
    env = dict(os.environ)
    out = _cli(["deploy", "--namespace", "br-cli", "--image", IMAGE, "--code-package", "s3://c/1.tgz", "--dry-run"],
               root, env)
    assert out.returncode == 0, out.stderr
    assert "create_state_machine" in out.stdout and "dry run" in out.stdout
    assert Names(project, "br-cli").state_machine("TrainFlow") not in state_machine_arns(client)

    refused = _cli(["teardown", "--namespace", "prod"], root, env)
    assert refused.returncode == 1
    assert "--production" in refused.stderr and "Traceback" not in refused.stderr

    bad_image = _cli(["deploy", "-n", "br-cli", "--image", "repo:latest", "--code-package", "s3://c/1.tgz"], root, env)
    assert bad_image.returncode == 1 and "pinned by digest" in bad_image.stderr


def test_cli_unreachable_endpoint_is_one_clear_error(aws: Infra, tmp_path: Path) -> None:
    from tests.testbed.procs import free_port

    root = make_project(tmp_path, new_project(), aws)
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    out = _cli(["teardown", "--namespace", "br-gone"], root, env)
    assert out.returncode == 1
    assert "cannot reach http://127.0.0.1:" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) <= 2
