"""`branchline infra print | validate | deploy | check`: the platform's stacks and GitHub settings (docs/infra.md).

`cli/main.py` imports this module only when `infra` runs; boto3, PyYAML and cfn-lint load inside the commands.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from branchline.aws import infra
from branchline.aws.deploy.settings import account_setting, caller_account
from branchline.aws.session import aws_errors, client
from branchline.ci.context import DEFAULT_API_URL
from branchline.ci.repo_settings import check_production, expected_subjects, refusal_message
from branchline.config import Config, load_config
from branchline.errors import ConfigError
from branchline.namespaces.names import validate_project

console = Console(highlight=False)


class Stack(StrEnum):
    shared = "shared"
    project = "project"


class AccountRole(StrEnum):
    development = "development"
    production = "production"
    single = "single"


def _print_changes(result: infra.StackDeployResult) -> None:
    verb = "create" if result.change_type == "CREATE" else "update"
    if not result.changes:
        console.print(f"{result.stack_name}: change set to {verb} the stack has no resource changes")
        return
    table = Table(title=f"{result.stack_name}: {verb}", title_justify="left")
    for column in ("action", "resource", "type", "replacement"):
        table.add_column(column)
    for change in result.changes:
        table.add_row(change.action, change.logical_id, change.resource_type, change.replacement)
    console.print(table)


def _account_role(config: Config, region: str | None) -> str:
    """development / production / single, from [tool.branchline.aws] and the account of the credentials."""
    with aws_errors("asking STS which account the credentials belong to"):
        caller = caller_account(client("sts", region_name=region))
    role = infra.account_role(caller, account_setting(config, "account_id"),
                              account_setting(config, "production_account_id"))
    console.print(f"account {caller}: deploying the {role} side", markup=False)
    return role


def _project_parameters(github_repo: str | None, given: dict[str, str], region: str | None,
                        stack_name: str | None) -> dict[str, str]:
    """Defaults from [tool.branchline] and the account; `given` wins.

    Whether to create GitHub's OIDC provider is decided only when the stack is new (is the provider
    already in the account?); on update the stack keeps its earlier choice, since the provider it
    created itself must not be mistaken for someone else's and deleted.
    """
    config = load_config()
    project = validate_project(str(given.get("Project") or config.project))
    repository = github_repo or os.environ.get("GITHUB_REPOSITORY", "")
    if not repository and not {"GitHubOrg", "GitHubRepo"} <= set(given):
        raise ConfigError(
            "the project stack needs the GitHub repository its workflows run in",
            hint="pass --github-repo ORG/REPO (spelled as on GitHub: the OIDC subject is case-sensitive)",
        )
    exists: bool | None = None
    name = stack_name or infra.default_stack_name("project", project)
    with aws_errors("looking for GitHub's OIDC provider"):
        if "CreateOidcProvider" not in given and infra.describe_stack(client("cloudformation", region_name=region),
                                                                      name) is None:
            exists = infra.oidc_provider_exists(client("iam", region_name=region))
            console.print(f"GitHub OIDC provider {'found: reusing it' if exists else 'not found: creating it'}")
    role = given.get("AccountRole") or _account_role(config, region)
    bucket_key = "aws.production_bucket" if role == "production" else "aws.bucket"
    defaults = infra.project_parameters(
        project,
        repository or f"{given['GitHubOrg']}/{given['GitHubRepo']}",
        account_role=role,
        production_branch=config.production_branch,
        bucket=config.get(bucket_key) or None,
        oidc_provider_exists=exists,
    )
    return defaults | given


def register(app: typer.Typer) -> None:
    infra_app = typer.Typer(
        help="The platform's AWS infrastructure (CloudFormation): shared Batch queues, per-project roles.\n\n"
        "Example: branchline infra deploy --stack project --dry-run",
        no_args_is_help=True,
    )
    app.add_typer(infra_app, name="infra")

    @infra_app.command("print", help="Print a CloudFormation template (both when --stack is not given).\n\n"
                                     "Example: branchline infra print --stack shared")
    def print_(stack: Stack | None = typer.Option(None, "--stack", help="shared or project.")) -> None:
        chosen = [stack.value] if stack else list(infra.TEMPLATES)
        for name in chosen:
            if len(chosen) > 1:
                sys.stdout.write(f"# ---- {infra.template_path(name).name}\n")
            sys.stdout.write(infra.template_text(name))

    @infra_app.command(help="Lint the templates with cfn-lint (exit 1 on any finding).\n\n"
                               "Example: branchline infra validate --region eu-west-1")
    def validate(
        stack: Stack | None = typer.Option(None, "--stack", help="shared or project (default: both)."),
        region: list[str] = typer.Option(["us-east-1"], "--region", help="Regions to check resource specs for."),
    ) -> None:
        findings = [f for name in ([stack.value] if stack else list(infra.TEMPLATES))
                    for f in infra.lint_template(name, region)]
        for f in findings:
            console.print(f"{infra.template_path(f.stack).name}:{f.line}: {f.rule} {f.message}", markup=False)
        if findings:
            raise infra.InfraError(f"cfn-lint found {len(findings)} problem(s) (listed above)",
                                   hint="fix the templates under platform/src/branchline/aws/templates/")
        console.print("templates are cfn-lint clean")

    @infra_app.command(help="Create or update a stack through a change set (--dry-run: show it, change nothing).\n\n"
                               "Example: branchline infra deploy --stack project -p GitHubRepo=ORG/REPO --dry-run")
    def deploy(
        stack: Stack = typer.Option(..., "--stack", help="shared (once per account/region) or project."),
        param: list[str] = typer.Option([], "--param", "-p", help="Template parameter KEY=VALUE (repeatable)."),
        github_repo: str | None = typer.Option(None, "--github-repo",
                                               help="ORG/REPO of the project (default: $GITHUB_REPOSITORY)."),
        stack_name: str | None = typer.Option(None, "--stack-name", help="Default: branchline-shared / "
                                              "branchline-<project>."),
        region: str | None = typer.Option(None, "--region", help="Default: AWS_REGION, then [tool.branchline.aws]."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show the change set, then delete it."),
        account_role: AccountRole | None = typer.Option(
            None, "--account-role", help="development, production or single (default: from [tool.branchline.aws] "
            "account_id / production_account_id and the account of the credentials)."),
    ) -> None:
        given = infra.parse_overrides(param)
        if account_role is not None:
            given["AccountRole"] = account_role.value
        if stack is Stack.project:
            given = _project_parameters(github_repo, given, region, stack_name)
        elif "AccountRole" not in given:
            given["AccountRole"] = _account_role(load_config(), region)
        name = stack_name or infra.default_stack_name(stack.value, given.get("Project"))
        tags = {"branchline:component": stack.value}
        if stack is Stack.project:
            tags["branchline:project"] = given["Project"]
        with aws_errors(f"deploying stack {name}"):
            result = infra.deploy_stack(
                client("cloudformation", region_name=region), name, infra.template_text(stack.value), given,
                dry_run=dry_run, tags=tags, stack=stack.value, on_changes=_print_changes,
            )
        if result.status == "UNCHANGED":
            console.print(f"{name}: [green]up to date[/] (no changes)")
        elif result.status == "DRY_RUN":
            console.print(f"{name}: dry run, nothing changed (change set deleted)")
        else:
            console.print(f"{name}: [green]{result.status}[/]")
            for key, value in result.outputs.items():
                console.print(f"  {key} = {value}", markup=False)

    @infra_app.command(help="Check that GitHub lets only the production branch, with a reviewer, reach production.\n\n"
                               "Example: GITHUB_TOKEN=... branchline infra check --github-repo ORG/REPO")
    def check(
        github_repo: str | None = typer.Option(None, "--github-repo", help="ORG/REPO (default: $GITHUB_REPOSITORY)."),
        api_url: str | None = typer.Option(None, "--api-url", help="Default: $GITHUB_API_URL, then api.github.com."),
    ) -> None:
        config = load_config()
        repository = "/".join(infra.split_github_repository(github_repo or os.environ.get("GITHUB_REPOSITORY", "")))
        token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or ""
        url = api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL
        verdict = check_production(url, token, repository, config.production_branch)
        for line in verdict.passed:
            console.print(f"[green]ok[/]   {line}", soft_wrap=True)
        for note in verdict.notes:
            console.print(f"note: {note.message}" + (f" ({note.hint})" if note.hint else ""), markup=False,
                          soft_wrap=True)
        for name, subject in expected_subjects(repository, config.production_branch).items():
            console.print(f"the {name} role trusts the OIDC subject {subject}", markup=False, soft_wrap=True)
        if not verdict.ok:
            raise infra.InfraError(refusal_message(verdict, config.production_branch),
                                   hint="change the repository settings (docs/infra.md, one-time GitHub settings)")
        console.print(f"production is reachable only from {config.production_branch!r}, with a reviewer")

