"""`python flow.py step-functions create|trigger|list-runs|terminate|delete`: Metaflow's commands, deployed.

Each is `branchline deploy / trigger / status / teardown` for this one flow, in the namespace the flow's options
choose (the same names as everywhere: `user-<name>` by default, the branch's with `--branch`, `prod` with
`--production`). Metaflow's production tokens (`--authorize`, `--generate-new-token`, `--new-token`) are accepted
and explained: production is protected by the release role and the production account, not by a token, and a
deploy checks the caller's account before it writes anything. Loaded only when a flow file runs one of them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from branchline.authoring.flowspec import FlowSpec
from branchline.authoring.project import Placement
from branchline.aws.compile.schedule import DEFAULT_TIMEZONE, eventbridge_cron
from branchline.aws.deploy import delete_flow, deploy
from branchline.aws.deploy.observe import state_machine_arns
from branchline.aws.deploy.printer import print_plan
from branchline.aws.deploy.project import current_git_sha
from branchline.aws.deploy.settings import aws_settings, caller_account, check_account
from branchline.aws.ops.status import execution_arn_for
from branchline.aws.ops.trigger import NotDeployed, alias_arn, start_run, typed_params
from branchline.aws.session import aws_errors, client
from branchline.ci.inputs import choose_image, protect_production_image, upload_code_package
from branchline.config import Config
from branchline.errors import FlowError
from branchline.graph.model import FlowGraph
from branchline.images.codepkg import build_code_package, package_url
from branchline.namespaces import Names
from branchline.runtime.flow_cli import given_parameters, parameter_options, placement
from branchline.runtime.launcher import flow_config
from branchline.runtime.loader import graph_from_class

TOKEN_NOTE = (
    "branchline has no production tokens: {option} is accepted and has no effect. Production is protected by the "
    "release role and the production account: a deploy to prod from this machine succeeds only with production "
    "credentials (the account check refuses any other), and the release workflow on main is the one meant to hold "
    "them."
)
EXECUTION_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _where(flow_cls: type[FlowSpec], branch: str | None, production: bool) -> tuple[Placement, Config, Path]:
    """The placement, the project configuration and the flow file (relative to the project root)."""
    where = placement(branch, production)
    file = Path(inspect.getsourcefile(flow_cls) or "flow.py").resolve()
    config = flow_config(flow_cls, file.parent)
    try:
        relative = file.relative_to(config.root)
    except ValueError:
        relative = Path(file.name)
    return where, config, relative


def _branch_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--production", is_flag=True, help="The production namespace, prod.")(command)
    return click.option("--branch", default=None, help="The namespace of this branch (as a pull request's).")(command)


def _token_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in ("--authorize", "--new-token"):
        command = click.option(option, default=None, metavar="TOKEN",
                               help="Metaflow's production token: accepted, explained, not needed.")(command)
    return click.option("--generate-new-token", is_flag=True,
                        help="Metaflow's production token reset: accepted, explained, not needed.")(command)


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, soft_wrap=True)


def build_group(flow_cls: type[FlowSpec], console: Console) -> click.Group:
    name = flow_cls.__name__

    @click.group(name="step-functions", help="Deploy the flow to AWS Step Functions, trigger and list its runs.")
    def group() -> None:
        pass

    @group.command(help="Deploy (or update) the flow on AWS Step Functions + Batch in its namespace.")
    @_branch_options
    @_token_options
    @click.option("--max-workers", type=click.IntRange(1, 10000), default=None,
                  help="Foreach items run at once (default: 16).")
    @click.option("--image", default=None, help="Step image by digest (REPO@sha256:...); default: publish the "
                  "project's, as the CI does.")
    @click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
    def create(branch: str | None, production: bool, authorize: str | None, new_token: str | None,
               generate_new_token: bool, max_workers: int | None, image: str | None, dry_run: bool) -> None:
        for option, given in (("--authorize", authorize), ("--new-token", new_token),
                              ("--generate-new-token", generate_new_token)):
            if given:
                _say(console, TOKEN_NOTE.format(option=option))
        where, config, flow_file = _where(flow_cls, branch, production)
        names = Names(config.project, where.namespace)
        _say(console, f"Deploying {name} to AWS Step Functions (namespace {where.namespace})...")
        log = lambda line: _say(console, line)  # noqa: E731
        settings = aws_settings(config, where.namespace)
        with aws_errors(f"deploy to {where.namespace}"):  # before the image is tagged or the code uploaded
            check_account(settings, where.namespace, caller_account(client("sts")))
        chosen = choose_image(config, image=image, skip_image=False, log=log, production=where.is_production)
        if where.is_production and not dry_run:
            protect_production_image(config, chosen.reference, current_git_sha(config.root), log)
        include = [flow_file.as_posix()]  # Metaflow packages the flow file even when git does not track it yet
        if dry_run:  # nothing is written: the package's address only
            code_url = package_url(build_code_package(config.root, include), settings.bucket, names.s3_prefix())
        else:
            code_url = upload_code_package(config, names, settings.bucket, include=include).url
        graph = graph_from_class(flow_cls)
        result = deploy(config, where.namespace, image=chosen.reference, code_package=code_url, dry_run=dry_run,
                        graphs=[(flow_file.as_posix(), graph)], max_concurrency=max_workers,
                        project_branch=where.branch_name)
        print_plan(result.plan, f"deploy {where.namespace}" + (" (dry run: nothing changed)" if dry_run else ""),
                   console)
        selector = f"production:{where.namespace}"
        _say(console, f"The namespace of this deployment is {selector}\n"
                      f"To analyze its results, add this line in your notebooks:\n    namespace(\"{selector}\")")
        _say(console, f"Workflow {names.state_machine(name)} pushed to AWS Step Functions successfully.\n"
                      f"What will trigger execution of the workflow: {_trigger_text(graph, where)}")

    @group.command(help="Start a run of the deployed flow (its parameters as options).")
    @_branch_options
    @click.option("--run-id", default=None, help="The run's id (default: a sortable new one).")
    def trigger(branch: str | None, production: bool, run_id: str | None, **raw: Any) -> None:
        where, config, _ = _where(flow_cls, branch, production)
        names = Names(config.project, where.namespace)
        params = typed_params(graph_from_class(flow_cls), given_parameters(flow_cls, raw))
        with aws_errors(f"trigger {name} in {where.namespace}"):
            arn = start_run(client, names, name, params, run_id)
        run = arn.rsplit(":", 1)[-1]
        _say(console, f"Workflow {names.state_machine(name)} triggered on AWS Step Functions (run-id {run})")
        _say(console, f"Read it with: namespace(\"production:{where.namespace}\"); Run(\"{name}/{run}\")")

    parameter_options(flow_cls, trigger)

    @group.command(name="list-runs", help="List the runs of the deployed flow, newest first.")
    @_branch_options
    @click.option("--running", is_flag=True)
    @click.option("--succeeded", is_flag=True)
    @click.option("--failed", is_flag=True)
    @click.option("--timed-out", is_flag=True)
    @click.option("--aborted", is_flag=True)
    def list_runs(branch: str | None, production: bool, **statuses: bool) -> None:
        where, config, _ = _where(flow_cls, branch, production)
        names = Names(config.project, where.namespace)
        wanted = [s for s in EXECUTION_STATUSES if statuses.get(s.lower())] or [None]
        with aws_errors(f"list runs of {name} in {where.namespace}"):
            arn = state_machine_arns(client).get(names.state_machine(name))
            if arn is None:
                raise NotDeployed(f"flow {name} is not deployed in namespace {where.namespace}",
                                  hint="deploy it first: python FLOW.py step-functions create")
            found = [e for status in wanted for e in _executions(arn, status)]
        if not found:
            _say(console, f"No runs of {names.state_machine(name)} found on AWS Step Functions.")
        for execution in sorted(found, key=lambda e: e["startDate"], reverse=True):
            stopped = execution.get("stopDate")
            console.print(
                f"Workflow {escape(names.state_machine(name))} run-id [bold]{escape(execution['name'])}[/] "
                f"{execution['status']} started {_time(execution['startDate'])}"
                + (f", ended {_time(stopped)}" if stopped else ""), soft_wrap=True)

    @group.command(help="Stop a run of the deployed flow.")
    @_branch_options
    @click.argument("run_id")
    def terminate(branch: str | None, production: bool, run_id: str) -> None:
        where, config, _ = _where(flow_cls, branch, production)
        names = Names(config.project, where.namespace)
        sfn = client("stepfunctions")
        with aws_errors(f"terminate {name}/{run_id} in {where.namespace}"):
            arn = execution_arn_for(alias_arn(client, names, name).rsplit(":", 1)[0], run_id)
            try:
                sfn.stop_execution(executionArn=arn, cause="step-functions terminate")
            except sfn.exceptions.ExecutionDoesNotExist:
                raise FlowError(f"no run {run_id} of {name} in namespace {where.namespace}",
                                hint="list its runs: python FLOW.py step-functions list-runs") from None
        _say(console, f"Run {name}/{run_id} terminated on AWS Step Functions.")

    @group.command(help="Delete the flow's deployment (state machine, job definitions, schedule); runs' data stay.")
    @_branch_options
    @_token_options
    @click.option("--dry-run", is_flag=True, help="Print the plan; delete nothing.")
    def delete(branch: str | None, production: bool, authorize: str | None, new_token: str | None,
               generate_new_token: bool, dry_run: bool) -> None:
        for option, given in (("--authorize", authorize), ("--new-token", new_token),
                              ("--generate-new-token", generate_new_token)):
            if given:
                _say(console, TOKEN_NOTE.format(option=option))
        where, config, _ = _where(flow_cls, branch, production)
        plan = delete_flow(config, where.namespace, name, production=where.is_production, dry_run=dry_run)
        print_plan(plan, f"delete {name} from {where.namespace}" + (" (dry run)" if dry_run else ""), console)

    return group


def _trigger_text(graph: FlowGraph, where: Placement) -> str:
    """What starts the deployed flow's runs: its schedule (production only) or people."""
    if graph.schedule and where.is_production:
        cron, zone = graph.schedule["cron"], graph.schedule.get("timezone") or DEFAULT_TIMEZONE
        return f"the schedule cron({eventbridge_cron(str(cron))}) in {zone} (EventBridge Scheduler)"
    manual = "no schedule: start runs with step-functions trigger"
    return manual + (" (@schedule runs only in production: --production)" if graph.schedule else "")


def _executions(arn: str, status: str | None) -> list[dict[str, Any]]:
    paginator = client("stepfunctions").get_paginator("list_executions")
    kwargs = {"stateMachineArn": arn, **({"statusFilter": status} if status else {})}
    return [e for page in paginator.paginate(**kwargs) for e in page.get("executions", [])]


def _time(value: datetime | str) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if isinstance(value, datetime) else str(value)
