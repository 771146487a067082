"""`branchline infra deploy` against the moto server over HTTP: change sets, dry runs, updates, errors.

Each test works in a fresh AWS account of its own (moto gives assumed-role credentials of the role's
account), so fixed names such as the `branchline-shared` queue never collide with other tests on the
shared server.

What moto's CloudFormation cannot show, and where it is covered instead (tests/infra/test_templates.py):
- `AWS::S3::BucketPolicy` and `AWS::IAM::OIDCProvider` are not implemented (skipped with a warning);
- S3 versioning, public access block and lifecycle rules, ECR lifecycle policies and a role's
  `ManagedPolicyArns` are ignored; stack outputs are not computed after a change set runs;
- a `List<...>` parameter's default is not split (we pass `InstanceTypes`), an update that keeps a
  `List<...>` parameter with `UsePreviousValue` crashes the server (the shared stack's update is
  therefore not exercised here), and a Batch compute environment needs an explicit service role.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.policy import policy_document

pytestmark = pytest.mark.moto

BRANCHLINE = Path(sys.executable).parent / "branchline"
GITHUB_OIDC = "token.actions.githubusercontent.com"


@dataclass(frozen=True)
class Account:
    """Credentials of a fresh moto account: boto3 clients and the environment of a CLI subprocess."""

    account_id: str
    env: dict[str, str]

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=self.env["AWS_SESSION_TOKEN"],
        )


@pytest.fixture
def account(moto_server: str) -> Account:
    import boto3

    account_id = str(random.SystemRandom().randrange(10**11, 10**12))
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/infra-tests", RoleSessionName="infra-tests"
    )["Credentials"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_"))}
    env |= {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }
    made = Account(account_id, env)
    assert made.client("sts").get_caller_identity()["Account"] == account_id
    return made


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def infra(account: Account, tmp_path: Path) -> Run:
    """Run `branchline infra ...` in a project directory, as a user would."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.branchline]\nproject = "demo"\n\n[tool.branchline.aws]\n'
        f'bucket = "demo-artifacts-{account.account_id}"\n'
    )

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(BRANCHLINE), "infra", *args], cwd=project, env=account.env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        return done

    return run


def _network(account: Account) -> dict[str, str]:
    """What a platform engineer brings: subnets, a security group (and, on moto only, a Batch service role)."""
    ec2 = account.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = account.client("iam").create_role(RoleName="batch-service", AssumeRolePolicyDocument=json.dumps(trust))
    return {"SubnetIds": ",".join(subnets), "SecurityGroupIds": group, "BatchServiceRoleArn": role["Role"]["Arn"],
            "InstanceTypes": "optimal"}


def _params(values: dict[str, str]) -> list[str]:
    return [arg for key, value in values.items() for arg in ("--param", f"{key}={value}")]


def test_shared_stack_dry_run_leaves_nothing_then_deploy_creates_queues(account: Account, infra: Run) -> None:
    params = _params(_network(account))
    dry = infra("deploy", "--stack", "shared", *params, "--dry-run")
    assert "SharedJobQueue" in dry.stdout and "dry run, nothing changed" in dry.stdout
    batch, cfn = account.client("batch"), account.client("cloudformation")
    assert batch.describe_job_queues()["jobQueues"] == []
    assert [s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"] == []

    done = infra("deploy", "--stack", "shared", *params)
    assert "branchline-shared: CREATE_COMPLETE" in done.stdout
    queues = {q["jobQueueName"]: q for q in batch.describe_job_queues()["jobQueues"]}
    assert set(queues) == {"branchline-shared", "branchline-prod"}
    described = batch.describe_compute_environments()["computeEnvironments"]
    environments = {e["computeEnvironmentName"]: e for e in described}
    assert {n: e["computeResources"]["type"] for n, e in environments.items()} == {
        "branchline-shared": "EC2", "branchline-prod": "EC2"}
    assert queues["branchline-prod"]["computeEnvironmentOrder"][0]["computeEnvironment"] == \
        environments["branchline-prod"]["computeEnvironmentArn"]
    (group,) = account.client("logs").describe_log_groups(logGroupNamePrefix="/aws/batch/job")["logGroups"]
    assert group["retentionInDays"] == 30
    iam = account.client("iam")
    assert iam.get_role(RoleName="branchline-batch-execution")["Role"]["Arn"].endswith("/branchline-batch-execution")
    assert iam.get_instance_profile(InstanceProfileName="branchline-batch-instance")["InstanceProfile"]["Roles"]
    (stack,) = cfn.describe_stacks(StackName="branchline-shared")["Stacks"]
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {"branchline:component": "shared"}


def test_project_stack_deploys_roles_bucket_repository_and_updates_in_place(account: Account, infra: Run) -> None:
    iam = account.client("iam")
    # The account already has GitHub's OIDC provider: the CLI must notice and reuse it (not create a second).
    iam.create_open_id_connect_provider(Url=f"https://{GITHUB_OIDC}", ClientIDList=["sts.amazonaws.com"],
                                       ThumbprintList=["0" * 40])
    done = infra("deploy", "--stack", "project", "--github-repo", "Acme/demo")
    assert "OIDC provider found: reusing it" in done.stdout
    assert "branchline-demo: CREATE_COMPLETE" in done.stdout

    bucket = f"demo-artifacts-{account.account_id}"
    s3 = account.client("s3")
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (repo,) = account.client("ecr").describe_repositories(repositoryNames=["demo"])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"

    roles = {r["RoleName"]: r for r in iam.list_roles()["Roles"]}
    assert {f"demo-{n}" for n in ("ci", "release", "prune", "states-branch", "states-prod", "job-branch",
                                  "job-prod", "scheduler")} <= set(roles)
    provider = f"arn:aws:iam::{account.account_id}:oidc-provider/{GITHUB_OIDC}"
    (trust,) = policy_document(iam.get_role(RoleName="demo-ci")["Role"]["AssumeRolePolicyDocument"])["Statement"]
    assert trust["Principal"] == {"Federated": provider}
    assert trust["Condition"]["StringLike"][f"{GITHUB_OIDC}:sub"] == "repo:Acme/demo:pull_request:ref:refs/pull/*/merge"
    (release,) = policy_document(iam.get_role(RoleName="demo-release")["Role"]["AssumeRolePolicyDocument"])["Statement"]
    assert release["Condition"]["StringEquals"][f"{GITHUB_OIDC}:sub"] == \
        "repo:Acme/demo:environment:production:ref:refs/heads/main"
    inline = iam.get_role_policy(RoleName="demo-ci", PolicyName="deploy-branch-namespaces")["PolicyDocument"]
    ci = policy_document(inline)
    resources = {r for s in ci["Statement"] if s["Effect"] == "Allow"
                 for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    assert f"arn:aws:states:us-east-1:{account.account_id}:stateMachine:demo-br-*" in resources
    assert f"arn:aws:s3:::{bucket}/branchline/demo/br-*" in resources
    assert not [r for r in resources if "prod" in r]

    cfn = account.client("cloudformation")
    (stack,) = cfn.describe_stacks(StackName="branchline-demo")["Stacks"]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert params["CreateOidcProvider"] == "false" and params["BucketName"] == bucket
    assert params["AccountRole"] == "single"  # no production_account_id configured

    again = infra("deploy", "--stack", "project", "--github-repo", "Acme/demo")
    assert "up to date" in again.stdout and "OIDC provider" not in again.stdout

    update = infra("deploy", "--stack", "project", "--github-repo", "Acme/demo", "--param", "BranchArtifactDays=7")
    assert "UPDATE_COMPLETE" in update.stdout
    (stack,) = cfn.describe_stacks(StackName="branchline-demo")["Stacks"]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert params["BranchArtifactDays"] == "7" and params["CreateOidcProvider"] == "false"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "shared"], "the shared stack needs SubnetIds, SecurityGroupIds"),
        (["--stack", "shared", "--param", "SubnetIds"], "parameter 'SubnetIds' is not KEY=VALUE"),
        (["--stack", "shared", "--param", "Subnets=subnet-1"], "the shared stack has no parameter Subnets"),
        (["--stack", "project"], "the project stack needs the GitHub repository"),
        (["--stack", "project", "--github-repo", "acme"], "GitHub repository 'acme' is not ORG/REPO"),
    ],
)
def test_user_mistakes_give_one_clear_line(infra: Run, args: list[str], message: str) -> None:
    failed = infra("deploy", *args, ok=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith(f"error: {message}"), failed.stderr
    assert "Traceback" not in failed.stderr and "hint:" in failed.stderr
