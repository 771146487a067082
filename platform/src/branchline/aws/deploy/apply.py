"""Observe → plan → (print | execute) for a set of desired flows of one namespace."""

from __future__ import annotations

from collections.abc import Sequence

from branchline.aws.deploy.executor import Executor
from branchline.aws.deploy.models import DesiredFlow, FlowDeployResult
from branchline.aws.deploy.observe import observe_flows
from branchline.aws.deploy.planner import plan_deploy
from branchline.namespaces import Names


def apply_desired(
    names: Names, desired: Sequence[DesiredFlow], *, dry_run: bool = False, executor: Executor | None = None
) -> FlowDeployResult:
    """Make AWS match `desired` (or, with `dry_run`, only say how); returns the plan and alias ARNs.

    What exists is read through the executor's clients, so a test's executor sees the same account.
    """
    executor = executor or Executor()
    observed = observe_flows(executor.clients, names, [d.flow for d in desired])
    plan = plan_deploy((d, observed[d.flow]) for d in desired)
    result = FlowDeployResult(names.namespace, plan, executed=False)
    if not dry_run:
        executor.execute(plan)
        result.executed = True
    for flow in desired:
        sm = observed[flow.flow].state_machine
        if sm is not None:
            result.state_machines[flow.flow] = f"{sm.arn}:{flow.alias}"
        elif result.executed:
            result.state_machines[flow.flow] = f"{executor.variables[f'sm:{flow.state_machine_name}']}:{flow.alias}"
    return result
