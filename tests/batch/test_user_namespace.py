"""Who may send a laptop run's steps to Batch, and where: the user's namespace in the development account only.

On a moto server (no containers needed: every case is refused before the first job). The account comes from
the real `sts get-caller-identity` of the credentials in use: production account credentials (assumed into
moto's account 222222222222, which moto keeps apart) are refused before anything is written, as is the
production namespace, and a project that lacks what Batch steps need says which setting is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.path import client

pytestmark = [pytest.mark.moto]

BRANCHLINE = str(Path(sys.executable).parent / "branchline")
FLOW = '''
from branchline import FlowSpec, batch, step


class CloudFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.remote)

    @batch
    @step
    def remote(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def _project(root: Path, bucket: str, *, image_repository: bool = True) -> Path:
    root.mkdir()
    role = "arn:aws:iam::123456789012:role"
    aws = {
        "states_role_arn": f"{role}/states", "job_role_arn": f"{role}/job", "job_queue": "branches", "bucket": bucket,
        "account_id": "123456789012", "production_account_id": "222222222222",
    }  # fmt: skip
    if image_repository:
        aws["image_repository"] = "127.0.0.1:9/cloud-step"
    lines = "".join(f'{key} = "{value}"\n' for key, value in aws.items())
    (root / "pyproject.toml").write_text(f'[tool.branchline]\nproject = "cloud"\n\n[tool.branchline.aws]\n{lines}')
    (root / "flow.py").write_text(FLOW)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def _run(root: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("BRANCHLINE_", "MLFLOW_"))}
    full.update(BRANCHLINE_TRACKING="0", **env)
    return subprocess.run([BRANCHLINE, "run", "flow.py"], cwd=root, env=full, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


def _keys(bucket: str) -> list[str]:
    return [o["Key"] for o in client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_production_account_credentials_cannot_send_steps_to_batch(moto_server: str, tmp_path: Path) -> None:
    client("s3").create_bucket(Bucket="cloud-data")
    root = _project(tmp_path / "cloud", "cloud-data")
    assumed = client("sts").assume_role(RoleArn="arn:aws:iam::222222222222:role/release",
                                        RoleSessionName="laptop")["Credentials"]  # fmt: skip
    done = _run(root, AWS_ACCESS_KEY_ID=assumed["AccessKeyId"], AWS_SECRET_ACCESS_KEY=assumed["SecretAccessKey"],
                AWS_SESSION_TOKEN=assumed["SessionToken"], BRANCHLINE_NAMESPACE="user-alice")  # fmt: skip
    assert done.returncode == 1, done
    assert "credentials of the production account 222222222222" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert _keys("cloud-data") == []
    ours = [d for d in client("batch").describe_job_definitions(status="ACTIVE")["jobDefinitions"]
            if d["jobDefinitionName"].startswith("cloud-")]  # the server is shared with other tests
    assert ours == []


def test_the_production_namespace_is_refused(moto_server: str, tmp_path: Path) -> None:
    client("s3").create_bucket(Bucket="cloud-data2")
    root = _project(tmp_path / "cloud", "cloud-data2")
    done = _run(root, BRANCHLINE_NAMESPACE="prod")
    assert done.returncode == 1 and "never writes to the production namespace" in done.stderr, done
    assert _keys("cloud-data2") == []


def test_a_missing_image_repository_is_named(moto_server: str, tmp_path: Path) -> None:
    client("s3").create_bucket(Bucket="cloud-data3")
    root = _project(tmp_path / "cloud", "cloud-data3", image_repository=False)
    done = _run(root, BRANCHLINE_NAMESPACE="user-alice")
    assert done.returncode == 1, done
    assert "tool.branchline.aws.image_repository is not set" in done.stderr and "Traceback" not in done.stderr
    assert _keys("cloud-data3") == []
