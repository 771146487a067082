"""`branchline deploy | trigger | status | logs | teardown | rollback`: flows on AWS Step Functions + Batch.

`cli/main.py` imports this module only when one of its commands runs; boto3 loads when a command calls AWS.
"""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.live import Live

from branchline.aws.deploy import deploy as run_deploy
from branchline.aws.deploy import rollback_flow
from branchline.aws.deploy import teardown as run_teardown
from branchline.aws.deploy.printer import print_plan
from branchline.aws.deploy.project import current_git_sha, load_flows
from branchline.aws.deploy.settings import aws_settings
from branchline.aws.ops.logs import log_lines, log_streams, step_job_ids
from branchline.aws.ops.status import execution_arn_for, execution_status, status_table
from branchline.aws.ops.trigger import alias_arn, parse_params, start_run, typed_params
from branchline.aws.session import aws_errors, client
from branchline.ci.inputs import protect_production_image
from branchline.config import Config, load_config
from branchline.datastore.artifacts import FlowDatastore
from branchline.datastore.storage import storage_from_url
from branchline.errors import BranchlineError, ConfigError, FlowError
from branchline.namespaces import Names, is_production

console = Console(highlight=False)

_NAMESPACE = typer.Option(..., "--namespace", "-n", envvar="BRANCHLINE_NAMESPACE",
                          help="prod, br-<branch> or user-<name>.")
_FLOW = typer.Option(None, "--flow", help="Flow class name (optional when the project has one flow).")
_RUN_ID = typer.Option(None, "--run-id", help="The run (default: the flow's newest execution).")
_EXECUTION_ARN = typer.Option(None, "--execution-arn", help="The Step Functions execution, instead of --run-id.")


def flow_name(config: Config, flow: str | None) -> str:
    if flow:
        return flow
    names = [g.name for _, g in load_flows(config)]
    if len(names) != 1:
        raise FlowError("this project has several flows: say which", hint=f"pass --flow ({', '.join(names)})")
    return names[0]


def _names(config: Config, namespace: str) -> Names:
    return Names(config.project, namespace)


def _execution_arn(config: Config, namespace: str, flow: str | None, run_id: str | None, arn: str | None) -> str:
    if arn:
        return arn
    if not run_id:
        raise BranchlineError("say which run", hint="pass --run-id RUN_ID or --execution-arn ARN")
    machine = alias_arn(client, _names(config, namespace), flow_name(config, flow)).rsplit(":", 1)[0]
    return execution_arn_for(machine, run_id)


def _print_failure(config: Config, namespace: str, execution_arn: str) -> None:
    """Which task failed the run (its run record says; for a foreach item, the Map's own error cannot) and how
    to go on from there."""
    flow, run_id = execution_arn.rsplit(":", 2)[-2:]
    try:
        root = f"{aws_settings(config, namespace).datastore_root}/branchline/{config.project}"
    except ConfigError:
        return
    ds = FlowDatastore(storage_from_url(root, lambda: client("s3")), namespace)
    record = ds.read_run_record(_flow_of_machine(config, namespace, flow), run_id)
    if record is not None and record.failed_task:
        console.print(f"[red]failed task[/] {record.failed_task}", soft_wrap=True)
    console.print(f"resume it from there: branchline resume --execution {execution_arn}", soft_wrap=True)


def _flow_of_machine(config: Config, namespace: str, machine: str) -> str:
    """The flow class whose state machine is named `machine` in this namespace (names are hashed when long)."""
    names = _names(config, namespace)
    return next((g.name for _, g in load_flows(config) if names.state_machine(g.name) == machine), machine)


def register(app: typer.Typer) -> None:
    @app.command(help="Deploy flows to a namespace (job definitions, state machine version, `live` alias).\n\n"
                      "Example: branchline deploy -n br-my-branch --image REPO@sha256:<digest> "
                      "--code-package s3://bucket/branchline/proj/code/<sha>.tgz --dry-run")
    def deploy(
        namespace: str = _NAMESPACE,
        image: str = typer.Option(..., "--image", help="Step image pinned by digest: REPO@sha256:..."),
        code_package: str = typer.Option(..., "--code-package", help="s3:// URL of the code package."),
        flow: list[str] = typer.Option(None, "--flow", help="Deploy only this flow (repeatable)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
        git_sha: str = typer.Option(None, "--git-sha", help="Commit to record (default: GITHUB_SHA or HEAD)."),
        full: bool = typer.Option(False, "--full", help="Read everything of the namespace, even when its alias "
                                  "records that this exact deploy is in place (repairs changes made by hand)."),
    ) -> None:
        config = load_config()
        if is_production(namespace) and not dry_run:  # checked, then tagged prod-<sha> (branchline.images)
            protect_production_image(config, image, git_sha or current_git_sha(config.root),
                                     lambda line: console.print(line, markup=False))
        result = run_deploy(config, namespace, image=image, code_package=code_package,
                            flows=flow or None, dry_run=dry_run, git_sha=git_sha, full=full)
        print_plan(result.plan, f"deploy {namespace}" + (" (dry run: nothing changed)" if dry_run else ""), console)
        for name, alias in sorted(result.state_machines.items()):
            console.print(f"{name}: {alias}")

    @app.command(help="Start a run of a deployed flow (through its `live` alias); prints the execution ARN.\n\n"
                      "Example: branchline trigger -n br-my-branch --flow TrainFlow -p alpha=0.3")
    def trigger(
        namespace: str = _NAMESPACE,
        flow: str = _FLOW,
        param: list[str] = typer.Option(None, "--param", "-p", help="NAME=VALUE (repeatable)."),
        run_id: str = typer.Option(None, "--run-id", help="Execution name (default: a sortable new id)."),
    ) -> None:
        config = load_config()
        name = flow_name(config, flow)
        graph = load_flows(config, [name])[0][1]
        params = typed_params(graph, parse_params(param or []))
        with aws_errors(f"trigger {name} in {namespace}"):
            arn = start_run(client, _names(config, namespace), name, params, run_id)
        console.print(arn, soft_wrap=True)

    @app.command(help="Show a run's steps, their Batch job ids and statuses (--watch to follow it).\n\n"
                      "Example: branchline status -n br-my-branch --flow TrainFlow --watch")
    def status(
        namespace: str = _NAMESPACE,
        flow: str = _FLOW,
        run_id: str = _RUN_ID,
        execution_arn: str = _EXECUTION_ARN,
        watch: bool = typer.Option(False, "--watch", help="Refresh until the run ends."),
        interval: float = typer.Option(5.0, "--interval", help="Seconds between refreshes with --watch."),
    ) -> None:
        config = load_config()
        with aws_errors(f"status in {namespace}"):
            arn = _execution_arn(config, namespace, flow, run_id, execution_arn)
            current = execution_status(client, arn)
            if not watch:
                console.print(status_table(current))
            else:
                with Live(status_table(current), console=console, refresh_per_second=4) as live:
                    while current.status == "RUNNING":
                        time.sleep(interval)
                        current = execution_status(client, arn)
                        live.update(status_table(current))
            if current.status in ("FAILED", "TIMED_OUT", "ABORTED"):
                _print_failure(config, namespace, arn)

    @app.command(help="Print the CloudWatch logs of a step's Batch jobs in a run.\n\n"
                      "Example: branchline logs -n br-my-branch --flow TrainFlow --step train")
    def logs(
        namespace: str = _NAMESPACE,
        step: str = typer.Option(..., "--step", help="The step whose jobs' logs to print."),
        flow: str = _FLOW,
        run_id: str = _RUN_ID,
        execution_arn: str = _EXECUTION_ARN,
    ) -> None:
        config = load_config()
        with aws_errors(f"logs of {step} in {namespace}"):
            arn = _execution_arn(config, namespace, flow, run_id, execution_arn)
            for job_id, stream in log_streams(client, step_job_ids(client, arn, step)):
                console.print(f"[dim]── job {job_id} · {stream}[/]")
                for line in log_lines(client, stream):
                    console.print(line, markup=False, soft_wrap=True)

    @app.command(help="Delete everything of a namespace (state machines, job definitions, schedules, data).\n\n"
                      "Example: branchline teardown -n br-my-branch --dry-run")
    def teardown(
        namespace: str = _NAMESPACE,
        production: bool = typer.Option(False, "--production", help="Required to tear down `prod`."),
        keep_data: bool = typer.Option(False, "--keep-data", help="Keep the namespace's S3 prefix."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; delete nothing."),
    ) -> None:
        plan = run_teardown(load_config(), namespace, production=production, keep_data=keep_data, dry_run=dry_run)
        print_plan(plan, f"teardown {namespace}" + (" (dry run: nothing deleted)" if dry_run else ""), console)

    @app.command(help="Point a flow's `live` alias back at its previous version (or --to-version N).\n\n"
                      "Example: branchline rollback -n prod --flow TrainFlow --dry-run")
    def rollback(
        namespace: str = _NAMESPACE,
        flow: str = _FLOW,
        to_version: int = typer.Option(None, "--to-version", min=1, help="The state machine version to point at."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
    ) -> None:
        config = load_config()
        planned = rollback_flow(config, namespace, flow_name(config, flow), to_version=to_version, dry_run=dry_run)
        print_plan(planned.plan, f"rollback {namespace}" + (" (dry run)" if dry_run else ""), console)
