"""The generated project: production in its own account by default, one account when asked."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from tests.template.rendering import render


def _rendered(tmp_path: Path, **answers: str) -> tuple[dict, dict]:
    project = render(tmp_path / "out", **answers)
    aws = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["branchline"]["aws"]
    release = yaml.safe_load((project / ".github" / "workflows" / "release.yml").read_text())
    return aws, release["jobs"]["release"]


def _role(job: dict) -> str:
    return next(s["with"]["role-to-assume"] for s in job["steps"] if "role-to-assume" in s.get("with", {}))


def test_by_default_production_has_its_own_account(tmp_path: Path) -> None:
    aws, release = _rendered(tmp_path)
    assert (aws["account_id"], aws["production_account_id"]) == ("123456789012", "210987654321")
    assert aws["production_bucket"] == aws["bucket"] + "-prod"
    assert _role(release) == "arn:aws:iam::210987654321:role/iris-classifier-release"
    for key in ("production_states_role_arn", "production_job_role_arn", "scheduler_role_arn"):
        assert aws[key].startswith("arn:aws:iam::210987654321:role/iris-classifier-"), key
    for key in ("states_role_arn", "job_role_arn"):
        assert aws[key].startswith("arn:aws:iam::123456789012:role/iris-classifier-"), key
    assert release["permissions"]["actions"] == "read"  # the release reads the environment's protection
    (step,) = [s for s in release["steps"] if s.get("run") == "branchline ci release"]
    assert step["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}


def test_single_account_when_both_ids_are_the_same(tmp_path: Path) -> None:
    aws, release = _rendered(tmp_path, aws_account_id="000000000042", aws_production_account_id="000000000042")
    assert aws["production_bucket"] == aws["bucket"]
    assert _role(release) == "arn:aws:iam::000000000042:role/iris-classifier-release"


@pytest.mark.parametrize(("answers", "message"), [
    ({"aws_production_account_id": "42"}, "aws_production_account_id: '42' is not 12 digits"),
    ({"artifact_bucket": "b" * 60}, "artifact_bucket: 'bbbbbbbbb"),
])
def test_the_hook_refuses_a_bad_production_account(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                   answers: dict[str, str], message: str) -> None:
    from cookiecutter.exceptions import FailedHookException

    with pytest.raises(FailedHookException):
        render(tmp_path / "out", **answers)
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and message in err, err
