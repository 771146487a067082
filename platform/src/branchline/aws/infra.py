"""The platform's own CloudFormation stacks: where their templates live, and deploying them by change set.

Two stacks (templates in `branchline/aws/templates/`, shipped as package data):

- `shared`: once per account and region (Batch compute, the `branchline-shared` / `branchline-prod` queues);
- `project`: once per project and account (bucket, image repositories, runtime roles, GitHub OIDC roles).

Both take `AccountRole`: `development` (branch namespaces), `production` (production in its own account,
recommended) or `single` (both in one account). `account_role` derives it from the project's configuration
and the account of the credentials in use, so the same command deploys the right half in each account.

Deploying always goes through a change set, so `--dry-run` shows exactly what CloudFormation would do
and changes nothing. Pure functions (parameters, change summaries) come first; the functions taking a
boto3 client do the I/O. boto3 is never imported here: callers pass clients in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from branchline.errors import BranchlineError, ConfigError

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATES: dict[str, str] = {"shared": "branchline-shared.yaml", "project": "branchline-project.yaml"}
SHARED_STACK_NAME = "branchline-shared"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
ACCOUNT_ROLES = ("development", "production", "single")
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")
POLL_SECONDS = 5.0
TIMEOUT_SECONDS = 3600.0


class InfraError(BranchlineError):
    """A stack that cannot be deployed as asked (bad parameters, a stack in a state that blocks changes)."""


# ---------------------------------------------------------------------------------------------- templates
def template_path(stack: str) -> Path:
    """The template file of `stack` (`shared` or `project`)."""
    if stack not in TEMPLATES:
        raise InfraError(f"unknown stack {stack!r}", hint=f"use one of: {', '.join(TEMPLATES)}")
    return TEMPLATE_DIR / TEMPLATES[stack]


def template_text(stack: str) -> str:
    return template_path(stack).read_text()


def default_stack_name(stack: str, project: str | None = None) -> str:
    """`branchline-shared` for the shared stack, `branchline-<project>` for a project stack."""
    if stack == "shared":
        return SHARED_STACK_NAME
    if not project:
        raise ConfigError("the project stack needs a project name", hint="set [tool.branchline] project")
    return f"branchline-{project}"


@dataclass(frozen=True)
class TemplateParameter:
    name: str
    default: str | None
    description: str = ""


def _load_yaml(text: str) -> Any:
    """CloudFormation YAML with its short-form tags (`!Sub`, `!Ref`...) read as plain values."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]

    Loader.add_multi_constructor("!", untagged)
    return yaml.load(text, Loader=Loader)  # a SafeLoader subclass: no arbitrary objects


def template_parameters(text: str) -> dict[str, TemplateParameter]:
    """The `Parameters` a template declares, with their defaults (None: the parameter is required)."""
    declared = (_load_yaml(text) or {}).get("Parameters") or {}
    return {
        name: TemplateParameter(
            name,
            None if "Default" not in spec else _as_string(spec["Default"]),
            " ".join(str(spec.get("Description", "")).split()),
        )
        for name, spec in declared.items()
    }


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


# ---------------------------------------------------------------------------------------------- parameters
def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """`["Key=Value", ...]` → dict; list values stay comma-separated as CloudFormation wants them."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"parameter {pair!r} is not KEY=VALUE",
                hint="e.g. --param SubnetIds=subnet-0a,subnet-0b (no spaces around =)",
            )
        parsed[key.strip()] = value.strip()
    return parsed


def split_github_repository(repository: str) -> tuple[str, str]:
    """`ORG/REPO` → (`ORG`, `REPO`), exactly as GitHub spells them: the OIDC subject is case-sensitive."""
    org, sep, repo = repository.strip().partition("/")
    if not sep or not org or not repo or "/" in repo:
        raise ConfigError(
            f"GitHub repository {repository!r} is not ORG/REPO",
            hint="pass --github-repo my-org/my-repo (as spelled on GitHub) or set GITHUB_REPOSITORY",
        )
    return org, repo


def check_parameters(
    declared: Mapping[str, TemplateParameter], given: Mapping[str, str], stack: str, previous: Iterable[str] = ()
) -> None:
    """Fail before changing anything when a parameter is unknown or a required one has no value.

    `previous`: parameters the existing stack already has (an update keeps their values).
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InfraError(
            f"the {stack} stack has no parameter {', '.join(unknown)}",
            hint=f"its parameters are: {', '.join(declared)}",
        )
    known = set(given) | set(previous)
    missing = [p for p in declared.values() if p.default is None and p.name not in known]
    if missing:
        first = missing[0]
        raise InfraError(
            f"the {stack} stack needs {', '.join(p.name for p in missing)}",
            hint=f"pass --param {first.name}=VALUE ({first.description or 'see docs/infra.md'})",
        )


def change_set_parameters(
    given: Mapping[str, str], declared: Iterable[str], previous: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """The `Parameters` of a change set: what was given; on update, earlier values for the rest.

    Without `UsePreviousValue`, an update would silently reset every parameter not repeated on the
    command line to its default (e.g. a platform engineer's SubnetIds).
    """
    params: list[dict[str, Any]] = [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(given.items())]
    kept = sorted((set(previous) & set(declared)) - set(given))
    params += [{"ParameterKey": k, "UsePreviousValue": True} for k in kept]
    return params


def project_parameters(
    project: str,
    github_repository: str,
    *,
    account_role: str = "single",
    production_branch: str = "main",
    bucket: str | None = None,
    oidc_provider_exists: bool | None = None,
) -> dict[str, str]:
    """Project stack parameters that follow from the project's configuration."""
    org, repo = split_github_repository(github_repository)
    params = {"Project": project, "AccountRole": account_role, "GitHubOrg": org, "GitHubRepo": repo,
              "ProductionBranch": production_branch}
    if bucket:
        params["BucketName"] = bucket
    if oidc_provider_exists is not None:
        params["CreateOidcProvider"] = "false" if oidc_provider_exists else "true"
    return params


def account_role(caller: str, account_id: str | None, production_account_id: str | None) -> str:
    """Which half of the project the account `caller` holds, from `[tool.branchline.aws]` account ids.

    No separate production account configured: `single` (and, when `account_id` is set, only that account).
    """
    if not production_account_id or production_account_id == account_id:
        if account_id and caller != account_id:
            raise InfraError(
                f"the credentials are of account {caller}, but the project lives in account {account_id}",
                hint="use credentials of tool.branchline.aws.account_id (AWS_PROFILE), or fix the setting",
            )
        return "single"
    if caller == production_account_id:
        return "production"
    if account_id and caller != account_id:
        raise InfraError(
            f"the credentials are of account {caller}, which is neither the development account {account_id} "
            f"nor the production account {production_account_id}",
            hint="use credentials of one of them (AWS_PROFILE), or pass --account-role explicitly",
        )
    return "development"


def change_set_name(now: datetime | None = None) -> str:
    return "branchline-" + (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


# ---------------------------------------------------------------------------------------------- change sets
@dataclass(frozen=True)
class Change:
    action: str
    logical_id: str
    resource_type: str
    replacement: str = ""


@dataclass
class StackDeployResult:
    """What deploying one CloudFormation stack did (a flow's deploy is `aws.deploy.FlowDeployResult`)."""

    stack_name: str
    change_type: str  # CREATE or UPDATE
    changes: list[Change] = field(default_factory=list)
    executed: bool = False
    status: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


def summarise_changes(described: Iterable[Mapping[str, Any]]) -> list[Change]:
    """`DescribeChangeSet` `Changes` → one row per resource."""
    rows = []
    for change in described:
        rc = change.get("ResourceChange") or {}
        rows.append(
            Change(
                action=str(rc.get("Action", "")),
                logical_id=str(rc.get("LogicalResourceId", "")),
                resource_type=str(rc.get("ResourceType", "")),
                replacement=str(rc.get("Replacement", "") or ""),
            )
        )
    return rows


def is_no_change(status_reason: str | None) -> bool:
    return any(reason in (status_reason or "") for reason in NO_CHANGE_REASONS)


def change_type_for(status: str | None, stack_name: str) -> str:
    """CREATE for a new stack (or one left in review by a dry run), UPDATE otherwise; refuse blocked states."""
    if status is None or status == "REVIEW_IN_PROGRESS":
        return "CREATE"
    if status == "ROLLBACK_COMPLETE":
        raise InfraError(
            f"stack {stack_name} is in ROLLBACK_COMPLETE (its creation failed) and cannot be updated",
            hint=f"delete it (aws cloudformation delete-stack --stack-name {stack_name}), then deploy again",
        )
    if status.endswith("_IN_PROGRESS"):
        raise InfraError(
            f"stack {stack_name} is busy ({status})",
            hint="wait until its current operation ends, then deploy again",
        )
    if status.startswith("DELETE_"):
        raise InfraError(f"stack {stack_name} is {status}", hint="wait for the deletion to end or delete it")
    return "UPDATE"


# ---------------------------------------------------------------------------------------------- I/O
def describe_stack(cfn: Any, stack_name: str) -> dict[str, Any] | None:
    """The stack's description, or None when there is no such stack."""
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return stacks[0] if stacks else None


def oidc_provider_exists(iam: Any) -> bool:
    """Whether this account already has GitHub's OIDC provider (there can be only one)."""
    arns = [p["Arn"] for p in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])]
    return any(arn.endswith(f"oidc-provider/{GITHUB_OIDC_HOST}") for arn in arns)


def _wait(describe: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool],
          what: str, poll: float, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = describe()
        if done(state):
            return state
        if time.monotonic() > deadline:
            raise InfraError(f"gave up waiting for {what} after {timeout:.0f} s",
                             hint="look at the stack's events in the CloudFormation console")
        time.sleep(poll)


def _failure_reasons(cfn: Any, stack_name: str, limit: int = 5) -> list[str]:
    events = cfn.describe_stack_events(StackName=stack_name).get("StackEvents", [])
    failed = [e for e in events if str(e.get("ResourceStatus", "")).endswith("FAILED")]
    return [f"{e.get('LogicalResourceId')} ({e.get('ResourceType')}): {e.get('ResourceStatusReason', '')}"
            for e in failed[:limit]]


def deploy_stack(
    cfn: Any,
    stack_name: str,
    template: str,
    parameters: Mapping[str, str],
    *,
    dry_run: bool = False,
    tags: Mapping[str, str] | None = None,
    stack: str = "",
    poll: float = POLL_SECONDS,
    timeout: float = TIMEOUT_SECONDS,
    on_changes: Callable[[StackDeployResult], None] | None = None,
) -> StackDeployResult:
    """Check the parameters, create a change set, show it (`on_changes`), then execute it or (dry run) delete it.

    A dry run of a new stack also deletes the empty stack CloudFormation creates to hold the change set,
    so that nothing is left behind.
    """
    from botocore.exceptions import ClientError

    declared = template_parameters(template)
    existing = describe_stack(cfn, stack_name)
    change_type = change_type_for(existing["StackStatus"] if existing else None, stack_name)
    previous = [p["ParameterKey"] for p in (existing or {}).get("Parameters", [])] if change_type == "UPDATE" else []
    check_parameters(declared, parameters, stack or stack_name, previous)
    name = change_set_name()
    try:
        cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType=change_type,
            TemplateBody=template,
            Parameters=change_set_parameters(parameters, declared, previous),
            Capabilities=CAPABILITIES,
            Tags=[{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())],
        )
    except ClientError as exc:  # some endpoints refuse an empty change set outright instead of failing it
        if is_no_change(str(exc)):
            return StackDeployResult(stack_name, change_type, status="UNCHANGED")
        raise
    described = _wait(
        lambda: cfn.describe_change_set(StackName=stack_name, ChangeSetName=name),
        lambda d: d["Status"] not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"),
        f"change set {name}", poll, timeout,
    )
    result = StackDeployResult(stack_name, change_type, summarise_changes(described.get("Changes", [])))
    if described["Status"] == "FAILED":
        _discard(cfn, stack_name, name, delete_stack=existing is None)
        if is_no_change(described.get("StatusReason")):
            result.status = "UNCHANGED"
            return result
        raise InfraError(f"CloudFormation rejected the change set: {described.get('StatusReason')}",
                         hint="fix the template or parameters; `branchline infra validate` lints the templates")
    if on_changes:
        on_changes(result)
    if dry_run:
        _discard(cfn, stack_name, name, delete_stack=existing is None)
        result.status = "DRY_RUN"
        return result
    cfn.execute_change_set(StackName=stack_name, ChangeSetName=name)
    final = _wait(
        lambda: describe_stack(cfn, stack_name) or {"StackStatus": "DELETE_COMPLETE"},
        lambda s: not str(s["StackStatus"]).endswith("_IN_PROGRESS"),
        f"stack {stack_name}", poll, timeout,
    )
    result.executed, result.status = True, str(final["StackStatus"])
    if result.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        reasons = "; ".join(_failure_reasons(cfn, stack_name)) or "no failure events"
        raise InfraError(f"stack {stack_name} ended in {result.status}: {reasons}",
                         hint="fix the cause above and deploy again")
    result.outputs = {o["OutputKey"]: o["OutputValue"] for o in final.get("Outputs") or []}
    return result


def _discard(cfn: Any, stack_name: str, change_set: str, *, delete_stack: bool) -> None:
    cfn.delete_change_set(StackName=stack_name, ChangeSetName=change_set)
    if delete_stack:
        cfn.delete_stack(StackName=stack_name)


# ---------------------------------------------------------------------------------------------- lint
@dataclass(frozen=True)
class LintFinding:
    stack: str
    rule: str
    line: int
    message: str


def lint_template(stack: str, regions: list[str] | None = None) -> list[LintFinding]:
    """cfn-lint findings of one template (empty: clean). cfn-lint is a dev tool: say how to get it."""
    try:
        from cfnlint.api import ManualArgs, lint
    except ImportError:
        raise ConfigError("cfn-lint is not installed", hint="pip install cfn-lint") from None
    matches = lint(template_text(stack), config=ManualArgs(regions=regions or ["us-east-1"]))
    return [LintFinding(stack, m.rule.id, m.linenumber, m.message) for m in matches]
