"""Observe → plan → (print | execute) for a set of desired flows of one namespace."""

from __future__ import annotations

from collections.abc import Sequence

from branchline.aws.deploy.executor import Executor
from branchline.aws.deploy.models import DesiredFlow, FlowDeployResult, ObservedFlow
from branchline.aws.deploy.observe import Scope, deployed_marker, observe_flow, scope_of
from branchline.aws.deploy.planner import is_current, plan_deploy
from branchline.namespaces import Names


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
    triples: list[tuple[DesiredFlow, ObservedFlow, str | None]] = []
    aliases = {}
    for flow in desired:
        aliases[flow.flow] = alias_arn = f"{scope.state_machine_arn(flow.state_machine_name)}:{flow.alias}"
        marker = deployed_marker(executor.clients, alias_arn)
        if not full and is_current(flow, marker):
            continue
        triples.append((flow, observe_flow(executor.clients, scope, names, flow), marker))
    result = FlowDeployResult(names.namespace, plan_deploy(triples), executed=False, state_machines=aliases)
    if not dry_run:
        executor.execute(result.plan)
        result.executed = True
    return result
