"""The MLflow credential secrets are named where IAM grants them: `branchline/<project>/branch/*` for branch
namespaces' jobs, `branchline/<project>/prod/*` for production's (aws/templates; the evaluator cases are in
tests/infra/test_isolation.py). The settings refuse any other name before a deploy writes anything, so a
wrong name is one message at deploy time, not an AccessDenied inside every Batch job."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from branchline.aws.deploy.settings import aws_settings
from branchline.config import load_config
from branchline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BRANCHLINE = Path(sys.executable).parent / "branchline"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


def _project(tmp_path: Path, secrets: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.branchline]
        project = "churn"
        [tool.branchline.aws]
        states_role_arn = "arn:aws:iam::123456789012:role/churn-states-branch"
        job_role_arn = "arn:aws:iam::123456789012:role/churn-job-branch"
        job_queue = "branchline-shared"
        bucket = "churn-artifacts"
    """) + textwrap.dedent(secrets))
    return tmp_path


@pytest.mark.parametrize(("branch", "prod"), [
    ("branchline/churn/branch/mlflow", "branchline/churn/prod/mlflow"),
    (f"{ARN}branchline/churn/branch/mlflow-AbCdEf", f"{ARN}branchline/churn/prod/mlflow-AbCdEf"),
])
def test_secrets_under_their_sides_prefix_are_accepted(tmp_path: Path, branch: str, prod: str) -> None:
    config = load_config(_project(tmp_path, f'tracking_secret = "{branch}"\nproduction_tracking_secret = "{prod}"\n'))
    settings = aws_settings(config)
    assert (settings.tracking_secret_for("br-x-1a2b3c4d"), settings.tracking_secret_for("prod")) == (branch, prod)


@pytest.mark.parametrize(("key", "value", "prefix"), [
    ("tracking_secret", "churn/mlflow-branch", "branchline/churn/branch/"),  # the names the docs used to show
    ("production_tracking_secret", "churn/mlflow-production", "branchline/churn/prod/"),
    ("production_tracking_secret", "branchline/churn/branch/mlflow", "branchline/churn/prod/"),  # the branches'
    ("tracking_secret", "branchline/churn/prod/mlflow", "branchline/churn/branch/"),  # production's, for branches
    ("tracking_secret", "branchline/churnx/branch/mlflow", "branchline/churn/branch/"),  # another project's
    ("tracking_secret", "branchline/churn/branch/", "branchline/churn/branch/"),
    ("tracking_secret", f"{ARN}branchline/churn/prod/mlflow-AbCdEf", "branchline/churn/branch/"),
])
def test_a_secret_iam_would_refuse_is_refused_at_configuration(tmp_path: Path, key: str, value: str,
                                                               prefix: str) -> None:
    config = load_config(_project(tmp_path, f'{key} = "{value}"\n'))
    with pytest.raises(ConfigError, match=f"tool.branchline.aws.{key} = '{re.escape(value)}' is not under {prefix}"):
        aws_settings(config)


def test_deploy_names_a_wrong_secret_in_one_line_before_anything(tmp_path: Path) -> None:
    root = _project(tmp_path, 'tracking_secret = "churn/mlflow-branch"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MLFLOW_"))}
    done = subprocess.run([str(BRANCHLINE), "deploy", "--namespace", "br-x-1a2b3c4d", "--dry-run", "--image",
                           f"r/i@sha256:{'a' * 64}", "--code-package", "s3://churn-artifacts/code.tgz"],
                          cwd=root, env=env | {"COLUMNS": "200"}, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "tracking_secret = 'churn/mlflow-branch' is not under branchline/churn/branch/" in done.stderr
    assert 'branchline/churn/branch/mlflow' in done.stderr  # the hint names a name that works


def test_the_generated_projects_example_names_are_the_granted_ones() -> None:
    text = (ROOT / "{{cookiecutter.project}}" / "pyproject.toml").read_text()
    found = dict(re.findall(r'^# (tracking_secret|production_tracking_secret) = "([^"]+)"$', text, re.MULTILINE))
    assert found == {"tracking_secret": "branchline/{{ cookiecutter.project }}/branch/mlflow",
                     "production_tracking_secret": "branchline/{{ cookiecutter.project }}/prod/mlflow"}
