"""Observe → plan → (print | execute) for a set of desired flows of one namespace.

Before any call that publishes a state machine version, the job definition revisions its definition names are
read back and must be ACTIVE: a version that points at a deregistered revision would fail at its first task.
Under the namespace lock nothing else deregisters them; the check is what catches a writer that bypassed it
(a person, an old platform version), and the deploy then plans again from what exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from branchline.aws.deploy.executor import Executor
from branchline.aws.deploy.models import DesiredFlow, FlowDeployResult, ObservedFlow, Plan, resolve
from branchline.aws.deploy.observe import Scope, deployed_marker, observe_flow, scope_of
from branchline.aws.deploy.planner import is_current, job_definition_arns, plan_deploy
from branchline.aws.session import ClientFactory
from branchline.errors import BranchlineError
from branchline.namespaces import Names

PUBLISHING = frozenset({"create_state_machine", "update_state_machine", "publish_state_machine_version"})
REPLANS = 1


class InactiveJobDefinition(BranchlineError):
    """A state machine version would name a job definition revision that is no longer ACTIVE."""


def inactive_job_definitions(clients: ClientFactory, arns: set[str]) -> dict[str, str]:
    """ARN → status of each of `arns` that is not ACTIVE (missing ones count as `MISSING`)."""
    if not arns:
        return {}
    found: dict[str, str] = {}
    for page in clients("batch").get_paginator("describe_job_definitions").paginate(jobDefinitions=sorted(arns)):
        found |= {jd["jobDefinitionArn"]: jd.get("status", "") for jd in page.get("jobDefinitions", [])}
    return {arn: found.get(arn, "MISSING") for arn in sorted(arns) if found.get(arn) != "ACTIVE"}


def _execute_checked(plan: Plan, executor: Executor, current_definitions: dict[str, str]) -> None:
    """Run the plan; before each publishing call, check that the revisions it names are ACTIVE."""
    for call in plan.calls:
        if call.service == "stepfunctions" and call.operation in PUBLISHING:
            definition = call.params.get("definition")
            text = (str(resolve(definition, executor.variables)) if definition is not None
                    else current_definitions.get(str(call.params.get("stateMachineArn")), ""))
            bad = inactive_job_definitions(executor.clients, job_definition_arns(text))
            if bad:
                listed = ", ".join(f"{arn.rsplit('/', 1)[-1]} ({status})" for arn, status in bad.items())
                raise InactiveJobDefinition(
                    f"not publishing {call.resource}: it would run job definitions that are not ACTIVE: {listed}",
                    hint="another writer deregistered them outside the namespace lock; re-run the deploy")
        executor.run(call)


def _observe(
    names: Names, desired: Sequence[DesiredFlow], executor: Executor, scope: Scope, full: bool
) -> tuple[dict[str, str], list[tuple[DesiredFlow, ObservedFlow, str | None]]]:
    """flow → live alias ARN, and (desired, observed, marker) for each flow that is not already current."""
    aliases: dict[str, str] = {}
    triples: list[tuple[DesiredFlow, ObservedFlow, str | None]] = []
    for flow in desired:
        aliases[flow.flow] = alias_arn = f"{scope.state_machine_arn(flow.state_machine_name)}:{flow.alias}"
        marker = deployed_marker(executor.clients, alias_arn)
        if not full and is_current(flow, marker):
            continue
        triples.append((flow, observe_flow(executor.clients, scope, names, flow), marker))
    return aliases, triples


def apply_desired(
    names: Names,
    desired: Sequence[DesiredFlow],
    *,
    dry_run: bool = False,
    executor: Executor | None = None,
    scope: Scope | None = None,
    full: bool = False,
) -> FlowDeployResult:
    """Make AWS match `desired` (or, with `dry_run`, only say how); returns the plan and alias ARNs.

    A flow whose `live` alias records that exactly this was deployed is not observed further (one read),
    unless `full`: then everything of it is read and compared (drift made by hand is repaired). What exists
    is read through the executor's clients, so a test's executor sees the same account.
    """
    executor = executor or Executor()
    scope = scope or scope_of(executor.clients)
    replans = 0
    while True:
        aliases, triples = _observe(names, desired, executor, scope, full)
        result = FlowDeployResult(names.namespace, plan_deploy(triples), executed=False, state_machines=aliases)
        if dry_run:
            return result
        current = {o.state_machine.arn: o.state_machine.definition for _, o, _ in triples if o.state_machine}
        try:
            _execute_checked(result.plan, executor, current)
        except InactiveJobDefinition:
            replans += 1
            if replans > REPLANS:
                raise
            full = True  # plan again from everything that exists, not from the alias's marker
            continue
        result.executed = True
        return result
