"""`branchline resume`: a failed run again from where it failed, locally (`resume FLOW_FILE`, the same as
`python FLOW_FILE resume`) or on AWS (`resume --execution ARN|RUN_ID`, `branchline.aws.ops.resume`).

Its own module because the AWS half loads the deployer, which `branchline run` must not.
"""

from __future__ import annotations

from pathlib import Path

import typer

from branchline.aws.deploy.observe import scope_of
from branchline.aws.deploy.settings import aws_settings
from branchline.aws.ops.resume import resume_execution
from branchline.aws.ops.status import execution_arn_for
from branchline.aws.session import aws_errors, client
from branchline.cli.cmd_aws import console, flow_name
from branchline.cli.cmd_run import PASS_THROUGH, flow_main, help_if_asked
from branchline.config import load_config
from branchline.errors import BranchlineError, FlowError
from branchline.namespaces import Names
from branchline.tracking.runs import record_resume


def rerun_steps(args: list[str]) -> list[str]:
    """The `--step S` options among pass-through arguments (re-run from S even if it succeeded)."""
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--step"]


def resume_execution_command(
    execution: str, *, namespace: str | None, flow: str | None, run_id: str | None, dry_run: bool,
    rerun: tuple[str, ...] = (),
) -> None:
    """`branchline resume --execution`: a failed run on AWS, started again from where it failed."""
    config = load_config()
    with aws_errors(f"resume of {execution}"):
        arn = execution
        if not execution.startswith("arn:"):
            if not namespace:
                raise BranchlineError(f"--execution {execution} is a run id: say in which namespace",
                                      hint="add --namespace NS, or pass the execution's ARN")
            machine = Names(config.project, namespace).state_machine(flow_name(config, flow))
            arn = execution_arn_for(scope_of(client).state_machine_arn(machine), execution)
        resumed = resume_execution(
            client, arn, settings=lambda ns: aws_settings(config, ns), run_id=run_id, rerun=rerun, dry_run=dry_run,
            record_tracking=lambda ds, run, reused: record_resume(
                ds, run.to_json(), config.project, [r.to_json() for r in reused]),
        )
    origin = resumed.origin
    again = ", ".join(f"{step}/{task} ({count} item(s))" for (step, task), count in sorted(resumed.items.items()))
    console.print(f"{'would resume' if dry_run else 'resuming'} {origin.flow}/{origin.run_id} as "
                  f"{origin.flow}/{resumed.run_id} in {origin.namespace}: {len(resumed.plan.reused)} task(s) reused"
                  + (f"; foreach items run again: {again}" if again else ""))
    if resumed.execution_arn:
        console.print(resumed.execution_arn, soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command(context_settings=PASS_THROUGH, help="Resume a failed run: branchline resume flows/x.py [RUN_ID] "
                 "[--step S]; on AWS: branchline resume --execution ARN|RUN_ID [-n NS] [--run-id NEW] [--dry-run].\n\n"
                 "Example: branchline resume flows/train_flow.py --step train")
    def resume(
        ctx: typer.Context,
        flow_file: Path = typer.Argument(None, metavar="[FLOW_FILE]", help="The flow's .py file (a local run)."),
        flow: str = typer.Option(None, "--flow", help="Flow class, when the file (or project) defines several."),
        execution: str = typer.Option(None, "--execution", help="A failed Step Functions execution: its ARN, or its "
                                      "run id with --namespace."),
        namespace: str = typer.Option(None, "--namespace", "-n", help="With --execution RUN_ID: its namespace."),
        run_id: str = typer.Option(None, "--run-id", help="With --execution: the new run's id."),
        dry_run: bool = typer.Option(False, "--dry-run", help="With --execution: say what would run; start nothing."),
    ) -> None:
        help_if_asked(ctx, flow_file)
        if execution:
            resume_execution_command(execution, namespace=namespace, flow=flow, run_id=run_id, dry_run=dry_run,
                                     rerun=tuple(rerun_steps(ctx.args)))
            return
        if flow_file is None:
            raise FlowError("say which run to resume", hint="branchline resume flows/x.py [RUN_ID] (a local run), or "
                            "branchline resume --execution ARN (a run on AWS)")
        flow_main(flow_file, flow, "resume", ctx.args)
