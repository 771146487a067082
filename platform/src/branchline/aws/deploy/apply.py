"""Observe → plan → (print | execute) for a set of desired flows of one namespace."""

from __future__ import annotations

from collections.abc import Sequence

from branchline.aws.deploy.executor import AfterCall, ClientFactory, Executor
from branchline.aws.deploy.models import DeployResult, DesiredFlow
from branchline.aws.deploy.observe import observe_flows
from branchline.aws.deploy.planner import plan_deploy
from branchline.namespaces import Names


def apply_desired(
    names: Names,
    desired: Sequence[DesiredFlow],
    *,
    dry_run: bool = False,
    clients: ClientFactory | None = None,
    after_call: Sequence[AfterCall] = (),
) -> DeployResult:
    """Make AWS match `desired` (or, with `dry_run`, only say how); returns the plan and alias ARNs."""
    if clients is None:
        from branchline.aws.session import client as clients
    observed = observe_flows(clients, names, [d.flow for d in desired])
    plan = plan_deploy((d, observed[d.flow]) for d in desired)
    result = DeployResult(names.namespace, plan, executed=False)
    if not dry_run:
        executor = Executor(clients, after_call)
        executor.execute(plan)
        result.executed = True
    for flow in desired:
        sm = observed[flow.flow].state_machine
        if sm is not None:
            result.state_machines[flow.flow] = f"{sm.arn}:{flow.alias}"
        elif result.executed:
            result.state_machines[flow.flow] = f"{executor.variables[f'sm:{flow.state_machine_name}']}:{flow.alias}"
    return result
