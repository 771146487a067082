"""One function per `branchline ci` command: check the event, then do the job, checks first and work after.

Every precondition a job can check without side effects (event, namespace, token, settings, smoke
parameters) is checked before the first upload or deploy, so a misconfigured workflow fails at once
and leaves nothing half-done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from branchline.aws.deploy import FlowDeployResult, Plan, deploy, teardown
from branchline.aws.deploy.lock import holder_from_env
from branchline.aws.deploy.printer import print_plan
from branchline.aws.deploy.project import current_git_sha, load_flows
from branchline.aws.deploy.settings import AwsSettings, aws_settings, configured_bucket
from branchline.aws.session import aws_errors, client, region
from branchline.ci.actions import write_outputs, write_summary
from branchline.ci.context import CIError, GitHubContext, github_context
from branchline.ci.github import GitHub, upsert_comment
from branchline.ci.inputs import (
    CodePackageChoice,
    ImageChoice,
    choose_image,
    protect_production_image,
    upload_code_package,
)
from branchline.ci.policy import cleanup_namespace, deploy_source, pr_namespace, release_namespace
from branchline.ci.prune import deployed_branch_namespaces, read_branches_file, remote_branches, stale_namespaces
from branchline.ci.pulls import other_open_pulls
from branchline.ci.repo_settings import check_production, refusal_message
from branchline.ci.report import (
    DeployReport,
    FlowLine,
    SmokeOutcome,
    code,
    mlflow_home_url,
    render,
    state_machine_console_url,
)
from branchline.ci.smoke import run_smoke, smoke_failure, smoke_plan
from branchline.ci.verdict import gate_verdicts
from branchline.config import Config, load_config
from branchline.namespaces import Names, is_production


@dataclass
class PrOptions:
    image: str | None = None
    skip_image: bool = False
    smoke: bool = False
    smoke_flow: str | None = None
    smoke_timeout: float | None = None
    comment: bool = True


@dataclass
class CiDeployOutcome:
    """What `ci pr` / `ci release` did (the deployer's own result is `aws.deploy.FlowDeployResult`)."""

    namespace: str
    report: DeployReport
    markdown: str
    comment_id: int | None = None
    comment_created: bool | None = None


@dataclass
class PruneOutcome:
    deployed: list[str]
    stale: list[str]
    removed: list[str] = field(default_factory=list)
    calls: int = 0


# ----------------------------------------------------------------------------- shared steps


def _prepare(config: Config, namespace: str) -> tuple[Names, AwsSettings]:
    return Names(config.project, namespace), aws_settings(config, namespace)


def _flow_lines(state_machines: Mapping[str, str], region: str) -> tuple[FlowLine, ...]:
    """flow → live alias ARN, with the version `live` routes to (read back from AWS)."""
    sfn = client("stepfunctions")
    lines = []
    for flow, alias_arn in sorted(state_machines.items()):
        machine = alias_arn.rsplit(":", 1)[0]
        routes = sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn).get("routingConfiguration", [])
        version = int(routes[0]["stateMachineVersionArn"].rsplit(":", 1)[1]) if len(routes) == 1 else None
        lines.append(FlowLine(flow, machine.rsplit(":", 1)[1], alias_arn,
                              state_machine_console_url(region, machine), version))
    return tuple(lines)


@dataclass
class Deployed:
    names: Names
    settings: AwsSettings
    image: ImageChoice
    code: CodePackageChoice
    result: FlowDeployResult


def _deploy(config: Config, ctx: GitHubContext, namespace: str, options: PrOptions, console: Console) -> Deployed:
    """Image, code package, deploy: the part `ci pr` and `ci release` share."""
    names, settings = _prepare(config, namespace)
    production = is_production(namespace)
    log = lambda line: console.print(line, markup=False)  # noqa: E731
    image = choose_image(config, image=options.image, skip_image=options.skip_image, log=log, production=production)
    if production:  # prod-<sha> before anything references it: the lifecycle rule keeps what production ran
        protect_production_image(config, image.reference, ctx.sha or current_git_sha(config.root), log)
    console.print(f"image: {image.reference} ({image.source})", markup=False)
    code = upload_code_package(config, names, settings.bucket)
    console.print(f"code package: {code.url} ({code.files} files, {'uploaded' if code.uploaded else 'present'})",
                  markup=False)
    sha = ctx.sha or current_git_sha(config.root)
    result = deploy(config, namespace, image=image.reference, code_package=code.url, git_sha=sha,
                    holder=holder_from_env("deploy", sha, dict(ctx.env)), log=log,
                    source=deploy_source(ctx))
    print_plan(result.plan, f"deploy {namespace}", console)
    return Deployed(names, settings, image, code, result)


def _publish_report(ctx: GitHubContext, outcome: CiDeployOutcome, console: Console) -> None:
    write_summary(ctx.env, render(outcome.report, marker=None))
    write_outputs(ctx.env, {"namespace": outcome.namespace, "image": outcome.report.image,
                            "code-package": outcome.report.code_package})
    console.print(f"namespace: {outcome.namespace}", markup=False)


# ----------------------------------------------------------------------------- ci pr


def ci_pr(env: Mapping[str, str], options: PrOptions, console: Console, *,
          config: Config | None = None) -> CiDeployOutcome:
    """Deploy a pull request's branch namespace and report it in one PR comment, updated in place."""
    ctx = github_context(env)
    config = config or load_config()
    namespace = pr_namespace(ctx, config.production_branch)
    number = ctx.pr_number
    github = GitHub(ctx.api_url, ctx.token, ctx.repository) if options.comment else None
    _prepare(config, namespace)  # settings checked before any work
    plan = None
    if options.smoke:
        graphs = {graph.name: graph for _, graph in load_flows(config)}
        plan = smoke_plan(config, graphs, flow=options.smoke_flow, timeout_s=options.smoke_timeout)

    done = _deploy(config, ctx, namespace, options, console)
    where = region()
    smoke: SmokeOutcome | None = None
    if plan is not None:
        console.print(f"smoke run of {plan.flow} (waiting at most {plan.timeout_s:g} s)", markup=False)
        smoke = run_smoke(plan, done.names, bucket=done.settings.bucket, region=where)
        console.print(f"smoke run {smoke.run_id}: {smoke.status}", markup=False)
    report = DeployReport(
        title=f"branchline: pull request #{number}", namespace=namespace, git_sha=ctx.sha or "unknown",
        head_sha=ctx.head_sha or None, branch=ctx.head_ref, image=done.image.reference, image_source=done.image.source,
        code_package=done.code.url, code_uploaded=done.code.uploaded, changes=len(done.result.plan.calls),
        flows=_flow_lines(done.result.state_machines, where), smoke=smoke,
        verdicts=gate_verdicts(config, namespace, smoke), mlflow_url=mlflow_home_url(config.tracking_uri),
        run_url=ctx.run_url,
    )
    markdown = render(report)
    outcome = CiDeployOutcome(namespace, report, markdown)
    if github is not None:
        posted = upsert_comment(github, number, markdown)
        outcome.comment_id, outcome.comment_created = posted.id, posted.created
        console.print(f"PR comment {'created' if posted.created else 'updated'}: {posted.url or posted.id}",
                      markup=False)
    _publish_report(ctx, outcome, console)
    failure = smoke_failure(smoke, plan.timeout_s) if smoke is not None and plan is not None else None
    if failure is not None:
        raise failure
    return outcome


# ----------------------------------------------------------------------------- ci release


def _require_protected_production(ctx: GitHubContext, config: Config, console: Console) -> None:
    """Refuse to release while the `production` environment is not limited to the production branch."""
    verdict = check_production(ctx.api_url, ctx.token, ctx.repository, config.production_branch)
    for note in verdict.notes:
        console.print(f"note: {note.message}", markup=False)
    if not verdict.ok:
        raise CIError(refusal_message(verdict, config.production_branch),
                      hint="fix the repository settings (docs/infra.md), then re-run; `branchline infra check` "
                           "shows the same")


def ci_release(env: Mapping[str, str], options: PrOptions, console: Console, *,
               config: Config | None = None) -> CiDeployOutcome:
    """Deploy `prod` for a push to the production branch: a new version, `live` moved to it."""
    ctx = github_context(env)
    config = config or load_config()
    namespace = release_namespace(ctx, config.production_branch)
    _require_protected_production(ctx, config, console)  # before anything is built, uploaded or deployed
    done = _deploy(config, ctx, namespace, options, console)
    flows = _flow_lines(done.result.state_machines, region())
    report = DeployReport(
        title="branchline: release", namespace=namespace, git_sha=ctx.sha or "unknown", image=done.image.reference,
        image_source=done.image.source, code_package=done.code.url, code_uploaded=done.code.uploaded,
        changes=len(done.result.plan.calls), flows=flows, run_url=ctx.run_url,
    )
    outcome = CiDeployOutcome(namespace, report, render(report, marker=None))
    for line in flows:
        console.print(f"{line.flow}: {line.alias_arn} -> version {line.version}", markup=False)
    _publish_report(ctx, outcome, console)
    return outcome


# ----------------------------------------------------------------------------- ci cleanup


def ci_cleanup(env: Mapping[str, str], console: Console, *, dry_run: bool = False,
               config: Config | None = None) -> Plan:
    """Tear down a closed pull request's namespace (never prod, nor one another open pull request of the same
    branch still uses); returns the plan it ran (empty when the namespace is kept)."""
    ctx = github_context(env)
    config = config or load_config()
    namespace = cleanup_namespace(ctx, config.production_branch)
    others = other_open_pulls(ctx)
    if others:
        numbers = ", ".join(f"#{p.number}" for p in others)
        line = (f"namespace {namespace} kept: the branch is still the head of open pull request(s) {numbers}; "
                "the last one to close tears it down")
        console.print(line, markup=False)
        write_summary(ctx.env, f"### branchline: cleanup of namespace {code(namespace, in_table=False)}\n\n"
                               f"kept: still used by open pull request(s) {numbers}.\n")
        return Plan(notes=[line])
    plan = teardown(config, namespace, dry_run=dry_run, holder=holder_from_env("teardown", env=dict(ctx.env)),
                    log=lambda line: console.print(line, markup=False))
    title = f"teardown {namespace}" + (" (dry run: nothing changed)" if dry_run else "")
    print_plan(plan, title, console)
    verb = "would delete" if dry_run else "deleted"
    write_summary(ctx.env, f"### branchline: cleanup of namespace {code(namespace, in_table=False)}\n\n"
                           f"{verb} {len(plan.calls)} resources (branch {code(ctx.head_ref, in_table=False)}).\n")
    return plan


# ----------------------------------------------------------------------------- ci prune


def ci_prune(env: Mapping[str, str], console: Console, *, branches_file: Path | None = None, dry_run: bool = False,
             remote: str = "origin", config: Config | None = None) -> PruneOutcome:
    """Remove branch namespaces whose branches no longer exist (`--dry-run`: only say which)."""
    config = config or load_config()
    branches = read_branches_file(branches_file) if branches_file else remote_branches(config.root, env, remote)
    with aws_errors("listing the deployed namespaces"):
        deployed = sorted(deployed_branch_namespaces(client, config.project, configured_bucket(config)))
    outcome = PruneOutcome(deployed, stale_namespaces(deployed, branches, config.production_branch))
    console.print(f"{len(branches)} branches, {len(deployed)} branch namespaces deployed, "
                  f"{len(outcome.stale)} without a branch", markup=False)
    failures = []
    for namespace in outcome.stale:
        try:
            plan = teardown(config, namespace, dry_run=dry_run, holder=holder_from_env("prune", env=dict(env)),
                            log=lambda line: console.print(line, markup=False))
        except Exception as exc:  # one namespace failing must not keep the others alive
            failures.append(f"{namespace}: {exc}")
            continue
        outcome.calls += len(plan.calls)
        outcome.removed.append(namespace)
        console.print(f"{'would remove' if dry_run else 'removed'} {namespace} ({len(plan.calls)} calls)",
                      markup=False)
    if failures:
        raise CIError(f"prune failed for {len(failures)} namespaces: " + "; ".join(failures),
                      hint="re-run the prune; each teardown starts from what is left")
    return outcome
