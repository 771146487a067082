"""`branchline resume --execution` without containers (docker-less Batch; a queue tag makes one step fail):
what it refuses, production's account, and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from branchline.aws.deploy.settings import WrongAccountError, aws_settings
from branchline.aws.ops.resume import ResumeError, resume_execution
from branchline.aws.session import client
from branchline.config import Config, load_config
from branchline.namespaces import Names
from tests.aws_deploy.conftest import Infra
from tests.scale.projects import DEFAULT_ACCOUNT, bucket_of, deployed_run, queued_project
from tests.testbed.aws import wait_execution
from tests.testbed.moto_batch import FAIL_NAMED_TAG

pytestmark = pytest.mark.moto


@pytest.fixture
def project(aws: Infra, tmp_path: Path) -> Path:
    """A project whose step `train` fails (its own queue fails jobs named so), deployable to any namespace."""
    return queued_project(aws, tmp_path, {FAIL_NAMED_TAG: "-train-"})


def _failed_run(root: Path, namespace: str, run_id: str, config: Config | None = None) -> str:
    arn = deployed_run(root, namespace, run_id, config)
    described = wait_execution(arn, timeout=60)
    assert described["status"] == "FAILED" and described["error"] == "StepFailed.train", described
    return arn


def test_only_a_failed_timed_out_or_aborted_execution_is_resumed(project: Path) -> None:
    arn = _failed_run(project, "br-resume", "failed-1")
    resumed = resume_execution(client, arn, run_id="again-1")
    assert wait_execution(resumed.execution_arn, timeout=60)["status"] == "FAILED"  # train still fails: it is retried
    described = client("stepfunctions").describe_execution(executionArn=resumed.execution_arn)
    assert json.loads(described["input"])["params"] == {"alpha": 0.25}  # the original's parameters
    assert described["stateMachineVersionArn"] == client("stepfunctions").describe_execution(
        executionArn=arn)["stateMachineVersionArn"]  # the same version, not whatever `live` points at now
    with pytest.raises(ResumeError, match=r"no execution .* where these credentials look"):
        resume_execution(client, arn.replace("failed-1", "never-ran"))


def test_a_production_resume_needs_production_credentials(project: Path) -> None:
    import boto3

    config = load_config(project)
    config.data["aws"].update(account_id="111111111111", production_account_id=DEFAULT_ACCOUNT)
    arn = _failed_run(project, "prod", "prod-failed", config)
    mismatched = load_config(project)
    mismatched.data["aws"].update(account_id="111111111111", production_account_id="222222222222")
    with pytest.raises(WrongAccountError, match="refusing to resume prod with credentials of account 123456789012"):
        resume_execution(client, arn, settings=lambda ns: aws_settings(mismatched, ns), run_id="prod-again")
    prefix = f"{Names(config.project, 'prod').s3_prefix()}/runs/TrainFlow/prod-again"
    assert client("s3").list_objects_v2(Bucket=bucket_of(config), Prefix=prefix).get("KeyCount", 0) == 0  # nothing
    # was written before the refusal

    creds = boto3.client("sts").assume_role(RoleArn="arn:aws:iam::111111111111:role/developer",
                                            RoleSessionName="dev")["Credentials"]
    developer = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                 "AWS_SESSION_TOKEN": creds["SessionToken"]}
    with pytest.MonkeyPatch.context() as mp:
        from branchline.aws.session import reset_clients

        for key, value in developer.items():
            mp.setenv(key, value)
        reset_clients()
        with pytest.raises(ResumeError, match="account 111111111111"):  # production is not even visible
            resume_execution(client, arn, settings=lambda ns: aws_settings(config, ns), run_id="prod-again")
        reset_clients()
    resumed = resume_execution(client, arn, settings=lambda ns: aws_settings(config, ns), run_id="prod-again")
    assert resumed.execution_arn and resumed.origin.namespace == "prod"


def test_the_command_resumes_by_run_id_and_a_dry_run_starts_nothing(project: Path) -> None:
    arn = _failed_run(project, "br-cli", "cli-failed")
    env = dict(os.environ)
    status = subprocess.run([sys.executable, "-m", "branchline.cli.main", "status", "-n", "br-cli", "--run-id",
                             "cli-failed"], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert f"resume it from there: branchline resume --execution {arn}" in " ".join(status.stdout.split())
    argv = [sys.executable, "-m", "branchline.cli.main", "resume", "--execution", "cli-failed", "-n", "br-cli",
            "--run-id", "cli-again", "--dry-run"]
    done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "would resume TrainFlow/cli-failed as TrainFlow/cli-again in br-cli" in done.stdout
    names = Names(load_config(project).project, "br-cli")
    executions = client("stepfunctions").list_executions(
        stateMachineArn=f"arn:aws:states:us-east-1:{DEFAULT_ACCOUNT}:stateMachine:{names.state_machine('TrainFlow')}"
    )["executions"]
    assert [e["name"] for e in executions] == ["cli-failed"]
    refused = subprocess.run([*argv[:6]], cwd=project, env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 1 and "is a run id: say in which namespace" in refused.stderr
    assert "Traceback" not in refused.stderr
