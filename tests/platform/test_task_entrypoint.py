"""`branchline task` in a fresh process, as a Batch container runs it: S3 datastore (moto server), code package."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.moto

BUCKET = f"entrypoint-test-{uuid.uuid4().hex[:8]}"  # the moto server lives for the whole session
ROOT = f"s3://{BUCKET}/branchline/proj"
ENTRYPOINT = "branchline.runtime.entrypoint"  # the module `branchline task` runs


def _code_package(project_root: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in [project_root / "pyproject.toml", *sorted((project_root / "flows").glob("*.py"))]:
            tar.add(path, arcname=str(path.relative_to(project_root)))
    return buffer.getvalue()


def _task(step: str, task_id: str, run_id: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "BRANCHLINE_FLOW_FILE": "flows/remote.py",
        "BRANCHLINE_STEP": step,
        "BRANCHLINE_RUN_ID": run_id,
        "BRANCHLINE_TASK_ID": task_id,
        "BRANCHLINE_NAMESPACE": "br-test-1234abcd",
        "BRANCHLINE_DATASTORE": ROOT,
        "BRANCHLINE_PROJECT": "proj",
        "BRANCHLINE_CODE_PACKAGE": f"s3://{BUCKET}/branchline/proj/br-test-1234abcd/code/pkg.tar.gz",
        "BRANCHLINE_TRACKING": "0",
        "AWS_BATCH_JOB_ATTEMPT": "1",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", ENTRYPOINT], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _items(s3, run_id: str) -> list[dict]:
    key = f"branchline/proj/br-test-1234abcd/runs/RemoteFlow/{run_id}/start/0/foreach-items.json"
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _drive(project, s3, run_id: str, params: dict) -> list[subprocess.CompletedProcess]:
    """Run the flow task by task, the way the state machine does: start, the Map's items, join, end."""
    elsewhere = project.root.parent / "container-cwd"
    elsewhere.mkdir(exist_ok=True)
    procs = [_task("start", "0", run_id, elsewhere, BRANCHLINE_PARAMS=json.dumps(params))]
    assert procs[0].returncode == 0, procs[0].stderr
    for item in _items(s3, run_id):
        procs.append(_task("work", item["task_id"], run_id, elsewhere))
    if all(p.returncode == 0 for p in procs):
        procs.append(_task("join", "0", run_id, elsewhere))
        procs.append(_task("end", "0", run_id, elsewhere))
    return procs


@pytest.fixture
def s3(moto_server, project):
    client = boto3.client("s3", endpoint_url=moto_server)
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    client.put_object(
        Bucket=BUCKET, Key="branchline/proj/br-test-1234abcd/code/pkg.tar.gz", Body=_code_package(project.root)
    )
    return client


def test_entrypoint_runs_a_flow_task_by_task_on_s3(project, s3):
    procs = _drive(project, s3, "run-ok", {"factor": 3})
    assert all(p.returncode == 0 for p in procs), [p.stderr for p in procs]
    assert [item["task_id"] for item in _items(s3, "run-ok")] == ["0-0", "0-1", "0-2"]
    assert "sizes [3, 6, 9]" in procs[-1].stdout
    from branchline.client import Run

    run = Run("RemoteFlow/run-ok", namespace="br-test-1234abcd", datastore=ROOT)
    assert run.successful
    assert run.data.sizes == [3, 6, 9]
    assert [t.data.where for t in run["work"]] == ["0-2", "0-1", "0-0"]  # the last foreach task first, as Metaflow
    assert run.params == {"factor": 3, "explode": False}


def test_entrypoint_exits_non_zero_with_the_users_traceback(project, s3):
    procs = _drive(project, s3, "run-bad", {"explode": True})
    failed = [p for p in procs if p.returncode != 0]
    assert len(failed) == 1
    assert "ZeroDivisionError: boom in work" in failed[0].stderr
    assert 'raise ZeroDivisionError("boom in work")' in failed[0].stderr


def test_entrypoint_names_a_missing_variable(project, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANCHLINE_")}
    proc = subprocess.run(
        [sys.executable, "-m", ENTRYPOINT], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert proc.returncode == 1
    assert "the task entrypoint needs BRANCHLINE_FLOW_FILE" in proc.stderr
    assert "Traceback" not in proc.stderr
