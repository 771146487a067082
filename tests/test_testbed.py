"""Tests of the local test bed itself: engine, registry, base image, wheelhouse, moto (+ shim), mlflow."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.testbed import aws
from tests.testbed.bed import Testbed
from tests.testbed.containers import DOCKER_CLI, registry_config, wheelhouse_key
from tests.testbed.policy import require
from tests.testbed.procs import (
    TestbedUnavailable,
    alive,
    cmdline,
    free_port,
    group_members,
    http_ok,
    spawn,
    stop,
    wait_until,
)
from tests.testbed.runs import Run
from tests.testbed.servers import TEST_CREDENTIALS, configure_moto

REPO = Path(__file__).resolve().parents[1]


def docker(docker_host: str, *args: str, stdin: bytes | None = None, timeout: float = 600) -> str:
    """Run the Docker CLI; fail the test with its stderr if it fails."""
    proc = subprocess.run(
        [DOCKER_CLI, "-H", docker_host, *args], input=stdin, capture_output=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"docker {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}"
    return proc.stdout.decode()


def echo_definition(target: aws.BatchTarget, text_path: str) -> dict:
    """A Task state that runs the job definition with ``echo $MESSAGE`` and MESSAGE taken from the input."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::batch:submitJob.sync",
        "Parameters": {
            "JobName": "echo",
            "JobQueue": target.queue,
            "JobDefinition": target.job_definition,
            "ContainerOverrides": {
                "Command": ["sh", "-c", 'echo "message=$MESSAGE"'],
                "Environment": [{"Name": "MESSAGE", "Value.$": text_path}],
            },
        },
    }


# --- plumbing (no server) ---------------------------------------------------------------------------------


def test_service_starts_once_and_is_shared(tmp_path: Path) -> None:
    calls: list[Path] = []

    def start(data_dir: Path) -> dict:
        calls.append(data_dir)
        return {"url": "http://127.0.0.1:1", "pids": []}

    run = Run(tmp_path / "run", owner=0)
    first = run.service("thing", start)
    second = Run(run.directory, owner=0).service("thing", start)  # another xdist worker, same run
    assert first["url"] == second["url"] == "http://127.0.0.1:1"
    assert calls == [run.directory / "thing"]


def test_unavailable_part_is_remembered_with_its_reason(tmp_path: Path) -> None:
    calls = 0

    def start(_dir: Path) -> dict:
        nonlocal calls
        calls += 1
        raise TestbedUnavailable("dockerd not installed: run scripts/testbed/install.sh")

    run = Run(tmp_path / "run", owner=0)
    for _ in range(2):
        with pytest.raises(TestbedUnavailable, match="dockerd not installed"):
            run.service("engine", start)
    assert calls == 1


def test_shutdown_stops_started_processes_and_removes_the_run(tmp_path: Path) -> None:
    run = Run(tmp_path / "run", owner=0)
    info = run.service("sleeper", lambda d: {"pids": [[spawn(["sleep", "300"], d / "log"), "sleep"]]})
    pid = info["pids"][0][0]
    (run.directory / "sleeper" / "data").mkdir()
    assert alive(pid)
    run.shutdown()
    assert not alive(pid)
    assert not run.directory.exists()
    # The rest is deleted in the background (a run's engine data is ~100,000 files): it does go, soon.
    wait_until(lambda: not list(tmp_path.glob(".trash-*")), timeout=60, what="the discarded run's deletion")


def test_unavailable_part_skips_outside_ci_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> str:
        raise TestbedUnavailable("the Docker engine of the test bed needs root")

    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        require(missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must not be skipped"):
        require(missing)


def test_registry_config_is_loopback_without_auth(tmp_path: Path) -> None:
    import yaml

    config = yaml.safe_load(registry_config(5123, tmp_path))
    assert config["http"]["addr"] == "127.0.0.1:5123"
    assert config["storage"]["filesystem"]["rootdirectory"] == str(tmp_path)
    assert "auth" not in config


def test_wheelhouse_key_ignores_order_and_blank_lines() -> None:
    assert wheelhouse_key(["boto3>=1.34", "rich"]) == wheelhouse_key(["rich", "", "boto3>=1.34"])
    assert wheelhouse_key(["rich"]) != wheelhouse_key(["rich>=13"])


# --- moto ---------------------------------------------------------------------------------------------------


@pytest.mark.moto
def test_moto_executes_a_pass_state(moto_server: str) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
    desc = aws.run_state_machine(definition, "arn:aws:iam::123456789012:role/sfn", timeout=60)
    assert desc["status"] == "SUCCEEDED", aws.failure_of(desc["executionArn"])
    assert json.loads(desc["output"]) == {"ok": 1}


@pytest.mark.moto
def test_shim_makes_batch_submit_job_sync_succeed(moto_server: str) -> None:
    target = aws.batch_target("unused:latest", ["true"])  # moto's docker-less Batch: no container runs
    definition = {"StartAt": "Job", "States": {"Job": {**echo_definition(target, "$.message"), "End": True}}}
    desc = aws.run_state_machine(definition, target.role_arn, {"message": "hi"}, timeout=120)
    assert desc["status"] == "SUCCEEDED", aws.failure_of(desc["executionArn"])
    output = json.loads(desc["output"])
    # The .sync result is DescribeJobs' job, in Step Functions casing (PascalCase), as on AWS.
    assert output["Status"] == "SUCCEEDED"
    assert output["JobQueue"] == target.queue
    assert {"Name": "MESSAGE", "Value": "hi"} in output["Container"]["Environment"]


@pytest.mark.moto
@pytest.mark.slow
def test_without_the_shim_moto_fails_batch_tasks(tmp_path: Path) -> None:
    """Guard: if this starts passing, moto filled its stub and tests/testbed/moto_shim.py can go."""
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "MOTO_PORT": str(port), "AWS_ACCESS_KEY_ID": "testing"}
    pid = spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], tmp_path / "log", env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/moto-api/config"), timeout=60, what="plain moto", pid=pid)
        configure_moto(url, batch_docker=False)
        with pytest.MonkeyPatch.context() as mp:
            for key, value in {**TEST_CREDENTIALS, "AWS_ENDPOINT_URL": url}.items():
                mp.setenv(key, value)
            target = aws.batch_target("unused:latest", ["true"])
            definition = {"StartAt": "Job", "States": {"Job": {**echo_definition(target, "$.m"), "End": True}}}
            desc = aws.run_state_machine(definition, target.role_arn, {"m": "x"}, timeout=120)
            assert desc["status"] == "FAILED"
            assert "States.Runtime" in aws.failure_of(desc["executionArn"])
    finally:
        stop(pid, expect="moto.server")


# --- containers ---------------------------------------------------------------------------------------------


@pytest.mark.docker
def test_engine_runs_the_base_image_on_the_host_network(docker_engine: str, base_image: str) -> None:
    token = uuid.uuid4().hex
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def accept() -> None:
            conn, _ = server.accept()
            with conn:
                received.append(conn.recv(100))

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        script = (
            "import socket, sys; s = socket.create_connection(('127.0.0.1', int(sys.argv[1])));"
            "s.sendall(sys.argv[2].encode()); print(sys.version_info[:2])"
        )
        out = docker(docker_engine, "run", "--rm", "--network", "host", base_image, "python3", "-c", script,
                     str(port), token)  # fmt: skip
        thread.join(timeout=30)
    assert out.strip() == "(3, 11)"
    assert received == [token.encode()]  # the container reached a socket on the host's 127.0.0.1


@pytest.mark.docker
def test_registry_accepts_a_push_and_serves_the_manifest(docker_engine: str, local_registry: str) -> None:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        data = b"branchline test bed\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tag = f"{local_registry}/testbed/tiny:{uuid.uuid4().hex[:8]}"
    docker(docker_engine, "import", "-", tag, stdin=layer.getvalue())
    pushed = docker(docker_engine, "push", tag)
    repo, ref = tag.split("/", 1)[1].rsplit(":", 1)
    request = urllib.request.Request(
        f"http://{local_registry}/v2/{repo}/manifests/{ref}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        digest = resp.headers["Docker-Content-Digest"]
        manifest = json.loads(resp.read())
    assert digest and digest in pushed
    assert len(manifest["layers"]) == 1


@pytest.mark.docker
@pytest.mark.slow
def test_image_build_installs_from_the_wheelhouse_offline(
    docker_engine: str, base_image: str, wheelhouse: Path, tmp_path: Path
) -> None:
    import shutil

    context = tmp_path / "context"
    shutil.copytree(wheelhouse, context / "wheels")
    (context / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        "COPY wheels /tmp/wheels\n"
        "RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --quiet --no-index --find-links /tmp/wheels"
        " -r /tmp/wheels/requirements.txt && rm -rf /tmp/wheels\n"
    )
    tag = f"testbed-wheels:{uuid.uuid4().hex[:8]}"
    docker(docker_engine, "build", "--network", "none", "-t", tag, str(context))
    out = docker(docker_engine, "run", "--rm", "--network", "none", tag, "/opt/venv/bin/python", "-c",
                 "import boto3, typer, rich; print(boto3.__name__)")  # fmt: skip
    assert out.strip() == "boto3"


# --- moto Batch with real containers ------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.moto
@pytest.mark.slow
def test_batch_submit_job_sync_runs_a_container_and_logs_reach_cloudwatch(
    moto_server_docker: str, base_image: str
) -> None:
    target = aws.batch_target(base_image, ["true"])
    token = uuid.uuid4().hex[:12]
    definition = {"StartAt": "Job", "States": {"Job": {**echo_definition(target, "$.message"), "End": True}}}
    desc = aws.run_state_machine(definition, target.role_arn, {"message": token}, timeout=300)
    assert desc["status"] == "SUCCEEDED", aws.failure_of(desc["executionArn"])
    job = json.loads(desc["output"])
    assert job["Status"] == "SUCCEEDED"
    messages = aws.log_messages("/aws/batch/job", job["Container"]["LogStreamName"])
    assert f"message={token}" in messages


@pytest.mark.docker
@pytest.mark.moto
@pytest.mark.slow
def test_distributed_map_over_s3_items_runs_each_item_as_a_container(moto_server_docker: str, base_image: str) -> None:
    target = aws.batch_target(base_image, ["true"])
    bucket = f"tb-{uuid.uuid4().hex[:8]}"
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    items = [{"word": f"item-{i}-{uuid.uuid4().hex[:6]}"} for i in range(3)]
    s3.put_object(Bucket=bucket, Key="items.json", Body=json.dumps(items).encode())
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket": bucket, "Key": "items.json"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Job",
                    "States": {"Job": {**echo_definition(target, "$.word"), "End": True}},
                },
                "MaxConcurrency": 3,
                "End": True,
            }
        },
    }
    desc = aws.run_state_machine(definition, target.role_arn, timeout=600)
    assert desc["status"] == "SUCCEEDED", aws.failure_of(desc["executionArn"])
    results = json.loads(desc["output"])
    assert len(results) == len(items)
    logged = {line for job in results for line in aws.log_messages("/aws/batch/job", job["Container"]["LogStreamName"])}
    assert {f"message={item['word']}" for item in items} <= logged


# --- mlflow -------------------------------------------------------------------------------------------------


@pytest.mark.mlflow
def test_mlflow_server_is_healthy_and_serves_artifacts(mlflow_server: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    with urllib.request.urlopen(f"{mlflow_server}/health", timeout=10) as resp:
        assert resp.status == 200
    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.create_experiment(f"testbed-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "accuracy", 0.9)
    (tmp_path / "note.txt").write_text("artifact via the server\n")
    client.log_artifact(run.info.run_id, str(tmp_path / "note.txt"))
    assert client.get_run(run.info.run_id).data.metrics == {"accuracy": 0.9}
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server, not a local path
    downloaded = client.download_artifacts(run.info.run_id, "note.txt", str(tmp_path / "down"))
    assert Path(downloaded).read_text() == "artifact via the server\n"


@pytest.mark.mlflow
def test_mlflow_server_runs_without_a_job_runner(mlflow_server: str, testbed: Testbed) -> None:
    """MLflow's default job runner (seven huey consumers importing MLflow) slows the start and outlives a SIGTERM."""
    record = json.loads((testbed.run.directory / "mlflow.json").read_text())
    leader = int(record["pids"][0][0])
    processes = [cmdline(pid) for pid in group_members(leader)]
    assert any("uvicorn" in line for line in processes), processes
    assert not [line for line in processes if "huey" in line or "_job_runner" in line]


@pytest.mark.docker
@pytest.mark.moto
@pytest.mark.slow
def test_batch_pulls_a_job_image_from_the_local_registry(
    moto_server_docker: str, docker_engine: str, base_image: str, local_registry: str
) -> None:
    """As after a deploy: the job's image is only in the registry, and moto's Batch pulls it from there."""
    image = f"{local_registry}/testbed/job:{uuid.uuid4().hex[:8]}"
    docker(docker_engine, "tag", base_image, image)
    docker(docker_engine, "push", image)
    docker(docker_engine, "rmi", image)
    target = aws.batch_target(image, ["true"])
    token = uuid.uuid4().hex[:12]
    definition = {"StartAt": "Job", "States": {"Job": {**echo_definition(target, "$.message"), "End": True}}}
    desc = aws.run_state_machine(definition, target.role_arn, {"message": token}, timeout=300)
    assert desc["status"] == "SUCCEEDED", aws.failure_of(desc["executionArn"])
    job = json.loads(desc["output"])
    assert f"message={token}" in aws.log_messages("/aws/batch/job", job["Container"]["LogStreamName"])
    assert docker(docker_engine, "image", "inspect", "--format", "{{.Id}}", image)  # pulled back into the engine


@pytest.mark.docker
@pytest.mark.moto
@pytest.mark.slow
def test_a_batch_container_acts_as_its_job_role_unless_its_environment_has_keys(
    moto_server_docker: str, base_image: str
) -> None:
    """As the ECS agent serves the job role's credentials (tests/testbed/moto_job_role.py): a job whose role is
    in another account acts in that account; keys in the job's environment win, as in every SDK's chain."""
    import boto3

    target = aws.batch_target(base_image, ["true"])
    role = f"arn:aws:iam::222222222222:role/tb-job-{uuid.uuid4().hex[:6]}"
    batch = aws.client("batch")
    show = ["sh", "-c", 'echo "key=$AWS_ACCESS_KEY_ID secret=$AWS_SECRET_ACCESS_KEY token=$AWS_SESSION_TOKEN"']

    def run(name: str, environment: list[dict[str, str]]) -> tuple[dict, str]:
        definition = batch.register_job_definition(
            jobDefinitionName=name, type="container",
            containerProperties={"image": base_image, "command": show, "jobRoleArn": role, "environment": environment,
                                 "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                          {"type": "MEMORY", "value": "512"}]})["jobDefinitionArn"]
        job_id = batch.submit_job(jobName=name, jobQueue=target.queue, jobDefinition=definition)["jobId"]
        for _ in range(300):
            (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
            if job["status"] in ("SUCCEEDED", "FAILED"):
                break
            time.sleep(1)
        assert job["status"] == "SUCCEEDED", job.get("statusReason")
        (line,) = [m for m in aws.log_messages("/aws/batch/job", job["container"]["logStreamName"]) if "key=" in m]
        return job, line

    job, line = run(f"tb-role-{uuid.uuid4().hex[:6]}", [])
    keys = dict(part.split("=", 1) for part in line.split())
    assert all(keys.values()), line
    listed = {e["name"] for e in job["container"]["environment"]}
    assert not listed & {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}  # only the container
    sts = boto3.client("sts", endpoint_url=moto_server_docker, region_name="us-east-1",
                       aws_access_key_id=keys["key"], aws_secret_access_key=keys["secret"],
                       aws_session_token=keys["token"])  # fmt: skip
    caller = sts.get_caller_identity()
    assert caller["Account"] == "222222222222" and f"assumed-role/{role.rsplit('/', 1)[1]}/" in caller["Arn"]

    _, line = run(f"tb-keys-{uuid.uuid4().hex[:6]}", [{"name": "AWS_ACCESS_KEY_ID", "value": "from-the-job"}])
    assert line.startswith("key=from-the-job secret= token="), line
