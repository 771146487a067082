"""A moto server that enforces IAM: every request is signed, and refused unless the caller's policies allow it.

moto enforces IAM once `INITIAL_NO_AUTH_ACTION_COUNT` requests have been served; we spend exactly those on
making an `admin` role (Allow *) in each account, then every later call, ours included, is checked.

What moto's access control really evaluates (moto 5.2, `moto/iam/access_control.py`, read for this test):

- the signature and the caller: IAM users and assumed roles, the role's inline and attached policies;
- `Action`/`NotAction` with wildcards, and Deny over Allow;
- the resource **only for S3** (bucket and object ARNs), SQS, IAM role operations and `sts:AssumeRole`
  (plus the role's trust policy for `sts:AssumeRole`); every other service is checked against resource `*`,
  so an Allow on a specific ARN never matches there;
- of conditions, only `StringEquals` against `sts:ExternalId`; any other condition counts as met, which
  turns every conditional Deny into a plain Deny;
- no resource policies (bucket, repository), no trust of `AssumeRoleWithWebIdentity`;
- no `NotResource`: a statement without `Resource` counts as PERMITTED whatever its Effect (meant for trust
  policies), so the guardrails' `Deny ... NotResource` statements read as grants to moto (shown by
  test_isolation.py::test_moto_cannot_be_the_evaluator_for_secrets);
- AWS managed policies only with `MOTO_IAM_LOAD_MANAGED_POLICIES`, and its CloudFormation ignores a role's
  `ManagedPolicyArns` (the bed attaches them).

So moto's verdicts are proof only for S3 object access and `sts:AssumeRole` (no `NotResource` statement covers
those); the other cases, Secrets Manager included, are evaluated
by iam-simulate (tests/infra/evaluator.py) on the same deployed policies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import boto3

from tests.testbed.procs import free_port

REGION = "us-east-1"
ADMIN = "admin"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ADMIN_TRUST = {"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
BOOTSTRAP_CALLS_PER_ACCOUNT = 3  # assume role, create role, put its policy


def _credentials(raw: dict[str, Any]) -> dict[str, str]:
    return {"aws_access_key_id": raw["AccessKeyId"], "aws_secret_access_key": raw["SecretAccessKey"],
            "aws_session_token": raw["SessionToken"]}


class EnforcedMoto:
    """A moto server of our own (not the test bed's: enforcement would break every other test) on 127.0.0.1."""

    def __init__(self, accounts: Iterable[str], log: Path) -> None:
        self.accounts = tuple(accounts)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "DOCKER_"))}
        # AWS managed policies (the Batch execution and instance roles' own) are loaded only when asked for
        env |= {"INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP_CALLS_PER_ACCOUNT * len(self.accounts)),
                "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        with log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                             str(self.port)], env=env, stdout=out, stderr=subprocess.STDOUT)
        self._wait()
        self._admins = {account: self._bootstrap(account) for account in self.accounts}

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the IAM-enforcing moto server did not start")

    def _client(self, service: str, credentials: dict[str, str]) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **credentials)

    def _bootstrap(self, account: str) -> dict[str, str]:
        """Three unauthenticated calls: an admin role in `account`, and its credentials."""
        anonymous = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        raw = self._client("sts", anonymous).assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ADMIN}",
                                                          RoleSessionName=ADMIN)["Credentials"]
        credentials = _credentials(raw)
        iam = self._client("iam", credentials)
        iam.create_role(RoleName=ADMIN, AssumeRolePolicyDocument=json.dumps(ADMIN_TRUST))
        iam.put_role_policy(RoleName=ADMIN, PolicyName="everything", PolicyDocument=json.dumps(ALLOW_ALL))
        return credentials

    def admin(self, account: str, service: str) -> Any:
        """A client of `account`'s admin (Allow *): set-up and reading what was deployed."""
        return self._client(service, self._admins[account])

    def role_credentials(self, account: str, role: str) -> dict[str, str]:
        """Credentials of `role` itself, as its OIDC or service principal would get them.

        AssumeRoleWithWebIdentity is unsigned on AWS; moto's enforcement requires a signature, so the admin
        signs it. moto checks neither the token nor the role's trust policy here (trust is tested on the
        templates): what this gives is a session whose every call moto checks against `role`'s own policies.
        """
        sts = self.admin(account, "sts")
        # botocore registers a handler that disables signing for this call; ours must answer first
        sts.meta.events.register_first("choose-signer.sts.AssumeRoleWithWebIdentity", lambda **_: "v4")
        raw = sts.assume_role_with_web_identity(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                                                RoleSessionName=f"as-{role}"[:64],
                                                WebIdentityToken="not-checked-by-moto")["Credentials"]
        return _credentials(raw)

    def as_role(self, account: str, role: str, service: str) -> Any:
        return self._client(service, self.role_credentials(account, role))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
