"""Observe → plan → (print | execute) for a set of desired flows of one namespace.

Before any call that publishes a state machine version, the job definition revisions its definition names are
read back and must be ACTIVE: a version that points at a deregistered revision would fail at its first task.
Under the namespace lock nothing else deregisters them; the check is what catches a writer that bypassed it
(a person, an old platform version), and the deploy then plans again from what exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from branchline.aws.deploy.executor import Executor
from branchline.aws.deploy.models import DesiredFlow, FlowDeployResult, Plan, resolve
from branchline.aws.deploy.observe import observe_flows
from branchline.aws.deploy.planner import job_definition_arns, plan_deploy
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


def apply_desired(
    names: Names, desired: Sequence[DesiredFlow], *, dry_run: bool = False, executor: Executor | None = None
) -> FlowDeployResult:
    """Make AWS match `desired` (or, with `dry_run`, only say how); returns the plan and alias ARNs.

    What exists is read through the executor's clients, so a test's executor sees the same account.
    """
    executor = executor or Executor()
    for attempt in range(REPLANS + 1):
        observed = observe_flows(executor.clients, names, [d.flow for d in desired])
        plan = plan_deploy((d, observed[d.flow]) for d in desired)
        result = FlowDeployResult(names.namespace, plan, executed=False)
        if dry_run:
            break
        current = {o.state_machine.arn: o.state_machine.definition for o in observed.values() if o.state_machine}
        try:
            _execute_checked(plan, executor, current)
        except InactiveJobDefinition:
            if attempt == REPLANS:
                raise
            continue
        result.executed = True
        break
    for flow in desired:
        sm = observed[flow.flow].state_machine
        if sm is not None:
            result.state_machines[flow.flow] = f"{sm.arn}:{flow.alias}"
        elif result.executed:
            result.state_machines[flow.flow] = f"{executor.variables[f'sm:{flow.state_machine_name}']}:{flow.alias}"
    return result
