"""`python flow.py step-functions create|trigger|list-runs|delete`, run as a user would, against the test bed's moto
server (Batch without Docker: jobs succeed at once; the containers' own behaviour is test_production_chapter.py's).

The commands are the deployer's: the same names and namespaces as `branchline deploy`, Metaflow's token options
explained, and production refused to credentials of the development account before anything is written.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from branchline.namespaces import Names, namespace_for_branch
from tests.e2e.path import client, create_infra
from tests.metaflow_compat.chapter import DAILY_FLOW, SFN_TEST_FLOW
from tests.metaflow_compat.harness import Side, branchline_python, make_side
from tests.testbed.aws import wait_execution

pytestmark = pytest.mark.moto

DIGEST = "sha256:" + "ab" * 32
DEV_ACCOUNT = "123456789012"  # moto's default account: the credentials of these tests
PROD_ACCOUNT = "222222222222"

FAN_FLOW = """
    from metaflow import FlowSpec, step


    class FanFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range(3))
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        FanFlow()
"""

DAILY_IN_PARIS = DAILY_FLOW.replace("@schedule(daily=True)", "@schedule(daily=True, timezone='Europe/Paris')")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture
def sfn(tmp_path: Path, moto_server: str) -> Side:
    """A git project whose [tool.branchline.aws] points at fresh moto infra (dev and prod accounts named)."""
    prefix = f"sfn-{uuid.uuid4().hex[:6]}"
    infra = create_infra(prefix)
    side = make_side("branchline", branchline_python(), tmp_path / prefix)
    (side.root / "pyproject.toml").write_text(f"""[tool.branchline]
project = "{prefix}"

[tool.branchline.aws]
states_role_arn = "{infra.states_role_arn}"
job_role_arn = "{infra.job_role_arn}"
job_queue = "{infra.job_queue}"
bucket = "{infra.bucket}"
region = "us-east-1"
account_id = "{DEV_ACCOUNT}"
production_account_id = "{PROD_ACCOUNT}"
production_states_role_arn = "{infra.states_role_arn}"
production_job_role_arn = "{infra.job_role_arn}"
production_job_queue = "{infra.job_queue}"
image_repository = "127.0.0.1:1/{prefix}-step"
production_image_repository = "127.0.0.1:1/{prefix}-prod"
""")
    side.write("sfntest.py", SFN_TEST_FLOW)
    side.write("dailysfntest.py", DAILY_IN_PARIS)
    side.write("fan.py", FAN_FLOW)
    _git(side.root, "init", "-q")
    _git(side.root, "add", "-A")
    _git(side.root, "commit", "-q", "-m", "flows")
    return side


def _image(side: Side, production: bool = False) -> str:
    return f"127.0.0.1:1/{side.root.name}-{'prod' if production else 'step'}@{DIGEST}"


def _machine(side: Side, namespace: str, flow: str = "SFNTestFlow") -> dict[str, Any] | None:
    name = Names(side.root.name, namespace).state_machine(flow)
    found = [m for m in client("stepfunctions").list_state_machines()["stateMachines"] if m["name"] == name]
    return client("stepfunctions").describe_state_machine(stateMachineArn=found[0]["stateMachineArn"]) if found \
        else None


def _map_concurrency(definition: dict) -> list[int]:
    return [s["MaxConcurrency"] for s in definition["States"].values() if s["Type"] == "Map"]


def test_create_trigger_list_runs_and_delete_a_users_deployment(sfn: Side) -> None:
    created = sfn.run("sfntest.py", "step-functions", "create", "--image", _image(sfn)).stdout
    assert "The namespace of this deployment is production:user-alice" in created
    assert 'namespace("production:user-alice")' in created
    machine = _machine(sfn, "user-alice")
    assert machine is not None, created
    jobdef = client("batch").describe_job_definitions(
        jobDefinitionName=Names(sfn.root.name, "user-alice").job_definition("SFNTestFlow", "start"),
        status="ACTIVE")["jobDefinitions"][0]
    env = {e["name"]: e["value"] for e in jobdef["containerProperties"]["environment"]}
    assert env["BRANCHLINE_NAMESPACE"] == "user-alice" and env["BRANCHLINE_FLOW_FILE"] == "sfntest.py"

    triggered = sfn.run("sfntest.py", "step-functions", "trigger", "--num", "2021").stdout
    run_id = re.search(r"\(run-id (\S+)\)", triggered).group(1)  # type: ignore[union-attr]
    execution = f"{machine['stateMachineArn'].replace(':stateMachine:', ':execution:')}:{run_id}"
    described = wait_execution(execution, timeout=120)
    assert json.loads(described["input"]) == {"run_id": run_id, "params": {"num": 2021}}
    assert described["status"] == "SUCCEEDED"

    listed = sfn.run("sfntest.py", "step-functions", "list-runs").stdout
    assert f"run-id {run_id} SUCCEEDED" in listed
    assert "No runs" in sfn.run("sfntest.py", "step-functions", "list-runs", "--running").stdout

    unknown = sfn.run("sfntest.py", "step-functions", "terminate", "no-such-run", check=False)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr and "no-such-run" in unknown.stderr

    deleted = sfn.run("sfntest.py", "step-functions", "delete").stdout
    assert "delete state machine" in deleted and "deregister job definition" in deleted
    assert _machine(sfn, "user-alice") is None
    code = client("s3").list_objects_v2(Bucket=f"{sfn.root.name}-data",
                                        Prefix=f"branchline/{sfn.root.name}/user-alice/code/")
    assert code.get("KeyCount", 0) == 1, "delete keeps the namespace's data"


def test_max_workers_caps_each_foreach(sfn: Side) -> None:
    sfn.run("fan.py", "step-functions", "create", "--image", _image(sfn), "--max-workers", "7")
    machine = _machine(sfn, "user-alice", "FanFlow")
    assert machine is not None and _map_concurrency(json.loads(machine["definition"])) == [7]


def test_branch_deployments_are_separate_and_tokens_are_explained(sfn: Side) -> None:
    out = sfn.run("sfntest.py", "--branch", "testbranch", "step-functions", "create", "--image", _image(sfn),
                  "--authorize", "sfntestflow-0-xjke").stdout
    assert "branchline has no production tokens: --authorize is accepted and has no effect" in out
    assert _machine(sfn, namespace_for_branch("testbranch")) is not None
    assert _machine(sfn, "user-alice") is None
    # the same branch given on the command, and a trigger in that branch
    sfn.run("sfntest.py", "step-functions", "create", "--branch", "testbranch", "--image", _image(sfn))
    triggered = sfn.run("sfntest.py", "step-functions", "trigger", "--branch", "testbranch").stdout
    assert f"production:{namespace_for_branch('testbranch')}" in triggered


def test_production_from_development_credentials_is_refused_before_anything_is_written(sfn: Side) -> None:
    proc = sfn.run("sfntest.py", "--production", "step-functions", "create", "--image", _image(sfn, True),
                   check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"refusing to deploy prod with credentials of account {DEV_ACCOUNT}" in proc.stderr
    assert _machine(sfn, "prod") is None
    listed = client("s3").list_objects_v2(Bucket=f"{sfn.root.name}-data", Prefix=f"branchline/{sfn.root.name}/prod/")
    assert listed.get("KeyCount", 0) == 0, "the code package was uploaded before the refusal"


def test_a_scheduled_flow_gets_its_schedule_in_production_only(sfn: Side) -> None:
    user = sfn.run("dailysfntest.py", "step-functions", "create", "--image", _image(sfn)).stdout
    assert "@schedule runs only in production" in user
    assert not client("scheduler").list_schedules().get("Schedules") or all(
        not s["Name"].startswith(sfn.root.name) for s in client("scheduler").list_schedules()["Schedules"])
    # production, planned from an account that may deploy it (single-account settings)
    text = (sfn.root / "pyproject.toml").read_text().replace(f'production_account_id = "{PROD_ACCOUNT}"\n', "")
    (sfn.root / "pyproject.toml").write_text(text)
    planned = sfn.run("dailysfntest.py", "--production", "step-functions", "create", "--image", _image(sfn, True),
                      "--dry-run").stdout
    assert "create schedule" in planned and "cron(0 0 * * ? *) Europe/Paris" in planned
    assert "the schedule cron(0 0 * * ? *) in Europe/Paris (EventBridge Scheduler)" in planned
