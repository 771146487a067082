"""Production in its own account: the settings, and a deploy that refuses the wrong account's credentials.

moto separates accounts by the credentials of an assumed role (`sts.assume_role` into
`arn:aws:iam::222222222222:role/...` acts in 222222222222), so the refusal is tested against the real
`sts get-caller-identity` of the credentials in use, before anything is written.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from branchline.aws.deploy import deploy
from branchline.aws.deploy.settings import AwsSettings, WrongAccountError, aws_settings, check_account
from branchline.config import load_config
from branchline.errors import ConfigError
from tests.aws_deploy.conftest import Infra
from tests.aws_deploy.standins import new_project
from tests.aws_deploy.test_project_moto import make_project

IMAGE = "127.0.0.1:5000/steps@sha256:" + "c" * 64
DEV, PROD = "111111111111", "222222222222"
BRANCH = "br-feature-0a1b2c3d"


def _settings(**accounts: str) -> AwsSettings:
    return AwsSettings("arn:s", "arn:j", "q", "pq", "bucket", "arn:sch", **accounts)  # type: ignore[arg-type]


def test_production_and_branches_each_have_their_account() -> None:
    two = _settings(account_id=DEV, production_account_id=PROD)
    assert two.separate_production_account
    assert (two.account_for("prod"), two.account_for(BRANCH)) == (PROD, DEV)
    check_account(two, "prod", PROD)
    check_account(two, BRANCH, DEV)
    with pytest.raises(WrongAccountError, match=f"refusing to deploy prod with credentials of account {DEV}"):
        check_account(two, "prod", DEV)
    with pytest.raises(WrongAccountError, match=f"credentials of the production account {PROD}"):
        check_account(two, BRANCH, PROD)
    single = _settings(account_id=DEV)
    assert not single.separate_production_account
    check_account(single, "prod", DEV)
    with pytest.raises(WrongAccountError, match="production lives in account 111111111111"):
        check_account(single, "prod", PROD)
    check_account(_settings(), "prod", "999999999999")  # no account configured: nothing to compare


def _project(tmp_path: Path, aws: Infra, extra: str) -> Path:
    root = make_project(tmp_path / "p", new_project(), aws)
    with (root / "pyproject.toml").open("a") as handle:
        handle.write(textwrap.dedent(extra))
    return root


def test_production_bucket_is_used_for_prod_only(tmp_path: Path, aws: Infra) -> None:
    config = load_config(_project(tmp_path, aws, f"""
        production_bucket = "churn-prod-artifacts"
        account_id = "{DEV}"
        production_account_id = "{PROD}"
    """))
    assert aws_settings(config, "prod").bucket == "churn-prod-artifacts"
    assert aws_settings(config, BRANCH).bucket == aws.bucket
    assert aws_settings(config).bucket == aws.bucket


@pytest.mark.parametrize("bad", ["12345", "'abcdefghijkl'", "123456789012345"])
def test_account_ids_are_checked(tmp_path: Path, aws: Infra, bad: str) -> None:
    value = bad if bad.startswith("'") else f'"{bad}"'
    config = load_config(_project(tmp_path, aws, f"production_account_id = {value}\n"))
    with pytest.raises(ConfigError, match="production_account_id must be a 12-digit AWS account id"):
        aws_settings(config)


@pytest.fixture
def dev_account(aws: Infra, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test bed's moto, as a development-account session (assumed role in another account)."""
    import boto3

    from branchline.aws.session import reset_clients

    creds = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{DEV}:role/developer",
                                            RoleSessionName="developer")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])
    reset_clients()
    yield DEV
    reset_clients()


def test_deploying_prod_with_development_credentials_is_refused_before_any_write(
    tmp_path: Path, aws: Infra, dev_account: str
) -> None:
    import boto3

    config = load_config(_project(tmp_path, aws, f"""
        account_id = "{DEV}"
        production_account_id = "{PROD}"
    """))
    with pytest.raises(WrongAccountError) as refused:
        deploy(config, "prod", image=IMAGE, code_package="s3://b/code.tgz", git_sha="abc")
    assert str(refused.value).startswith(f"refusing to deploy prod with credentials of account {dev_account}: "
                                         f"production lives in account {PROD}")
    for account_session in (boto3, boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")):
        machines = account_session.client("stepfunctions").list_state_machines()["stateMachines"]
        assert not [m for m in machines if m["name"].startswith(config.project)]  # nothing written anywhere
        definitions = account_session.client("batch").describe_job_definitions()["jobDefinitions"]
        assert not [d for d in definitions if d["jobDefinitionName"].startswith(config.project)]
