"""IAM requests evaluated by iam-simulate (@cloud-copilot/iam-simulate, npm), a maintained IAM evaluator.

It evaluates identity policies, resource policies (bucket, repository), explicit Deny, `NotResource`, every
condition operator against the request context, and cross-account requests (the resource's account must
also allow), in strict mode: an action it does not know, a resource type the action does not take or a
context key the action cannot have is an error, never a silent guess (`Outcome.errors`, `Outcome.ignored`).

What it is given is read from the accounts on the IAM-enforcing moto server: each role's policies as
CloudFormation deployed them, the role's tags, the target resource's real ARN and tags. What it cannot
prove: the context we supply is what AWS would supply (we fill `aws:ResourceTag/…`, `aws:PrincipalTag/…`,
`aws:PrincipalArn` ourselves; the library does not derive them yet), service-side checks outside IAM (e.g.
Step Functions calling `iam:PassRole` on CreateStateMachine) and the OIDC trust (its action data has no
`token.actions.githubusercontent.com:sub` key for AssumeRoleWithWebIdentity; trust is checked on the
templates and by `branchline infra check`).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.npm_tools import npm_package

IAM_SIMULATE_VERSION = "0.1.173"
RUNNER = Path(__file__).with_name("iam_simulate_runner.cjs")


@dataclass(frozen=True)
class Identity:
    """A principal as deployed: its ARN and account, its policies, its tags."""

    arn: str
    account: str
    policies: tuple[tuple[str, dict[str, Any]], ...]
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[1]


@dataclass(frozen=True)
class Target:
    """What a request acts on: an ARN in an account, its tags, and the policy on it (if any)."""

    arn: str
    account: str
    tags: Mapping[str, str] = field(default_factory=dict)
    policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class Outcome:
    result: str | None  # Allowed, ExplicitlyDenied, ImplicitlyDenied; None with errors
    errors: Any = None
    ignored: tuple[str, ...] = ()


def simulation(who: Identity, action: str, target: Target,
               extra: Mapping[str, str | list[str]] | None = None) -> dict[str, Any]:
    """The request as iam-simulate takes it; the context holds what AWS would put there."""
    context: dict[str, str | list[str]] = {"aws:PrincipalArn": who.arn, "aws:PrincipalAccount": who.account}
    context |= {f"aws:PrincipalTag/{k}": v for k, v in who.tags.items()}
    context |= {f"aws:ResourceTag/{k}": v for k, v in target.tags.items()}
    context |= dict(extra or {})
    request: dict[str, Any] = {
        "identityPolicies": [{"name": name, "policy": policy} for name, policy in who.policies],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
        "request": {"action": action, "principal": who.arn,
                    "resource": {"resource": target.arn, "accountId": target.account},
                    "contextVariables": context},
    }
    if target.policy is not None:
        request["resourcePolicy"] = target.policy
    return request


class IamSimulate:
    """One node process per batch of requests (a few hundred milliseconds for all of them)."""

    def __init__(self) -> None:
        self.package = npm_package(f"@cloud-copilot/iam-simulate@{IAM_SIMULATE_VERSION}",
                                   "@cloud-copilot/iam-simulate/dist/cjs/index.js")

    def evaluate(self, simulations: Sequence[dict[str, Any]]) -> list[Outcome]:
        done = subprocess.run(["node", str(RUNNER), str(self.package)], input=json.dumps(list(simulations)),
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return [Outcome(o["result"], o["errors"], tuple(o["ignored"])) for o in json.loads(done.stdout)]
